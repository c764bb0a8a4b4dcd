/**
 * migrate baseline: adopting a database migrated by other means. The rules are pure (planBaseline); the rest
 * runs the built CLI against real history tables of golang-migrate, dbmate, node-pg-migrate and Flyway created
 * here, checking each is read and never altered.
 */
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { planBaseline } from '../../src/core/baseline.js';
import type { HistoryRow } from '../../src/db/history.js';
import { MigrateError } from '../../src/errors.js';
import { loadMigrations } from '../../src/source/files.js';
import { useTestDatabase } from '../helpers/db.js';
import { makeProject, runCli } from '../helpers/project.js';

/** golang-migrate's layout: NNNNNN_name.up.sql / .down.sql in one folder. */
const FILES = {
  'migrations/000001_users.up.sql': 'create table users (id int primary key);\n',
  'migrations/000001_users.down.sql': 'drop table users;\n',
  'migrations/000002_email.up.sql': 'alter table users add column email text;\n',
  'migrations/000002_email.down.sql': 'alter table users drop column email;\n',
  'migrations/000003_orders.up.sql': 'create table orders (id int primary key);\n',
  'migrations/000003_orders.down.sql': 'drop table orders;\n',
};
/** What the other tool already did to the schema. */
const APPLIED_BY_HAND = 'create table users (id int primary key); alter table users add column email text;';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(MigrateError);
    expect((error as MigrateError).exitCode).toBe(2);
    return (error as MigrateError).code;
  }
  return undefined;
};

describe('planBaseline (pure)', () => {
  const load = async () => {
    const dir = makeProject(FILES);
    return loadMigrations({ migrationsDir: join(dir, 'migrations'), rollbackDir: join(dir, 'rollback'), cwd: dir });
  };
  const table = { schema: 'public', table: 'x' };
  const versions = (ms: readonly { version: string }[]) => ms.map((m) => m.version);

  it('records every file up to V', async () => {
    const plan = planBaseline(await load(), [], { version: '2' });
    expect(plan.version).toBe('000002');
    expect(versions(plan.record)).toEqual(['000001', '000002']);
    expect(plan.leftPending).toEqual([]);
  });

  it('refuses a version no file has, and a history that already has rows', async () => {
    const ms = await load();
    expect(codeOf(() => planBaseline(ms, [], { version: '7' }))).toBe('unknown-version');
    const row: HistoryRow = {
      version: '000001',
      name: 'users',
      checksum: ms[0]!.checksum,
      appliedAt: new Date(),
      executionMs: 0,
      appliedBy: 'x',
      dirty: false,
    };
    expect(codeOf(() => planBaseline(ms, [row], { version: '1' }))).toBe('baseline-history-not-empty');
  });

  it('records exactly the versions a per-version tool applied, leaving its holes pending', async () => {
    const plan = planBaseline(await load(), [], {
      foreign: { tool: 'dbmate', table, versions: [1n, 3n], upTo: undefined },
    });
    expect(versions(plan.record)).toEqual(['000001', '000003']);
    expect(versions(plan.leftPending)).toEqual(['000002']);
    expect(plan.from).toBe('dbmate');
  });

  it('refuses a foreign history naming versions with no file here, and one with nothing applied', async () => {
    const ms = await load();
    expect(
      codeOf(() => planBaseline(ms, [], { foreign: { tool: 'dbmate', table, versions: [1n, 9n], upTo: undefined } })),
    ).toBe('baseline-files-missing');
    expect(
      codeOf(() => planBaseline(ms, [], { foreign: { tool: 'golang-migrate', table, versions: [], upTo: 9n } })),
    ).toBe('baseline-files-missing');
    expect(
      codeOf(() => planBaseline(ms, [], { foreign: { tool: 'dbmate', table, versions: [], upTo: undefined } })),
    ).toBe('baseline-nothing');
  });

  it("takes a Flyway BASELINE marker as 'everything up to it', even without a file of that version", async () => {
    const ms = await load();
    const plan = planBaseline(ms.slice(1), [], { foreign: { tool: 'flyway', table, versions: [3n], upTo: 1n } });
    expect(versions(plan.record)).toEqual(['000003']);
    expect(versions(plan.leftPending)).toEqual(['000002']);
  });
});

describe('migrate baseline', () => {
  const db = useTestDatabase('baseline');
  beforeEach(async () => {
    await db.reset();
    await db.query(APPLIED_BY_HAND);
  });

  const cli = (dir: string, args: string[], extra: Record<string, string> = {}) =>
    runCli(args, { cwd: dir, env: { DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false', ...extra } });
  const versionsIn = async (table: string) =>
    (await db.query<{ version: string }>(`select version from ${table} order by version`)).map((r) => r.version);
  /** Everything about a table that a write could change: its rows and its columns. */
  const snapshot = async (table: string) => ({
    rows: await db.query(`select * from ${table} order by 1`),
    columns: await db.query(
      'select column_name, data_type from information_schema.columns where table_name = $1 order by ordinal_position',
      [table],
    ),
  });

  it('baseline V records every migration up to V without running any, then up runs the rest', async () => {
    const dir = makeProject(FILES);
    const result = await cli(dir, ['baseline', '2']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      /Baselined at version 000002: recorded 2 migrations as applied without running them: 000001_users, 000002_email/,
    );
    expect(await versionsIn('schema_migrations')).toEqual(['000001', '000002']);
    const [row] = await db.query<{ applied_by: string; execution_ms: number; dirty: boolean }>(
      "select applied_by, execution_ms, dirty from schema_migrations where version = '000001'",
    );
    expect(row).toMatchObject({ applied_by: expect.stringMatching(/\(baseline\)$/), execution_ms: 0, dirty: false });

    const up = await cli(dir, ['up']);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toMatch(/applied 000003_orders/);
    expect(up.stderr).not.toMatch(/000001_users/);
    expect((await cli(dir, ['verify'])).code).toBe(0);

    const status = JSON.parse((await cli(dir, ['status', '--json'])).stdout);
    expect(status.repairs).toMatchObject([{ version: '000002', action: 'baseline' }]);
    const again = await cli(dir, ['baseline', '2']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already records 3 migrations/);
  });

  it('--dry-run says what it would record and changes nothing', async () => {
    const dir = makeProject(FILES);
    const result = await cli(dir, ['baseline', '1', '--dry-run', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      version: '000001',
      dryRun: true,
      recorded: [{ version: '000001', file: 'migrations/000001_users.up.sql' }],
    });
    expect(await db.query("select 1 from pg_tables where tablename like 'schema_migrations%'")).toEqual([]);
  });

  describe('--from golang-migrate, with its real schema_migrations table', () => {
    beforeEach(async () => {
      await db.query('create table schema_migrations (version bigint not null primary key, dirty boolean not null)');
      await db.query('insert into schema_migrations values (2, false)');
    });

    it('refuses while MIGRATIONS_TABLE is also schema_migrations, telling the user to name another table', async () => {
      const dir = makeProject(FILES);
      const result = await cli(dir, ['baseline', '--from', 'golang-migrate']);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        /golang-migrate keeps its history in schema_migrations, and that is also the name of tidemark's tracking table/,
      );
      expect(result.stderr).toMatch(
        /Set MIGRATIONS_TABLE to another name, e\.g\. tidemark_migrations \(keep it for every later command\)/,
      );
      // Every other command stops at the foreign table too, pointing the same way.
      const status = await cli(dir, ['status']);
      expect(status.code).toBe(2);
      expect(status.stderr).toMatch(/golang-migrate/);
      expect(status.stderr).toMatch(/another table with MIGRATIONS_TABLE \(e\.g\. tidemark_migrations/);
    });

    it("reads golang-migrate's table, writes tidemark's own under MIGRATIONS_TABLE, and never alters the foreign one", async () => {
      const dir = makeProject(FILES);
      const before = await snapshot('schema_migrations');
      const env = { MIGRATIONS_TABLE: 'tidemark_migrations' };
      const result = await cli(dir, ['baseline', '--from', 'golang-migrate'], env);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(
        /Baselined at version 000002 from golang-migrate's history \(schema_migrations, read only\)/,
      );
      expect(await versionsIn('tidemark_migrations')).toEqual(['000001', '000002']);
      expect(await snapshot('schema_migrations')).toEqual(before);

      const up = await cli(dir, ['up'], env);
      expect(up.code, up.stderr).toBe(0);
      expect(await versionsIn('tidemark_migrations')).toEqual(['000001', '000002', '000003']);
      expect(await snapshot('schema_migrations')).toEqual(before);
      expect((await cli(dir, ['verify'], env)).code).toBe(0);
    });

    it('reads a golang-migrate table of another name with --from-table, beside the default tracking table', async () => {
      await db.query('alter table schema_migrations rename to gm_versions');
      const dir = makeProject(FILES);
      const result = await cli(dir, ['baseline', '--from', 'golang-migrate', '--from-table', 'public.gm_versions']);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/from golang-migrate's history \(gm_versions, read only\)/);
      expect(await versionsIn('schema_migrations')).toEqual(['000001', '000002']);
      expect(await db.query('select version::int as version, dirty from gm_versions')).toEqual([
        { version: 2, dirty: false },
      ]);
    });

    it('refuses a dirty golang-migrate version, naming its force command', async () => {
      await db.query('update schema_migrations set dirty = true');
      const dir = makeProject(FILES);
      const result = await cli(dir, ['baseline', '--from', 'golang-migrate'], {
        MIGRATIONS_TABLE: 'tidemark_migrations',
      });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/version 2 is marked dirty/);
      expect(result.stderr).toMatch(/migrate force 2/);
      expect(await db.query("select 1 from pg_tables where tablename = 'tidemark_migrations'")).toEqual([]);
    });
  });

  it('--from dbmate records the versions it applied; a hole stays pending, out of order', async () => {
    await db.query('create table schema_migrations (version varchar(128) primary key)');
    await db.query("insert into schema_migrations values ('1'), ('3')");
    await db.query('create table orders (id int primary key)');
    const before = await snapshot('schema_migrations');
    const dir = makeProject(FILES);
    const env = { MIGRATIONS_TABLE: 'tidemark.history' };
    const result = await cli(dir, ['baseline', '--from', 'dbmate', '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc).toMatchObject({
      version: '000003',
      from: 'dbmate',
      foreignTable: 'schema_migrations',
      leftPending: [{ version: '000002' }],
    });
    expect(doc.recorded.map((m: { version: string }) => m.version)).toEqual(['000001', '000003']);
    expect(await versionsIn('tidemark.history')).toEqual(['000001', '000003']);
    expect(await snapshot('schema_migrations')).toEqual(before);
    const verify = JSON.parse((await cli(dir, ['verify', '--json'], env)).stdout);
    expect(verify.findings).toContainEqual(expect.objectContaining({ code: 'out-of-order', version: '000002' }));
  });

  it('--from node-pg-migrate reads pgmigrations (names with a numeric prefix)', async () => {
    await db.query(
      'create table pgmigrations (id serial primary key, name varchar(255) not null, run_on timestamp not null)',
    );
    await db.query("insert into pgmigrations (name, run_on) values ('000001_users', now()), ('000002_email', now())");
    const before = await snapshot('pgmigrations');
    const dir = makeProject(FILES);
    const result = await cli(dir, ['baseline', '--from', 'node-pg-migrate']);
    expect(result.code, result.stderr).toBe(0);
    expect(await versionsIn('schema_migrations')).toEqual(['000001', '000002']);
    expect(await snapshot('pgmigrations')).toEqual(before);
  });

  describe('--from flyway', () => {
    beforeEach(async () => {
      await db.query(`create table flyway_schema_history (
        installed_rank int primary key, version varchar(50), description varchar(200) not null, type varchar(20) not null,
        script varchar(1000) not null, checksum int, installed_by varchar(100) not null, installed_on timestamp not null default now(),
        execution_time int not null, success boolean not null)`);
      await db.query(`insert into flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) values
        (1, '1', 'users', 'SQL', 'V1__users.sql', 1, 'me', 5, true),
        (2, '2', 'email', 'SQL', 'V2__email.sql', 2, 'me', 5, true),
        (3, null, 'views', 'SQL', 'R__views.sql', 3, 'me', 5, true)`);
    });

    it('records the successful versioned migrations, skipping repeatable ones', async () => {
      const before = await snapshot('flyway_schema_history');
      const dir = makeProject(FILES);
      const result = await cli(dir, ['baseline', '--from', 'flyway']);
      expect(result.code, result.stderr).toBe(0);
      expect(await versionsIn('schema_migrations')).toEqual(['000001', '000002']);
      expect(await snapshot('flyway_schema_history')).toEqual(before);
    });

    it('refuses a history with a failed migration, naming flyway repair', async () => {
      await db.query(
        "insert into flyway_schema_history (installed_rank, version, description, type, script, installed_by, execution_time, success) values (4, '3', 'orders', 'SQL', 'V3__orders.sql', 'me', 1, false)",
      );
      const dir = makeProject(FILES);
      const result = await cli(dir, ['baseline', '--from', 'flyway']);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/version 3 failed/);
      expect(result.stderr).toMatch(/flyway repair/);
    });
  });

  it('says where to look when the other tool has no table here', async () => {
    const dir = makeProject(FILES);
    const result = await cli(dir, ['baseline', '--from', 'flyway']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/There is no table flyway_schema_history, where flyway keeps its history/);
    expect(result.stderr).toMatch(/--from-table/);
  });
});
