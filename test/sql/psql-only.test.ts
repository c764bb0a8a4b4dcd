/** psql-only input in a migration: named where PostgreSQL would only say "syntax error at or near ...". */
import { describe, expect, it } from 'vitest';
import { psqlOnlyInput } from '../../src/sql/psql-only.js';
import { makeProject, runCli } from '../helpers/project.js';

const DUMP = 'create table t (id bigint, v text);\nCOPY public.t (id, v) FROM stdin;\n1\thello\n\\.\n';

describe('psqlOnlyInput', () => {
  it('names a backslash meta-command and the rows of COPY FROM stdin, and nothing in plain SQL', () => {
    expect(psqlOnlyInput('select 1;\n  \\i other.sql\n', 2)).toMatch(/^Line 2 is a psql meta-command \(\\i\)/);
    expect(psqlOnlyInput(DUMP, 3)).toMatch(/^COPY \.\.\. FROM stdin takes its rows from psql.*INSERT/);
    expect(psqlOnlyInput('create tabel t (id bigint);\n', 1)).toBeUndefined();
    expect(psqlOnlyInput("copy t from '/tmp/x.csv';\nselect 1 1;\n", 2)).toBeUndefined();
  });

  it('is the help of the lint finding, offline', async () => {
    const dir = makeProject({ 'migrations/001_dump.sql': DUMP, 'migrations/002_meta.sql': '\\set x 1\nselect 1;\n' });
    const result = await runCli(['lint', '--offline', '--all', '--json'], { cwd: dir });
    const findings = JSON.parse(result.stdout).findings as { file: string; rule: string; help: string }[];
    expect(findings.map((f) => [f.file, f.rule])).toEqual([
      ['migrations/001_dump.sql', 'syntax-error'],
      ['migrations/002_meta.sql', 'syntax-error'],
    ]);
    expect(findings[0]!.help).toMatch(/COPY \.\.\. FROM stdin/);
    expect(findings[1]!.help).toMatch(/psql meta-command \(\\set\)/);
  });
});
