/** The lint as the CLI runs it: `migrate lint`, the check before `up`, the production guard, the lock report. */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../helpers/db.js';
import { makeProject, runCli } from '../../helpers/project.js';

const db = useTestDatabase('lint_cli', { resetEach: true });

const BASE = { 'migrations/001_users.sql': 'create table users (id bigint primary key, name text);\n' };
const RISKY = { ...BASE, 'migrations/002_index.sql': 'create index users_name_idx on users (name);\n' };

function cli(dir: string, args: string[], env: Record<string, string | undefined> = {}) {
  // LINT_SIZE_THRESHOLD=0: the tables here are tiny, and these tests are about a refusal as on a big one.
  return runCli(args, {
    cwd: dir,
    env: { DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false', LINT_SIZE_THRESHOLD: '0', ...env },
  });
}

async function applied(): Promise<string[]> {
  return (await db.query<{ version: string }>('select version from schema_migrations order by version')).map(
    (r) => r.version,
  );
}

describe('migrate lint', () => {
  it('works offline, prints findings as JSON per the contract, and exits 1 on an error', async () => {
    const dir = makeProject(RISKY);
    const result = await runCli(['lint', '--json'], { cwd: dir });
    expect(result.code).toBe(1);
    const doc = JSON.parse(result.stdout);
    const finding = doc.findings.find((f: { rule: string }) => f.rule === 'require-concurrent-index-creation');
    expect(finding).toMatchObject({
      file: 'migrations/002_index.sql',
      line: 1,
      column: 1,
      severity: 'error',
      lock: 'SHARE',
      table: 'public.users',
    });
    expect(Object.keys(finding)).toEqual(
      expect.arrayContaining(['file', 'line', 'column', 'rule', 'severity', 'message', 'help', 'lock', 'table']),
    );
  });

  it('lints only pending migrations when connected, and exits 0 when they are clean', async () => {
    const dir = makeProject(RISKY);
    expect((await cli(dir, ['up', '--skip-lint'])).code).toBe(0);
    const result = await cli(dir, ['lint', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ findings: [], files: [], mode: 'database' });
  });

  it('reports a file that does not parse with file:line:col', async () => {
    const dir = makeProject({
      'migrations/001_bad.sql': 'create table t (id int);\nalter tabel t add column x int;\n',
    });
    const result = await runCli(['lint', '--json'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout).findings[0]).toMatchObject({ rule: 'syntax-error', line: 2 });
  });
});

describe('the lint before up', () => {
  it('refuses unacknowledged errors on a database with tables, running nothing (exit 1)', async () => {
    const dir = makeProject(RISKY);
    expect((await cli(dir, ['up', '--to', '1'])).code).toBe(0);
    const result = await cli(dir, ['up']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/migrations\/002_index\.sql:1:1 require-concurrent-index-creation/);
    expect(result.stderr).toMatch(/--skip-lint/);
    expect(result.stderr).toContain('Apply the safe alternative (migrate lint shows it)');
    expect(await applied()).toEqual(['001']);
  });

  it('runs with --skip-lint and says so in --json', async () => {
    const dir = makeProject(RISKY);
    expect((await cli(dir, ['up', '--to', '1'])).code).toBe(0);
    const result = await cli(dir, ['up', '--skip-lint', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).lint).toEqual({ skipped: '--skip-lint', findings: [] });
  });

  it('accepts a finding acknowledged with -- migrate:allow RULE -- reason', async () => {
    const dir = makeProject({
      ...BASE,
      'migrations/002_index.sql':
        '-- migrate:allow require-concurrent-index-creation -- users is tiny, built in 1 ms\ncreate index users_name_idx on users (name);\n',
    });
    expect((await cli(dir, ['up', '--to', '1'])).code).toBe(0);
    const result = await cli(dir, ['up', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const lint = JSON.parse(result.stdout).lint;
    expect(lint.findings[0]).toMatchObject({
      rule: 'require-concurrent-index-creation',
      acknowledged: { reason: 'users is tiny, built in 1 ms', line: 1 },
    });
  });

  it('skips the lint on an empty database, and says why', async () => {
    const dir = makeProject(RISKY);
    const result = await cli(dir, ['up', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).lint.skipped).toBe('the database has no tables yet');
  });
});

describe('the production guard', () => {
  const production = { MIGRATE_ENV: 'production', BACKUP_BEFORE_MIGRATE: 'true' };

  it('refuses DDL unless ALLOW_DDL_IN_PRODUCTION=true, naming the setting', async () => {
    const dir = makeProject(BASE);
    const refused = await cli(dir, ['up'], production);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /migrate up: refusing to run DDL in production: migrations\/001_users\.sql \(CREATE TABLE\)/,
    );
    expect(refused.stderr).toMatch(/ALLOW_DDL_IN_PRODUCTION=true/);
    expect(refused.stderr).toContain('(migrate lint --locks shows what each statement locks)');
    expect(await db.query("select 1 from information_schema.tables where table_name = 'users'")).toEqual([]);
  });

  it('lets a data-only migration through without ALLOW_DDL_IN_PRODUCTION', async () => {
    const dir = makeProject({ ...BASE, 'migrations/002_data.sql': "insert into users values (1, 'a');\n" });
    expect((await cli(dir, ['up', '--to', '1'])).code).toBe(0);
    const result = await cli(dir, ['up', '--json'], { ...production, BACKUP_BEFORE_MIGRATE: 'true' });
    // A backup is required in production; whether it succeeds is the backup's business, not the guard's.
    expect(result.stderr).not.toMatch(/refusing to run DDL/);
  });

  it('refuses --no-backup and BACKUP_BEFORE_MIGRATE=false in production', async () => {
    const dir = makeProject(BASE);
    const flag = await cli(dir, ['up', '--no-backup'], { ...production, ALLOW_DDL_IN_PRODUCTION: 'true' });
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/without a backup/);
    const setting = await cli(dir, ['up'], {
      MIGRATE_ENV: 'production',
      ALLOW_DDL_IN_PRODUCTION: 'true',
      BACKUP_BEFORE_MIGRATE: 'false',
    });
    expect(setting.code).toBe(2);
  });

  it('always stops on lint errors in production, --skip-lint or not', async () => {
    const dir = makeProject(RISKY);
    expect((await cli(dir, ['up', '--to', '1'])).code).toBe(0);
    const result = await cli(dir, ['up', '--skip-lint'], { ...production, ALLOW_DDL_IN_PRODUCTION: 'true' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/In production --skip-lint does not apply/);
  });
});

describe('the lock report', () => {
  it("up --dry-run lists each statement's lock with the table's estimated rows and size", async () => {
    const dir = makeProject({
      ...BASE,
      'migrations/002_col.sql': 'alter table users add column token uuid default gen_random_uuid();\n',
    });
    expect((await cli(dir, ['up', '--to', '1'])).code).toBe(0);
    await db.query("insert into users select g, 'n' from generate_series(1, 5000) g");
    await db.query('analyze users');
    // The default size threshold: users is small, so the dry run (like the real one) is not refused.
    const result = await cli(dir, ['up', '--dry-run', '--json'], { LINT_SIZE_THRESHOLD: undefined });
    expect(result.code).toBe(0);
    const statement = JSON.parse(result.stdout).locks[0].statements[0];
    expect(statement).toMatchObject({ line: 1, rewrite: true });
    expect(statement.locks[0]).toMatchObject({
      relation: 'public.users',
      mode: 'ACCESS EXCLUSIVE',
      estimatedRows: 5000,
    });
    expect(statement.locks[0].sizeBytes).toBeGreaterThan(0);
    const human = await cli(dir, ['up', '--dry-run'], { LINT_SIZE_THRESHOLD: undefined });
    expect(human.stdout).toMatch(/ACCESS EXCLUSIVE on public\.users \(~5,000 rows/);
    expect(human.stdout).toMatch(/rewrites the table/);
    // People read the statement's SQL words; --json keeps the parse tree's kind for programs.
    expect(human.stdout).toMatch(/line 1: ALTER TABLE {2}/);
    expect(human.stdout).not.toMatch(/AlterTableStmt/);
    expect(statement.kind).toBe('AlterTableStmt');
  });
});

describe('lint config for CI (issue 10)', () => {
  it('--pg-version accepts only what the parser knows, and says so', async () => {
    const dir = makeProject(BASE);
    const tooNew = await runCli(['lint', '--offline', '--pg-version', '18'], { cwd: dir });
    expect(tooNew.code).toBe(2);
    expect(tooNew.stderr).toMatch(/from 10 to 17: tidemark parses with PostgreSQL 17's grammar/);
    expect((await runCli(['lint', '--offline', '--pg-version', '9'], { cwd: dir })).code).toBe(2);
    expect((await runCli(['lint', '--offline', '--pg-version', '16'], { cwd: dir })).code).toBe(0);
  });

  it('LINT_RULES turns a rule off or changes its severity; an unknown rule id is refused', async () => {
    const dir = makeProject({
      'migrations/001_t.sql':
        'create table t (id serial primary key, name varchar(20));\nalter table users drop column legacy;\n',
    });
    const before = JSON.parse((await runCli(['lint', '--json'], { cwd: dir })).stdout).findings.map(
      (f: { rule: string; severity: string }) => `${f.rule}:${f.severity}`,
    );
    expect(before).toEqual(expect.arrayContaining(['prefer-text-field:warning', 'ban-drop-column:error']));
    const configured = await runCli(['lint', '--json'], {
      cwd: dir,
      env: { LINT_RULES: 'prefer-text-field:off,ban-drop-column:warning' },
    });
    expect(configured.code).toBe(0);
    const after = JSON.parse(configured.stdout).findings.map(
      (f: { rule: string; severity: string }) => `${f.rule}:${f.severity}`,
    );
    expect(after).not.toContain('prefer-text-field:warning');
    expect(after).toContain('ban-drop-column:warning');
    const unknown = await runCli(['lint'], { cwd: dir, env: { LINT_RULES: 'no-such-rule:off' } });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/LINT_RULES names an unknown rule: no-such-rule/);
    expect(unknown.stderr).toContain('Use rule ids as migrate lint prints them');
    expect(unknown.stderr).toContain('e.g. LINT_RULES=prefer-text-field:off');
  });
});
