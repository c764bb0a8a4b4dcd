/** The core runner end to end: the built CLI against a real PostgreSQL, as a user or a pipeline runs it. */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';
import { makeProject, runCli, writeFiles } from '../helpers/project.js';

const db = useTestDatabase('runner', { resetEach: true });

const SCHEMA = {
  'migrations/001_create_users.sql':
    'create table users (id bigint generated always as identity primary key, name text not null);\n',
  'rollback/001_create_users_rollback.sql': 'drop table users;\n',
  'migrations/002_add_email.up.sql':
    'alter table users add column email text;\ncreate index users_email_idx on users (email);\n',
  'migrations/002_add_email.down.sql': 'drop index users_email_idx;\nalter table users drop column email;\n',
  'migrations/003_orders.sql': 'create table orders (id bigint primary key, user_id bigint references users (id));\n',
  'rollback/003_orders_rollback.sql': 'drop table orders;\n',
};

function cli(dir: string, args: string[], env: Record<string, string | undefined> = {}) {
  return runCli(args, { cwd: dir, env: { DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false', ...env } });
}

async function tables(): Promise<string[]> {
  const rows = await db.query<{ t: string }>(
    "select table_name as t from information_schema.tables where table_schema = 'public' order by 1",
  );
  return rows.map((r) => r.t);
}

async function applied(): Promise<string[]> {
  const rows = await db.query<{ version: string }>('select version from schema_migrations order by version');
  return rows.map((r) => r.version);
}

describe('migrate up', () => {
  it('applies every pending migration, records each, and is a no-op the second time', async () => {
    const dir = makeProject(SCHEMA);
    const first = await cli(dir, ['up']);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/Applied 3 migrations .* version 003/);
    expect(await applied()).toEqual(['001', '002', '003']);
    const [row] = await db.query<{ checksum: string; applied_by: string; execution_ms: number; dirty: boolean }>(
      "select checksum, applied_by, execution_ms, dirty from schema_migrations where version = '001'",
    );
    expect(row!.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(row!.applied_by).toMatch(/@/);
    expect(row!.dirty).toBe(false);

    const again = await cli(dir, ['up']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/Nothing to apply/);
  });

  it('stops at --to and applies --step migrations', async () => {
    const dir = makeProject(SCHEMA);
    expect((await cli(dir, ['up', '--to', '2'])).code).toBe(0);
    expect(await applied()).toEqual(['001', '002']);
    expect((await cli(dir, ['up', '--step', '1'])).code).toBe(0);
    expect(await applied()).toEqual(['001', '002', '003']);
  });

  it('lists and changes nothing with --dry-run', async () => {
    const dir = makeProject(SCHEMA);
    const result = await cli(dir, ['up', '--dry-run', '--json']);
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc.dryRun).toBe(true);
    expect(doc.notRun.map((m: { version: string }) => m.version)).toEqual(['001', '002', '003']);
    expect(await tables()).toEqual([]);
  });

  it('on an SQL error: exit 1, the file line and column, earlier migrations kept, nothing of the failed one', async () => {
    const dir = makeProject({
      ...SCHEMA,
      'migrations/004_broken.sql':
        "create table audit (id int);\n-- Grüße, 日本語 and 😀 before the error move the column\ninsert into audit values (1); select 'é😀' as x, nme from users;\n",
      'migrations/005_later.sql': 'create table later (id int);\n',
    });
    const result = await cli(dir, ['up']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/004_broken failed at migrations\/004_broken\.sql:3:49/);
    expect(result.stderr).toMatch(/42703/);
    expect(result.stderr).toMatch(/column "nme" does not exist/);
    expect(result.stderr).toMatch(/Applied before it \(kept\): 001_create_users, 002_add_email, 003_orders/);
    expect(result.stderr).toMatch(/Not run: 005_later/);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(await tables()).toEqual(['orders', 'schema_migrations', 'users']);
    expect(await applied()).toEqual(['001', '002', '003']);
  });

  it('reports the failure as JSON with --json', async () => {
    const dir = makeProject({
      'migrations/001_bad.sql': 'create table t (id int);\nalter table t add column id int;\n',
    });
    const result = await cli(dir, ['up', '--json']);
    expect(result.code).toBe(1);
    const doc = JSON.parse(result.stdout);
    expect(doc.ok).toBe(false);
    expect(doc.error.code).toBe('migration-failed');
    expect(doc.result.failed).toMatchObject({
      version: '001',
      error: { file: 'migrations/001_bad.sql', line: 2, sqlstate: '42701' },
    });
  });

  it('runs nothing of a file with a syntax error (PostgreSQL parses the whole file first) and names its line', async () => {
    const dir = makeProject({
      ...SCHEMA,
      'migrations/004_typo.sql': 'create table ok (id int);\ncreat table nope (id int);\n',
    });
    const result = await cli(dir, ['up']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/migrations\/004_typo\.sql:2:1/);
    expect(result.stderr).toMatch(/42601/);
    expect(await tables()).toEqual(['orders', 'schema_migrations', 'users']);
  });

  it('names the failing statement of an error that has no position (a constraint violation)', async () => {
    const dir = makeProject({
      'migrations/001_dup.sql':
        'create table d (id int primary key);\ninsert into d values (1);\n\n  insert into d values (1);\n',
    });
    const result = await cli(dir, ['up', '--json']);
    expect(result.code).toBe(1);
    const doc = JSON.parse(result.stdout);
    expect(doc.result.failed.error).toMatchObject({
      line: 4,
      column: 3,
      sqlstate: '23505',
      statement: 3,
      statements: 3,
    });
  });

  it('refuses bad files with exit 2 and runs nothing', async () => {
    const dir = makeProject({ ...SCHEMA, 'migrations/abc.sql': 'select 1;', 'migrations/03_dup.sql': 'select 1;' });
    const result = await cli(dir, ['up']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Found 2 problems/);
    expect(await tables()).toEqual([]);
  });

  it('with MIGRATION_STRATEGY=expand_contract, a plain up is the expand phase; --phase contract applies the rest', async () => {
    const dir = makeProject({
      'migrations/001_add_new.sql': '-- migrate:phase expand\ncreate table t (old_col int, new_col int);\n',
      'migrations/002_drop_old.sql':
        '-- migrate:phase contract\n-- migrate:allow ban-drop-column -- the app stopped reading old_col in v2\nalter table t drop column old_col;\n',
    });
    const env = { MIGRATION_STRATEGY: 'expand_contract' };
    const expand = await cli(dir, ['up', '--json'], env);
    expect(expand.code, expand.stderr).toBe(0);
    expect(JSON.parse(expand.stdout).heldBack.map((m: { version: string }) => m.version)).toEqual(['002']);
    expect(await applied()).toEqual(['001']);
    const contract = await cli(dir, ['up', '--phase', 'contract'], env);
    expect(contract.code, contract.stderr).toBe(0);
    expect(await applied()).toEqual(['001', '002']);
  });

  it('records names with quotes and backslashes intact, and files without a final newline or with a trailing comment', async () => {
    const dir = makeProject({
      "migrations/001_o'neil\\x.sql": 'create table q (id int) -- no final newline, no semicolon',
      'migrations/002_crlf.sql': 'create table r (id int);\r\n-- trailing comment',
    });
    const result = await cli(dir, ['up']);
    expect(result.code, result.stderr).toBe(0);
    expect(await db.query('select name from schema_migrations order by version')).toEqual([
      { name: "o'neil\\x" },
      { name: 'crlf' },
    ]);
  });

  it("notices a file that ends the runner's transaction itself", async () => {
    const dir = makeProject({
      'migrations/001_commit.sql': 'create table a (id int);\ncommit;\ncreate table b (id int);\n',
    });
    const result = await cli(dir, ['up']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/ended tidemark's transaction/);
  });

  it('runs statements under SET LOCAL lock_timeout, retries on lock timeouts, then gives up with exit 3', async () => {
    const dir = makeProject({
      'migrations/001_t.sql': 'create table t (id int);\n',
      'migrations/002_alter.sql': 'alter table t add column x int;\n',
    });
    expect((await cli(dir, ['up', '--to', '1'])).code).toBe(0);
    const pg = await import('pg');
    const blocker = new pg.default.Client({ connectionString: db.url });
    await blocker.connect();
    try {
      await blocker.query('begin');
      await blocker.query('lock table t in access share mode');
      const result = await cli(dir, ['up'], { MAX_LOCK_WAIT: '1', LOCK_RETRIES: '1' });
      expect(result.code).toBe(3);
      expect(result.stderr).toMatch(/retrying/);
      expect(result.stderr).toMatch(/55P03/);
      expect(result.stderr).toMatch(/MAX_LOCK_WAIT/);
    } finally {
      await blocker.query('rollback');
      await blocker.end();
    }
    // The timeouts were local to the migration's transaction: they never leaked, and the retry works now.
    expect((await cli(dir, ['up'])).code).toBe(0);
  });

  it('cancels a migration that runs longer than MIGRATION_TIMEOUT (exit 3, rolled back)', async () => {
    const dir = makeProject({ 'migrations/001_slow.sql': 'create table s (id int);\nselect pg_sleep(30);\n' });
    const result = await cli(dir, ['up'], { MIGRATION_TIMEOUT: '1' });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/MIGRATION_TIMEOUT/);
    expect(await tables()).toEqual(['schema_migrations']);
  });
});

describe('migrate down', () => {
  it('rolls back one, to a version, and all the way to an empty schema', async () => {
    const dir = makeProject(SCHEMA);
    expect((await cli(dir, ['up'])).code).toBe(0);
    expect((await cli(dir, ['down'])).code).toBe(0);
    expect(await applied()).toEqual(['001', '002']);
    expect((await cli(dir, ['up'])).code).toBe(0);
    expect((await cli(dir, ['down', '--to', '001'])).code).toBe(0);
    expect(await applied()).toEqual(['001']);
    const all = await cli(dir, ['down', '--all']);
    expect(all.code).toBe(0);
    expect(await applied()).toEqual([]);
    expect(await tables()).toEqual(['schema_migrations']);
  });

  it('refuses before running anything when a rollback file is missing', async () => {
    const dir = makeProject({
      'migrations/001_a.sql': 'create table a (id int);',
      'rollback/001_a_rollback.sql': 'drop table a;',
      'migrations/002_b.sql': 'create table b (id int);',
    });
    expect((await cli(dir, ['up'])).code).toBe(0);
    const result = await cli(dir, ['down', '--all']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/002_b has no rollback file/);
    expect(await applied()).toEqual(['001', '002']);
  });

  it('redo rolls back and re-applies the newest migration', async () => {
    const dir = makeProject(SCHEMA);
    expect((await cli(dir, ['up'])).code).toBe(0);
    const result = await cli(dir, ['redo']);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/rolled back 003_orders/);
    expect(result.stderr).toMatch(/applied 003_orders/);
    expect(await applied()).toEqual(['001', '002', '003']);
  });
});

describe('status', () => {
  it('prints every migration with its state as JSON per DESIGN', async () => {
    const dir = makeProject(SCHEMA);
    expect((await cli(dir, ['up', '--to', '1'])).code).toBe(0);
    const result = await cli(dir, ['status', '--json']);
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc.migrations.map((m: { version: string; state: string }) => [m.version, m.state])).toEqual([
      ['001', 'applied'],
      ['002', 'pending'],
      ['003', 'pending'],
    ]);
    expect(doc.migrations[0]).toHaveProperty('appliedAt');
    expect(doc.migrations[0]).toHaveProperty('executionMs');
  });

  it('shows a table with states on stdout', async () => {
    const dir = makeProject(SCHEMA);
    expect((await cli(dir, ['up'])).code).toBe(0);
    writeFiles(dir, { 'migrations/001_create_users.sql': 'create table users (id int);\n' });
    const result = await cli(dir, ['status']);
    expect(result.stdout).toMatch(/VERSION\s+NAME\s+STATE/);
    expect(result.stdout).toMatch(/001\s+create_users\s+changed/);
    expect(result.stdout).toMatch(/2 applied, 1 changed|1 changed, 2 applied/);
  });
});

describe('the tracking table', () => {
  it('refuses a golang-migrate schema_migrations table without touching it', async () => {
    await db.query('create table schema_migrations (version bigint not null primary key, dirty boolean not null)');
    await db.query('insert into schema_migrations values (7, false)');
    const dir = makeProject(SCHEMA);
    const result = await cli(dir, ['up']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/looks like golang-migrate/);
    expect(result.stderr).toMatch(/another table with MIGRATIONS_TABLE \(e\.g\. tidemark_migrations/);
    expect(await db.query('select * from schema_migrations')).toEqual([{ version: '7', dirty: false }]);
    expect(await tables()).toEqual(['schema_migrations']);
  });

  it('refuses a Rails/dbmate one-column table, and works beside it under another name and schema', async () => {
    await db.query('create table schema_migrations (version varchar primary key)');
    const dir = makeProject(SCHEMA);
    const refused = await cli(dir, ['up']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/Rails or dbmate/);
    const ok = await cli(dir, ['up'], { MIGRATIONS_TABLE: 'tidemark.history' });
    expect(ok.code).toBe(0);
    expect(await db.query('select count(*)::int as n from tidemark.history')).toEqual([{ n: 3 }]);
  });
});

describe('seeds', () => {
  it('lists seeds, runs one in a transaction, and refuses in production without --force', async () => {
    const dir = makeProject({
      ...SCHEMA,
      'seeds/development.sql': "insert into users (name) values ('a'), ('b');\n",
      'seeds/test.sql': '',
    });
    expect((await cli(dir, ['up'])).code).toBe(0);
    const list = await cli(dir, ['seed']);
    expect(list.stdout.trim().split('\n')).toEqual(['development', 'test']);
    expect((await cli(dir, ['seed', 'development'])).code).toBe(0);
    expect(await db.query('select count(*)::int as n from users')).toEqual([{ n: 2 }]);
    const refused = await cli(dir, ['seed', 'development'], { MIGRATE_ENV: 'production' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--force/);
    expect((await cli(dir, ['seed', 'development', '--force'], { MIGRATE_ENV: 'production' })).code).toBe(0);
    expect(await db.query('select count(*)::int as n from users')).toEqual([{ n: 4 }]);
  });

  it('rolls back a failing seed completely', async () => {
    const dir = makeProject({
      ...SCHEMA,
      'seeds/bad.sql': "insert into users (name) values ('a');\ninsert into users (name) values (null);\n",
    });
    expect((await cli(dir, ['up'])).code).toBe(0);
    const result = await cli(dir, ['seed', 'bad']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/seeds\/bad\.sql:2/);
    expect(await db.query('select count(*)::int as n from users')).toEqual([{ n: 0 }]);
  });
});

describe('create', () => {
  it('create, then up, then down', async () => {
    const dir = makeProject(SCHEMA);
    const created = await cli(dir, ['create', 'add phone']);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/Created migrations\/004_add_phone\.sql/);
    writeFiles(dir, {
      'migrations/004_add_phone.sql': 'alter table users add column phone text;\n',
      'rollback/004_add_phone_rollback.sql': 'alter table users drop column phone;\n',
    });
    expect((await cli(dir, ['up'])).code).toBe(0);
    expect(await applied()).toEqual(['001', '002', '003', '004']);
    expect((await cli(dir, ['down'])).code).toBe(0);
    expect(await applied()).toEqual(['001', '002', '003']);
  });
});
