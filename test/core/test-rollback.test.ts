/**
 * migrate test-rollback against a real PostgreSQL: the core in process (each case its own project), the built
 * CLI for the exit code, --json and SIGTERM. Every run must leave no scratch database behind.
 */
import { describe, expect, it } from 'vitest';
import { migratorOptionsOf } from '../../src/cli/context.js';
import { createMigrator } from '../../src/index.js';
import { loadSettings, type Settings } from '../../src/config/settings.js';
import {
  rollbackStart,
  testRollback,
  type RollbackMode,
  type TestRollbackReport,
} from '../../src/core/test-rollback.js';
import { paramsFromUrl } from '../../src/db/params.js';
import { SCRATCH_PREFIX } from '../../src/db/scratch.js';
import { describeChange } from '../../src/schema/diff.js';
import { loadMigrations } from '../../src/source/files.js';
import type { Migration } from '../../src/source/types.js';
import { adminQuery, useTestDatabase } from '../helpers/db.js';
import { makeProject, onceServerShows, runCli } from '../helpers/project.js';

const db = useTestDatabase('test_rollback');

/** Scratch databases of a process (the name carries its pid). */
async function scratchesOf(pid: number): Promise<string[]> {
  const { rows } = await adminQuery('select datname from pg_database where datname like $1', [
    `${SCRATCH_PREFIX}${pid}\\_%`,
  ]);
  return rows.map((r) => String(r.datname));
}

function contextOf(settings: Settings, migrations: Migration[]) {
  const connection = paramsFromUrl(db.url);
  const migrator = createMigrator(
    migratorOptionsOf(settings, connection, { onEvent: () => {}, signal: undefined, lockWaitMs: undefined, env: {} }),
  );
  return { migrator, table: settings.migrationsTable, connection, migrations };
}

async function run(
  files: Record<string, string>,
  mode: RollbackMode,
  extra: { idempotent?: boolean; from?: string } = {},
): Promise<TestRollbackReport> {
  const dir = makeProject(files);
  const settings = loadSettings({ databaseUrl: db.url }, {}, dir);
  const migrations = await loadMigrations({
    migrationsDir: settings.migrationsDir,
    rollbackDir: settings.rollbackDir,
    cwd: dir,
  });
  const report = await testRollback(contextOf(settings, migrations), { mode, ...extra });
  expect(await scratchesOf(process.pid)).toEqual([]);
  return report;
}

/** Problems as "version: change lines". */
function found(report: TestRollbackReport): string[] {
  return report.problems.flatMap((p) => [
    `${p.version ?? 'chain'} ${p.code}`,
    ...p.changes.map((c) => `  ${describeChange(c)}`),
  ]);
}

const USERS = {
  'migrations/001_users.sql':
    'create table users (id bigint generated always as identity primary key, email text not null, name text);\n',
  'rollback/001_users_rollback.sql': 'drop table users;\n',
};

describe('test-rollback', () => {
  // One case per mode: both in one case took over a minute under the load of a full suite on 2 shared cores.
  for (const mode of ['step', 'chain'] as const) {
    it(`passes a correct history in ${mode} mode, and changes nothing in the real database`, async () => {
      const files = {
        ...USERS,
        'migrations/002_email.sql': `create index users_email_idx on users (email);
          create type mood as enum ('happy', 'sad');
          alter table users add column mood mood default 'happy';
          create function users_count() returns bigint language sql as 'select count(*) from users';
          create view named as select id, name from users;`,
        'rollback/002_email_rollback.sql':
          'drop view named; drop function users_count(); alter table users drop column mood; drop type mood; drop index users_email_idx;\n',
      };
      const report = await run(files, mode);
      expect(found(report)).toEqual([]);
      expect(report.warnings).toEqual([]);
      expect(report.tested.map((t) => [t.version, t.ok])).toEqual([
        ['001', true],
        ['002', true],
      ]);
      expect(await db.query("select 1 from pg_class where relname = 'users'")).toEqual([]);
    });
  }

  it('names a rollback that forgets an index', async () => {
    const report = await run(
      {
        ...USERS,
        'migrations/002_idx.sql': 'create index users_email_idx on users (email);\n',
        'rollback/002_idx_rollback.sql': '-- nothing\n',
      },
      'step',
    );
    expect(found(report)).toEqual([
      '002 rollback-differs',
      '  added index public.users_email_idx',
      '002 reapply-failed',
    ]);
    expect(report.problems[0]!.message).toMatch(/rollback file is empty/);
  });

  it('names a rollback that drops the wrong column', async () => {
    const report = await run(
      {
        ...USERS,
        'migrations/002_nick.sql': 'alter table users add column nick text;\n',
        'rollback/002_nick_rollback.sql': 'alter table users drop column name;\n',
      },
      'step',
    );
    expect(found(report).slice(0, 3)).toEqual([
      '002 rollback-differs',
      '  missing column public.users.name',
      '  added column public.users.nick',
    ]);
  });

  it('names a function left behind', async () => {
    const report = await run(
      {
        ...USERS,
        'migrations/002_fn.sql':
          "create function shout(t text) returns text language sql as $$ select upper(t) || '!' $$;\nalter table users add column loud text;\n",
        'rollback/002_fn_rollback.sql': 'alter table users drop column loud;\n',
      },
      'step',
    );
    expect(found(report)).toContain('  added function public.shout(t text)');
  });

  it('names an enum re-created with its values in another order', async () => {
    const report = await run(
      {
        'migrations/001_mood.sql': "create type mood as enum ('happy', 'sad');\n",
        'rollback/001_mood_rollback.sql': 'drop type mood;\n',
        'migrations/002_ok.sql': "alter type mood add value 'meh';\n",
        'rollback/002_ok_rollback.sql': "drop type mood; create type mood as enum ('sad', 'happy');\n",
      },
      'step',
    );
    expect(found(report)).toEqual([
      '002 rollback-differs',
      "  changed enum public.mood: values 'happy', 'sad' -> 'sad', 'happy'",
    ]);
  });

  it('names a rollback that forgets a rule, an event trigger or default privileges', async () => {
    const report = await run(
      {
        'migrations/001_t.sql':
          'create table t (id int);\ncreate function audit_ddl() returns event_trigger language plpgsql as $$ begin end $$;\n',
        'rollback/001_t_rollback.sql': 'drop table t;\ndrop function audit_ddl();\n',
        // Each up can run again over what its rollback forgot, so that every step is tested.
        'migrations/002_rule.sql': 'create or replace rule t_log as on delete to t do also notify t_deleted;\n',
        'rollback/002_rule_rollback.sql': '-- forgotten\n',
        'migrations/003_event.sql':
          'drop event trigger if exists audit_ddl;\ncreate event trigger audit_ddl on ddl_command_end execute function audit_ddl();\n',
        'rollback/003_event_rollback.sql': '-- forgotten\n',
        'migrations/004_defaults.sql': 'alter default privileges grant select on tables to public;\n',
        'rollback/004_defaults_rollback.sql': '-- forgotten\n',
      },
      'step',
    );
    expect(found(report)).toEqual([
      '002 rollback-differs',
      '  added rule public.t.t_log',
      '003 rollback-differs',
      '  added event trigger audit_ddl',
      '004 rollback-differs',
      expect.stringMatching(/^ {2}added default privileges for role \S+ on tables$/),
    ]);
    expect(report.warnings).toEqual([]);
  });

  it('passes step mode and fails chain mode when a rollback relies on what a later rollback leaves', async () => {
    const files = {
      'migrations/001_t.sql': 'create table t (id int);\n',
      // Refuses to drop a table that still holds rows: fine right after 001, not after 002's rows.
      'rollback/001_t_rollback.sql':
        "do $$ begin if exists (select 1 from t) then raise exception 't still has rows'; end if; end $$;\ndrop table t;\n",
      'migrations/002_rows.sql': 'insert into t values (1);\n',
      'rollback/002_rows_rollback.sql': '-- the rows stay (data, not schema)\n',
    };
    expect(found(await run(files, 'step'))).toEqual([]);
    const chain = await run(files, 'chain');
    expect(found(chain)).toEqual(['001 rollback-failed']);
    expect(chain.problems[0]!.message).toMatch(/t still has rows/);
  });

  it('names the migration whose rollback leaves a difference that only the chain shows', async () => {
    const files = {
      'migrations/001_t.sql': 'create table t (id int);\ncreate table audit (id int);\n',
      // Keeps t when it holds rows: empty right after 001 (step mode), not after 002's rows (chain mode).
      'rollback/001_t_rollback.sql':
        'do $$ begin if not exists (select 1 from t) then drop table t; end if; end $$;\ndrop table audit;\n',
      'migrations/002_rows.sql': 'insert into t values (1);\n',
      'rollback/002_rows_rollback.sql': '-- the rows stay (data, not schema)\n',
      'migrations/003_u.sql': 'create table u (id int);\ncreate index u_id_idx on u (id);\n',
      'rollback/003_u_rollback.sql': 'drop table u;\n',
    };
    expect(found(await run(files, 'step'))).toEqual([]);
    const chain = await run(files, 'chain');
    expect(found(chain)[0]).toBe('001 rollback-differs');
    expect(found(chain)[1]).toBe('  added table public.t');
    expect(chain.problems[0]!.message).toBe(
      'the rollback of 001_t (in the chain, after the rollbacks of everything newer) does not restore the schema it found',
    );
    expect(chain.problems[0]!.file).toBe('rollback/001_t_rollback.sql');
  });

  it('passes chain mode and fails step mode when a rollback undoes part of the next migration', async () => {
    const files = {
      'migrations/001_a.sql': 'create table a (id int);\n',
      'rollback/001_a_rollback.sql': 'drop table b;\ndrop table a;\n',
      'migrations/002_b.sql': 'create table b (id int);\n',
      'rollback/002_b_rollback.sql': '-- 001 drops b\n',
    };
    expect(found(await run(files, 'chain'))).toEqual([]);
    const step = await run(files, 'step');
    expect(found(step)[0]).toBe('001 rollback-failed');
    expect(step.problems[0]!.message).toMatch(/table "b" does not exist/);
  });

  it('starts after --from and lists migrations that are not re-runnable with --idempotent', async () => {
    const report = await run(
      {
        ...USERS,
        'migrations/002_guarded.sql': 'create table if not exists audit (id int);\n',
        'rollback/002_guarded_rollback.sql': 'drop table audit;\n',
        'migrations/003_plain.sql': 'create table notes (id int);\n',
        'rollback/003_plain_rollback.sql': 'drop table notes;\n',
      },
      'step',
      { from: '001', idempotent: true },
    );
    expect(report.startVersion).toBe('001');
    expect(report.tested.map((t) => t.version)).toEqual(['002', '003']);
    expect(found(report)).toEqual([]);
    expect(report.warnings.map((w) => `${w.version} ${w.code}`)).toEqual(['003 not-rerunnable']);
    expect(report.warnings[0]!.message).toMatch(/relation "notes" already exists/);
  });

  it('starts from a schema file at the version in its header', async () => {
    const dir = makeProject({
      ...USERS,
      'migrations/002_nick.sql': 'alter table users add column nick text;\n',
      'rollback/002_nick_rollback.sql': 'alter table users drop column nick;\n',
      'schema.sql':
        '-- tidemark version: 001\n\nCREATE TABLE public.users (id bigint generated always as identity primary key, email text not null, name text);\n',
    });
    const settings = loadSettings({ databaseUrl: db.url }, {}, dir);
    const migrations = await loadMigrations({
      migrationsDir: settings.migrationsDir,
      rollbackDir: settings.rollbackDir,
      cwd: dir,
    });
    const start = await rollbackStart(settings, 'x', { fromSchema: true });
    const report = await testRollback(contextOf(settings, migrations), { mode: 'step', start });
    expect(report.startVersion).toBe('001');
    expect(report.tested.map((t) => [t.version, t.ok])).toEqual([['002', true]]);
  });

  it('starts from the newest backup of the database and tests the migrations pending there', async () => {
    const files = {
      ...USERS,
      'migrations/002_nick.sql': 'alter table users add column nick text;\n',
      'rollback/002_nick_rollback.sql': '-- forgotten\n',
    };
    const dir = makeProject(files);
    const settings = loadSettings({ databaseUrl: db.url }, { BACKUP_DIR: 'backups' }, dir);
    const migrations = await loadMigrations({
      migrationsDir: settings.migrationsDir,
      rollbackDir: settings.rollbackDir,
      cwd: dir,
    });
    // The real database at 001, backed up the way `up` does it.
    await db.reset();
    await contextOf(settings, migrations).migrator.up({ to: '001', noBackup: true });
    const { takeBackup } = await import('../../src/backup/index.js');
    await takeBackup({ params: paramsFromUrl(db.url), dir: settings.backupDir, versionBefore: '001' });
    const start = await rollbackStart(settings, db.name, { fromBackup: true });
    expect(start.kind).toBe('backup');
    const report = await testRollback(contextOf(settings, migrations), { mode: 'step', start });
    expect(report.startVersion).toBe('001');
    expect(found(report)).toEqual(['002 rollback-differs', '  added column public.users.nick', '002 reapply-failed']);
    expect(await scratchesOf(process.pid)).toEqual([]);
    await db.reset();
  });

  it('says the role needs CREATEDB when it lacks it (exit 2)', async () => {
    const role = `tm_nocreatedb_${process.pid}`;
    // A password: the embedded server of a run without TEST_DATABASE_URL does not trust local connections.
    await adminQuery(`create role ${role} login password 'nocreatedb'`);
    try {
      const url = new URL(db.url);
      url.username = role;
      url.password = 'nocreatedb';
      const dir = makeProject(USERS);
      const result = await runCli(['test-rollback'], { cwd: dir, env: { DATABASE_URL: url.toString() } });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(new RegExp(`role "${role}" may not create databases \\(it lacks CREATEDB\\)`));
      expect(result.stderr).toMatch(/ALTER ROLE/);
    } finally {
      await adminQuery(`drop role ${role}`);
    }
  });
});

describe('migrate test-rollback (CLI)', () => {
  it('exits 1 naming the failing migration, and --json gives every step', async () => {
    const dir = makeProject({
      ...USERS,
      'migrations/002_idx.sql': 'create index users_email_idx on users (email);\n',
      'rollback/002_idx_rollback.sql': 'select 1;\n',
    });
    const human = await runCli(['test-rollback'], { cwd: dir, env: { DATABASE_URL: db.url } });
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/FAIL 002_idx: the rollback of 002_idx does not restore the schema it found/);
    expect(human.stdout).toMatch(/added index public\.users_email_idx/);

    const json = await runCli(['test-rollback', '--json'], { cwd: dir, env: { DATABASE_URL: db.url } });
    expect(json.code).toBe(1);
    const doc = JSON.parse(json.stdout);
    expect(doc.ok).toBe(false);
    expect(
      doc.steps.map((s: { action: string; version: string; ok: boolean }) => `${s.action} ${s.version} ${s.ok}`),
    ).toEqual([
      'apply 001 true',
      'rollback 001 true',
      'compare 001 true',
      'reapply 001 true',
      'apply 002 true',
      'rollback 002 true',
      'compare 002 false',
      'reapply 002 false',
    ]);
    expect(doc.problems[0]).toMatchObject({
      code: 'rollback-differs',
      version: '002',
      changes: [{ change: 'added', kind: 'index', name: 'public.users_email_idx' }],
    });
  });

  it('drops its scratch database when SIGTERM arrives mid-run (exit 143)', async () => {
    const dir = makeProject({
      'migrations/001_slow.sql': 'select pg_sleep(30);\n',
      'rollback/001_slow_rollback.sql': 'select 1;\n',
    });
    let pid = 0;
    let seen: string[] = [];
    const result = await runCli(['test-rollback'], {
      cwd: dir,
      env: { DATABASE_URL: db.url },
      // Its DROP DATABASE waits for a checkpoint: over a minute on the shared server with two CPU hogs.
      timeoutMs: 150_000,
      onSpawn: (child) => {
        pid = child.pid!;
        // Wait until the scratch database exists and its migration runs, then interrupt, once: overlapping
        // polls under load sent two signals, and the second exits without dropping the scratch database.
        onceServerShows(
          child,
          async () => {
            const { rows } = await adminQuery(
              `select datname from pg_stat_activity where query like '%pg_sleep(30)%' and datname like $1`,
              [`${SCRATCH_PREFIX}${pid}\\_%`],
            );
            seen = rows.map((r) => String(r.datname));
            return rows.length > 0;
          },
          () => child.kill('SIGTERM'),
        );
      },
    });
    expect(seen).toHaveLength(1);
    expect(result.code).toBe(143);
    expect(await scratchesOf(pid)).toEqual([]);
  });
});
