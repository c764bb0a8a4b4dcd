/**
 * The repository's own example migrations (migrations/, rollback/) pass tidemark's lint in every direction
 * (issue 10): offline, and connected with every lock/rewrite finding judged as on a big table
 * (LINT_SIZE_THRESHOLD=0): up over existing tables, down through every rollback, and up again after a down.
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from './helpers/db.js';
import { ROOT, makeProject, runCli } from './helpers/project.js';

const db = useTestDatabase('examples');

function exampleProject(): string {
  const dir = makeProject();
  for (const folder of ['migrations', 'rollback', 'seeds'])
    cpSync(join(ROOT, folder), join(dir, folder), { recursive: true });
  return dir;
}

describe('the example migrations', () => {
  it('have no lint error offline', async () => {
    const result = await runCli(['lint', '--all', '--json'], { cwd: exampleProject() });
    expect(result.code, result.stdout).toBe(0);
    expect(JSON.parse(result.stdout).findings.filter((f: { severity: string }) => f.severity === 'error')).toEqual([]);
  });

  it('pass the lint before up, down and up again, judged as on big tables', async () => {
    const dir = exampleProject();
    const env = { DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false', LINT_SIZE_THRESHOLD: '0' };
    const cli = (args: string[]) => runCli(args, { cwd: dir, env });
    expect((await cli(['up', '--to', '1'])).code).toBe(0);
    const up = await cli(['up', '--json']);
    expect(up.code, up.stderr).toBe(0);
    expect(JSON.parse(up.stdout).lint.skipped).toBeNull();
    const down = await cli(['down', '--to', '1', '--json']);
    expect(down.code, down.stderr).toBe(0);
    expect(JSON.parse(down.stdout).lint.findings.filter((f: { severity: string }) => f.severity === 'error')).toEqual(
      [],
    );
    const again = await cli(['up']);
    expect(again.code, again.stderr).toBe(0);
    const all = await cli(['down', '--all']);
    expect(all.code, all.stderr).toBe(0);
  });
});
