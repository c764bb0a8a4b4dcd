/** A migration too large to parse is reported as not linted (a warning), with the memory bounded, not a crash. */
import { describe, expect, it } from 'vitest';
import { lintFiles } from '../../src/sql/lint/index.js';
import { lockReportForFiles } from '../../src/sql/locks.js';
import { MAX_PARSE_CHARS } from '../../src/sql/parser.js';

const row = "insert into t values (1, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');\n";

function file(text: string) {
  return {
    displayPath: 'migrations/001_load.sql',
    text,
    empty: false,
    directives: { noTransaction: false, phase: undefined, allow: [] },
  };
}

describe('a migration too large to lint', () => {
  it('is one warning saying it was not checked, and the lock report lists no statement for it', async () => {
    const big = file(row.repeat(Math.ceil((MAX_PARSE_CHARS + 1) / row.length)));
    const findings = await lintFiles([big], { pgVersion: 150000 });
    expect(findings).toEqual([
      expect.objectContaining({
        rule: 'too-large-to-lint',
        severity: 'warning',
        line: 1,
        message: expect.stringMatching(/^not linted: 2(\.\d)? MB is more than the lint reads \(2 MB\)/),
      }),
    ]);
    expect(await lockReportForFiles([big], { pgVersion: 150000 })).toEqual([
      { file: 'migrations/001_load.sql', statements: [] },
    ]);
  });

  it('just under the limit is linted as usual', async () => {
    const text =
      'create table t (id bigint primary key, v text);\n' +
      row.repeat(Math.floor((MAX_PARSE_CHARS - 100) / row.length));
    const findings = await lintFiles([file(text)], { pgVersion: 150000 });
    expect(findings.map((f) => f.rule)).not.toContain('too-large-to-lint');
  });
});
