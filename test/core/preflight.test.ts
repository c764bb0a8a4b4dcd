/**
 * One preflight for every command that runs SQL (issue 10): the production guard and the lint of the files
 * that will run, in the direction they run, on up, down, redo, seed and repair --rerun; --dry-run exits as
 * the real run would; size-aware severity; LINT_START_AFTER for an adopted history.
 */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';
import { makeProject, runCli, writeFiles } from '../helpers/project.js';

const db = useTestDatabase('preflight', { resetEach: true });

const production = { MIGRATE_ENV: 'production', BACKUP_BEFORE_MIGRATE: 'true' };
/** A threshold of 0 makes every lock/rewrite finding an error, as on a big table. */
const strict = { LINT_SIZE_THRESHOLD: '0' };

function cli(dir: string, args: string[], env: Record<string, string | undefined> = {}) {
  return runCli(args, { cwd: dir, env: { DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false', ...env } });
}

async function applied(): Promise<string[]> {
  return (await db.query<{ version: string }>('select version from schema_migrations order by version')).map(
    (r) => r.version,
  );
}

async function indexExists(name: string): Promise<boolean> {
  return (await db.query('select 1 from pg_class where relname = $1', [name])).length === 1;
}

const PROJECT = {
  'migrations/001_users.sql': 'create table users (id bigint primary key, name text);\n',
  'rollback/001_users_rollback.sql':
    '-- migrate:allow ban-drop-table -- the rollback drops what 001 created\ndrop table users;\n',
  'migrations/002_index.sql': 'create index users_name_idx on users (name);\n',
  'rollback/002_index_rollback.sql': 'drop index users_name_idx;\n',
};

describe('the production guard on every command that runs SQL', () => {
  it('refuses down without ALLOW_DDL_IN_PRODUCTION, and changes nothing', async () => {
    const dir = makeProject(PROJECT);
    expect((await cli(dir, ['up', '--skip-lint'])).code).toBe(0);
    const result = await cli(dir, ['down'], production);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(
      /migrate down: refusing to run DDL in production: rollback\/002_index_rollback\.sql \(DROP\)/,
    );
    expect(await indexExists('users_name_idx')).toBe(true);
    expect(await applied()).toEqual(['001', '002']);
  });

  it('refuses redo without ALLOW_DDL_IN_PRODUCTION, and changes nothing', async () => {
    const dir = makeProject(PROJECT);
    expect((await cli(dir, ['up', '--skip-lint'])).code).toBe(0);
    const result = await cli(dir, ['redo'], production);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/migrate redo: refusing to run DDL in production/);
    expect(await indexExists('users_name_idx')).toBe(true);
    expect(await applied()).toEqual(['001', '002']);
  });

  it('refuses a seed with DDL in production even with --force, and changes nothing', async () => {
    const dir = makeProject({
      ...PROJECT,
      'seeds/demo.sql': 'create table demo (id bigint);\ninsert into demo values (1);\n',
    });
    expect((await cli(dir, ['up', '--skip-lint'])).code).toBe(0);
    const result = await cli(dir, ['seed', 'demo', '--force'], production);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(
      /migrate seed demo: refusing to run DDL in production: seeds\/demo\.sql \(CREATE TABLE\)/,
    );
    expect(await db.query("select 1 from pg_class where relname = 'demo'")).toEqual([]);
  });

  it('refuses repair --rerun of a migration with DDL in production, and changes nothing', async () => {
    const dir = makeProject({
      ...PROJECT,
      'migrations/003_half.sql': '-- migrate:no-transaction\ncreate table half (id bigint);\nselect 1 / 0;\n',
    });
    expect((await cli(dir, ['up', '--skip-lint'])).code).toBe(1);
    const result = await cli(dir, ['repair', '003', '--rerun', '--yes'], production);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(
      /migrate repair 003 --rerun: refusing to run DDL in production: migrations\/003_half\.sql/,
    );
    expect(await db.query<{ dirty: boolean }>("select dirty from schema_migrations where version = '003'")).toEqual([
      { dirty: true },
    ]);
  });

  it('up --dry-run exits 2 where the real up is refused by the guard', async () => {
    const dir = makeProject(PROJECT);
    const result = await cli(dir, ['up', '--dry-run'], production);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/refusing to run DDL in production/);
  });
});

describe('the lint before down, redo and up --dry-run', () => {
  it('lints the rollback files of down: refused on an error (exit 1, nothing run), runs with --skip-lint', async () => {
    const dir = makeProject(PROJECT);
    expect((await cli(dir, ['up', '--skip-lint'])).code).toBe(0);
    const refused = await cli(dir, ['down'], strict);
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toMatch(
      /migrate down cannot start: 1 unacknowledged lint error[\s\S]*rollback\/002_index_rollback\.sql:1:1 require-concurrent-index-deletion/,
    );
    expect(await applied()).toEqual(['001', '002']);
    const dry = await cli(dir, ['down', '--dry-run'], strict);
    expect(dry.code).toBe(1);
    expect((await cli(dir, ['down', '--skip-lint'], strict)).code).toBe(0);
    expect(await applied()).toEqual(['001']);
  });

  it('a rollback may drop what its own up created; dropping anything else is still a finding', async () => {
    const dir = makeProject({
      'migrations/001_users.sql':
        'create table users (id bigint primary key, name text);\ncreate table keep (id bigint);\n',
      'migrations/002_email.sql': 'alter table users add column email text;\n',
      'rollback/002_email_rollback.sql': 'alter table users drop column email;\n',
      'migrations/003_audit.sql': 'create table audit (id bigint);\n',
      'rollback/003_audit_rollback.sql': 'drop table audit;\ndrop table keep;\n',
    });
    expect((await cli(dir, ['up'])).code).toBe(0);
    const refused = await cli(dir, ['down'], strict);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/ban-drop-table: DROP TABLE public\.keep/);
    expect(refused.stderr).not.toMatch(/DROP TABLE public\.audit/);
    writeFiles(dir, { 'rollback/003_audit_rollback.sql': 'drop table audit;\n' });
    expect((await cli(dir, ['down', '--to', '1'], strict)).code).toBe(0);
    expect(await applied()).toEqual(['001']);
  });

  it('up --dry-run exits 1 where the real up is refused by the lint, and 0 with its findings where it is not', async () => {
    const dir = makeProject(PROJECT);
    expect((await cli(dir, ['up', '--to', '1'])).code).toBe(0);
    const refused = await cli(dir, ['up', '--dry-run'], strict);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/require-concurrent-index-creation/);
    const allowed = await cli(dir, ['up', '--dry-run', '--json']);
    expect(allowed.code).toBe(0);
    expect(JSON.parse(allowed.stdout).lint.findings[0]).toMatchObject({
      rule: 'require-concurrent-index-creation',
      severity: 'warning',
    });
  });

  it('redo lints its rollback; the migration it re-applies is reported, not refused', async () => {
    const dir = makeProject({
      ...PROJECT,
      'rollback/002_index_rollback.sql':
        '-- migrate:allow require-concurrent-index-deletion -- users is small\ndrop index users_name_idx;\n',
    });
    expect((await cli(dir, ['up', '--skip-lint'])).code).toBe(0);
    const result = await cli(dir, ['redo', '--json'], strict);
    expect(result.code, result.stderr).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc.down.lint.findings.map((f: { rule: string; exempt?: string }) => [f.rule, f.exempt ?? null])).toEqual([
      ['require-concurrent-index-deletion', null],
      ['require-concurrent-index-creation', 're-applied by redo: it was applied until the rollback just before it'],
    ]);
  });

  it('after down --to V, the next up is not refused for the small tables it touches again', async () => {
    const dir = makeProject({
      ...PROJECT,
      'rollback/002_index_rollback.sql':
        '-- migrate:allow require-concurrent-index-deletion -- users is small\ndrop index users_name_idx;\n',
    });
    expect((await cli(dir, ['up'])).code).toBe(0);
    await db.query("insert into users select g, 'n' || g from generate_series(1, 1000) g");
    expect((await cli(dir, ['down', '--to', '1'])).code).toBe(0);
    const again = await cli(dir, ['up', '--json']);
    expect(again.code, again.stderr).toBe(0);
    const finding = JSON.parse(again.stdout).lint.findings[0];
    expect(finding).toMatchObject({ rule: 'require-concurrent-index-creation', severity: 'warning' });
    expect(finding.message).toMatch(/public\.users is \d+ kB, below the lint size threshold of 10 MB/);
  });
});

describe('size-aware severity when connected', () => {
  const FILES = {
    'migrations/001_big.sql': 'create table big (id bigint not null, pad text);\n',
    'migrations/002_pk.sql': 'alter table big add primary key (id);\n',
  };

  it('the same file is a warning on an empty table and an error on a populated (>= 50 MB) one', async () => {
    const dir = makeProject(FILES);
    expect((await cli(dir, ['up', '--to', '1'])).code).toBe(0);
    const empty = await cli(dir, ['lint', '--json']);
    expect(empty.code).toBe(0);
    const warning = JSON.parse(empty.stdout).findings.find(
      (f: { rule: string }) => f.rule === 'disallowed-unique-constraint',
    );
    expect(warning).toMatchObject({ severity: 'warning', table: 'public.big' });
    expect(warning.message).toMatch(/public\.big is \d+ bytes, below the lint size threshold/);

    await db.query("insert into big select g, repeat('x', 120) from generate_series(1, 400000) g");
    const size = await db.query<{ bytes: string }>("select pg_total_relation_size('big')::text as bytes");
    expect(Number(size[0]!.bytes)).toBeGreaterThanOrEqual(50 * 1024 * 1024);
    const populated = await cli(dir, ['lint', '--json']);
    expect(populated.code).toBe(1);
    expect(
      JSON.parse(populated.stdout).findings.find((f: { rule: string }) => f.rule === 'disallowed-unique-constraint'),
    ).toMatchObject({ severity: 'error' });
    const refused = await cli(dir, ['up']);
    expect(refused.code).toBe(1);
  });

  it('offline, the judgement does not depend on size (an error)', async () => {
    const dir = makeProject(FILES);
    const result = await runCli(['lint', '--json'], { cwd: dir });
    expect(
      JSON.parse(result.stdout).findings.find((f: { rule: string }) => f.rule === 'disallowed-unique-constraint'),
    ).toMatchObject({ severity: 'error' });
  });
});

describe('constraint definitions read for the findings that need them when connected', () => {
  // The lint's catalog read leaves the definitions of constraints out (db/catalog.ts `details`): a rule that
  // needs a validated CHECK's definition names its table, whose details are then read and the files linted
  // again. As warnings the findings ask for no size, so only that request brings the definitions: without
  // it, t.a and p2024 are reported too (no CHECK known to rely on).
  const FILES = {
    'migrations/001_tables.sql':
      "create table t (id bigint primary key, a text, b text, check (a is not null), check (b <> ''));\n" +
      'create table p (id bigint, at date) partition by range (at);\n' +
      "create table p2024 (id bigint, at date, check (at >= '2024-01-01' and at < '2025-01-01'));\n" +
      'create table p2025 (id bigint, at date, check (at is not null));\n',
    'migrations/002_change.sql':
      'alter table t alter column a set not null;\nalter table t alter column b set not null;\n' +
      "alter table p attach partition p2024 for values from ('2024-01-01') to ('2025-01-01');\n" +
      "alter table p attach partition p2025 for values from ('2025-01-01') to ('2026-01-01');\n",
  };
  const RULES = ['adding-not-nullable-field', 'attach-partition-without-check'];
  const expected = [
    { rule: 'adding-not-nullable-field', table: 'public.t', message: expect.stringContaining('public.t.b') },
    { rule: 'attach-partition-without-check', table: 'public.p2025' },
  ];
  const picked = (findings: { rule: string; table?: string; message: string }[]) =>
    findings
      .filter((f) => RULES.includes(f.rule))
      .map((f) => ({ rule: f.rule, table: f.table, message: f.message }))
      .sort((x, y) => `${x.rule}${x.table}`.localeCompare(`${y.rule}${y.table}`));

  it("as warnings: migrate lint and the library lint() see the existing tables' CHECKs", async () => {
    const dir = makeProject(FILES);
    expect((await cli(dir, ['up', '--to', '1'])).code).toBe(0);
    const warnings = { LINT_RULES: RULES.map((r) => `${r}:warning`).join(',') };
    const linted = await cli(dir, ['lint', '--json'], warnings);
    expect(linted.code).toBe(0);
    const findings = JSON.parse(linted.stdout).findings;
    expect(picked(findings)).toEqual(expected.map((f) => expect.objectContaining(f)));
    expect(
      findings.filter((f: { rule: string }) => RULES.includes(f.rule)).map((f: { severity: string }) => f.severity),
    ).toEqual(['warning', 'warning']);

    const { createMigrator } = await import('../../src/index.js');
    const report = await createMigrator({
      database: db.url,
      migrations: { directory: `${dir}/migrations` },
      lint: true,
      lintRules: { severity: new Map(RULES.map((r) => [r, 'warning' as const])) },
    }).lint();
    expect(picked([...report.findings])).toEqual(picked(findings));
  });

  it('as errors (on any size): up is refused for t.b and p2025 only', async () => {
    const dir = makeProject(FILES);
    expect((await cli(dir, ['up', '--to', '1'])).code).toBe(0);
    const refused = await cli(dir, ['up'], strict);
    expect(refused.code).toBe(1);
    const lines = refused.stderr.split('\n').filter((l) => RULES.some((r) => l.includes(` ${r}: `)));
    expect(lines).toEqual([
      expect.stringMatching(/002_change\.sql:2:\d+ adding-not-nullable-field: SET NOT NULL on public\.t\.b /),
      expect.stringMatching(/002_change\.sql:4:\d+ attach-partition-without-check: attaching public\.p2025 /),
    ]);
  });
});

describe('adopting a history: LINT_START_AFTER', () => {
  it('files at or before it are reported, not refused; newer files still are', async () => {
    const dir = makeProject(PROJECT);
    expect((await cli(dir, ['up', '--to', '1'])).code).toBe(0);
    const refused = await cli(dir, ['up'], strict);
    expect(refused.code).toBe(1);
    const adopted = await cli(dir, ['up', '--json'], { ...strict, LINT_START_AFTER: '2' });
    expect(adopted.code, adopted.stderr).toBe(0);
    expect(JSON.parse(adopted.stdout).lint.findings[0]).toMatchObject({
      rule: 'require-concurrent-index-creation',
      severity: 'error',
      exempt: 'at or before LINT_START_AFTER=2',
    });
  });

  it('migrate lint --all still reports them, and does not fail on them', async () => {
    const dir = makeProject(PROJECT);
    const result = await runCli(['lint', '--all', '--json'], { cwd: dir, env: { LINT_START_AFTER: '2' } });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).findings.map((f: { rule: string }) => f.rule)).toContain(
      'require-concurrent-index-creation',
    );
  });

  it('baseline prints the line to add', async () => {
    const dir = makeProject(PROJECT);
    await db.query('create table users (id bigint primary key, name text)');
    const result = await cli(dir, ['baseline', '1']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/add to \.env\.migrations:\n {2}LINT_START_AFTER=001/);
  });
});

describe('isolation between migrations', () => {
  async function schemaOf(table: string): Promise<string[]> {
    return (
      await db.query<{ s: string }>('select table_schema as s from information_schema.tables where table_name = $1', [
        table,
      ])
    ).map((r) => r.s);
  }

  it('a session-level SET search_path in one migration does not reach the next (transactional file)', async () => {
    const dir = makeProject({
      'migrations/001_other.sql': 'create schema other;\nset search_path = other;\ncreate table inside (id bigint);\n',
      'migrations/002_t.sql': 'create table landed (id bigint);\n',
    });
    const result = await cli(dir, ['up']);
    expect(result.code, result.stderr).toBe(0);
    expect(await schemaOf('inside')).toEqual(['other']);
    expect(await schemaOf('landed')).toEqual(['public']);
  });

  it('nor from a no-transaction file, and the runner keeps its lock to the end', async () => {
    const dir = makeProject({
      // 200 ms, not 1: the file's own setting also holds for tidemark's bookkeeping after its last statement
      // (the session is reset when the migration ends), which a loaded machine can make last over 1 ms.
      'migrations/001_other.sql':
        "-- migrate:no-transaction\ncreate schema other;\nset search_path = other;\nset statement_timeout = '200ms';\n",
      'migrations/002_t.sql': 'create table landed (id bigint);\nselect pg_sleep(0.3);\n',
      'migrations/003_u.sql': 'create table landed_too (id bigint);\n',
    });
    const result = await cli(dir, ['up']);
    expect(result.code, result.stderr).toBe(0);
    expect(await schemaOf('landed')).toEqual(['public']);
    expect(await schemaOf('landed_too')).toEqual(['public']);
    expect(await applied()).toEqual(['001', '002', '003']);
  });

  it('lint warns about the session-level SET in a transactional file', async () => {
    const dir = makeProject({ 'migrations/001_other.sql': 'set search_path = other;\ncreate table x (id bigint);\n' });
    const result = await runCli(['lint', '--json'], { cwd: dir });
    expect(JSON.parse(result.stdout).findings).toEqual([
      expect.objectContaining({ rule: 'session-set-in-transaction', severity: 'warning', line: 1 }),
    ]);
  });
});

describe('a syntax error found by the pre-run lint', () => {
  it('says to fix the file, not to acknowledge it or skip the lint (neither helps)', async () => {
    await db.query('create table existing (id bigint primary key)'); // a database with tables: the lint runs
    const dir = makeProject({
      'migrations/001_typo.sql': 'create tabel x (id bigint);\n',
      'migrations/002_drop.sql': 'drop table existing;\n',
    });
    const both = await runCli(['up', '--no-backup'], { cwd: dir, env: { DATABASE_URL: db.url } });
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/001_typo\.sql:1:8 syntax-error/);
    expect(both.stderr).toMatch(
      /→ Fix the SQL where the syntax error points: PostgreSQL would refuse it too\. For the others: Apply/,
    );
    writeFiles(dir, { 'migrations/002_drop.sql': 'select 1;\n' });
    const alone = await runCli(['up', '--no-backup'], { cwd: dir, env: { DATABASE_URL: db.url } });
    expect(alone.code).toBe(1);
    expect(alone.stderr).toContain('→ Fix the SQL where the syntax error points: PostgreSQL would refuse it too.\n');
    expect(alone.stderr).not.toMatch(/migrate:allow|--skip-lint/);
  });
});
