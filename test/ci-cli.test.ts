/**
 * What a CI step runs, end to end against a real PostgreSQL: `lint` and `verify` with `--format github|gitlab`,
 * and `status --exit-code` as a deploy gate. The reporters' escaping and fields are unit-tested in
 * test/cli/reporters.test.ts; here: the streams, the exit codes, and that the documents are what CI reads.
 */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from './helpers/db.js';
import { makeProject, runCli } from './helpers/project.js';

const db = useTestDatabase('ci_cli', { resetEach: true });

const FILES = {
  'migrations/001_users.sql': 'create table users (id bigint primary key, name text);\n',
  'rollback/001_users_rollback.sql': 'drop table users;\n',
  'migrations/002_index.sql': '\ncreate index users_name_idx on users (name);\n',
};

function cli(dir: string, args: string[], env: Record<string, string | undefined> = {}) {
  return runCli(args, { cwd: dir, env: { DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false', ...env } });
}

describe('migrate lint --format', () => {
  it('github: one ::error workflow command per finding on stdout, the summary on stderr, exit 1', async () => {
    const dir = makeProject(FILES);
    const result = await runCli(['lint', '--format', 'github'], { cwd: dir });
    expect(result.code).toBe(1);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines.every((l) => /^::(error|warning) /.test(l))).toBe(true);
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^::error file=migrations\/002_index\.sql,line=2,col=1,title=tidemark lint%3A require-concurrent-index-creation::.+%0Ahelp: /,
      ),
    );
    expect(result.stderr).toMatch(/2 files linted \(offline, PostgreSQL 15\): 1 error/);
  });

  it('gitlab: a Code Quality JSON array on stdout and nothing else', async () => {
    const dir = makeProject(FILES);
    const result = await runCli(['lint', '--format', 'gitlab'], { cwd: dir });
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(Array.isArray(report)).toBe(true);
    expect(report).toContainEqual({
      description: expect.stringContaining('Help: '),
      check_name: 'tidemark-lint/require-concurrent-index-creation',
      fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/),
      severity: 'major',
      location: { path: 'migrations/002_index.sql', lines: { begin: 2 } },
    });
  });

  it('gitlab with nothing to report is an empty array and exit 0', async () => {
    const dir = makeProject({ 'migrations/001_users.sql': FILES['migrations/001_users.sql'] });
    const result = await runCli(['lint', '--format', 'gitlab'], { cwd: dir });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([]);
  });

  it('--format json is --json; --json with --format github and an unknown format are usage errors (exit 2)', async () => {
    const dir = makeProject(FILES);
    const viaFormat = await runCli(['lint', '--format', 'json'], { cwd: dir });
    const viaFlag = await runCli(['lint', '--json'], { cwd: dir });
    expect(viaFormat.code).toBe(1);
    expect(JSON.parse(viaFormat.stdout)).toEqual(JSON.parse(viaFlag.stdout));
    const conflict = await runCli(['lint', '--json', '--format', 'github'], { cwd: dir });
    expect(conflict.code).toBe(2);
    expect(JSON.parse(conflict.stdout).error.code).toBe('format-conflict');
    const unknown = await runCli(['lint', '--format', 'sarif'], { cwd: dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/text, json, github, gitlab/);
  });
});

describe('migrate verify --format', () => {
  it('github: annotations on the migration files, exit 1 on an error', async () => {
    const dir = makeProject({
      ...FILES,
      'migrations/002_index.sql': 'create index concurrently users_name_idx on users (name);\n',
    });
    expect((await cli(dir, ['up', '--to', '1'])).code).toBe(0);
    const result = await cli(dir, ['verify', '--format', 'github']);
    expect(result.code).toBe(1);
    expect(result.stdout.trimEnd().split('\n')).toEqual([
      expect.stringMatching(
        /^::error file=migrations\/002_index\.sql,title=tidemark verify%3A rollback-missing::002_index has no rollback file\./,
      ),
      expect.stringMatching(/^::warning file=migrations\/002_index\.sql,title=tidemark verify%3A pending::/),
    ]);
    expect(result.stderr).toMatch(/Verified 2 migrations: 1 error, 1 warning/);
  });

  it('gitlab: a Code Quality issue per finding, a missing file on the migrations folder', async () => {
    const dir = makeProject(FILES);
    expect((await cli(dir, ['up', '--skip-lint', '--to', '1'])).code).toBe(0);
    await db.query(`insert into schema_migrations (version, name, checksum) values ('000', 'gone', 'abc')`);
    const result = await cli(dir, ['verify', '--allow-missing-rollback', '--format', 'gitlab']);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as { check_name: string; severity: string; location: { path: string } }[];
    expect(report.map((i) => [i.check_name, i.severity, i.location.path])).toEqual([
      ['tidemark-verify/file-missing', 'major', 'migrations'],
      ['tidemark-verify/pending', 'minor', 'migrations/002_index.sql'],
      ['tidemark-verify/rollback-missing', 'minor', 'migrations/002_index.sql'],
    ]);
  });
});

describe('migrate status --exit-code', () => {
  it('exits 1 while a migration is pending (saying why on stderr) and 0 once everything ran; without the flag always 0', async () => {
    const dir = makeProject(FILES);
    expect((await cli(dir, ['up', '--to', '1'])).code).toBe(0);
    const pending = await cli(dir, ['status', '--exit-code']);
    expect(pending.code).toBe(1);
    expect(pending.stdout).toMatch(/002\s+index\s+pending/);
    expect(pending.stderr).toMatch(/1 migration not run yet \(pending or dirty\): exit 1 \(--exit-code\)/);
    expect((await cli(dir, ['status'])).code).toBe(0);
    const json = await cli(dir, ['status', '--exit-code', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).migrations.map((m: { state: string }) => m.state)).toEqual(['applied', 'pending']);
    expect((await cli(dir, ['up', '--skip-lint'])).code).toBe(0);
    const done = await cli(dir, ['status', '--exit-code']);
    expect(done.code).toBe(0);
    expect(done.stderr).not.toMatch(/not run yet/);
  });

  it('exits 1 for a dirty migration and for an empty database with files', async () => {
    const dir = makeProject(FILES);
    expect((await cli(dir, ['status', '--exit-code'])).code).toBe(1);
    expect((await cli(dir, ['up', '--skip-lint'])).code).toBe(0);
    await db.query(`update schema_migrations set dirty = true where version = '002'`);
    const dirty = await cli(dir, ['status', '--exit-code', '--json']);
    expect(dirty.code).toBe(1);
    expect(JSON.parse(dirty.stdout).migrations[1].state).toBe('dirty');
  });
});
