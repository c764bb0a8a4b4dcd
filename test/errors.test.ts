/** The error catalogue: one table of codes, the exit codes it fixes, and the page generated from it. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module script without declarations (scripts/ is not compiled)
import { renderErrorsDoc } from '../scripts/errors-doc.mjs';
import { ERROR_CODES, type ErrorCode } from '../src/error-codes.js';
import { EXIT, MigrateError, exitCodeOf, interruptedError, usageError } from '../src/errors.js';
import { ROOT } from './helpers/project.js';

describe('the error catalogue', () => {
  it('docs/errors.md is what `npm run docs:errors` writes from the catalogue (run it after changing a code)', () => {
    const onDisk = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
    expect(onDisk).toBe((renderErrorsDoc as (codes: typeof ERROR_CODES) => string)(ERROR_CODES));
  });

  it('has kebab-case codes, each with a one-sentence meaning', () => {
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
      expect(spec.meaning).toMatch(/^\S.*[.)]$/);
    }
  });

  it('gives every code a heading in docs/errors.md, which is the anchor MigrateError.docs points at', () => {
    const page = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      expect(page).toContain(`### \`${code}\``);
      expect(new MigrateError(code, 'x').docs).toBe(`docs/errors.md#${code}`);
    }
  });

  it('takes the exit code from the table, not from the place that throws', () => {
    expect(new MigrateError('db-not-found', 'x').exitCode).toBe(EXIT.unavailable);
    expect(usageError('bad-settings', 'x').exitCode).toBe(EXIT.usage);
    expect(new MigrateError('migration-failed', 'x').exitCode).toBe(EXIT.failed);
    expect(interruptedError('SIGTERM', 'x')).toMatchObject({
      code: 'interrupted',
      exitCode: EXIT.sigterm,
      signal: 'SIGTERM',
    });
    expect(interruptedError('SIGINT', 'x').exitCode).toBe(EXIT.sigint);
    expect(exitCodeOf('lint-blocked')).toBe(EXIT.failed);
  });

  it('keeps the two lock waits apart: the runner lock and a table lock inside a migration', () => {
    expect(ERROR_CODES['runner-lock-timeout'].meaning).toMatch(/runner lock/);
    expect(ERROR_CODES['lock-timeout'].meaning).toMatch(/table lock/);
  });

  it('refuses a code outside the table at compile time (npx tsc checks this file)', () => {
    // @ts-expect-error: not a catalogued code
    const error = new MigrateError('no-such-code', 'x');
    expect(error).toBeInstanceOf(MigrateError);
  });
});
