/**
 * The library embedded at an app's start, as an app does it: its own pg.Pool, migrations in a folder next to
 * the code, three lines. Policy is opt-in: no backup file, no db_backups table, no lint, no production guard,
 * and nothing read from the environment (MIGRATE_ENV=production is set in this process to prove it).
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMigrator, KNOBS, MigrateError, type MigratorEvent } from '../../src/index.js';
import { testDatabase, type TestDatabase } from '../helpers/db.js';

const USERS = 'create table users (id bigint generated always as identity primary key, email text not null);\n';
// Not concurrently, on a table that has rows: the lint's require-concurrent-index-creation error, when lint is on.
const INDEX = 'create index users_email on users (email);\n';

let db: TestDatabase;
let dir: string;
let pool: pg.Pool;
const saved = { ...process.env };

beforeAll(async () => {
  db = await testDatabase('library_embed');
});
afterAll(async () => {
  await db?.drop();
});

beforeEach(async () => {
  await db.reset();
  dir = await mkdtemp(join(tmpdir(), 'tidemark-app-'));
  await mkdir(join(dir, 'migrations'));
  await writeFile(join(dir, 'migrations', '001_users.sql'), USERS);
  await writeFile(
    join(dir, 'migrations', '002_seed_users.sql'),
    "insert into users (email) values ('a@example.com');\n",
  );
  await writeFile(join(dir, 'migrations', '003_users_email.sql'), INDEX);
  // What the CLI would obey; the library must not see any of it.
  Object.assign(process.env, {
    MIGRATE_ENV: 'production',
    BACKUP_BEFORE_MIGRATE: 'true',
    BACKUP_DIR: join(dir, 'env-backups'),
    MIGRATIONS_TABLE: 'from_env_migrations',
    DATABASE_URL: 'postgres://nobody@127.0.0.1:1/nothing',
  });
  pool = new pg.Pool({ connectionString: db.url, max: 3 });
});

afterEach(async () => {
  process.env = { ...saved };
  await pool.end();
  await rm(dir, { recursive: true, force: true });
});

async function tables(): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    "select schemaname || '.' || tablename as name from pg_tables where schemaname not in ('pg_catalog', 'information_schema') order by 1",
  );
  return rows.map((r) => r.name);
}

describe('createMigrator at app start with the app pool', () => {
  it('applies the folder, creates only the tracking table, writes no file, and leaves the pool usable', async () => {
    const cwdBefore = readdirSync(process.cwd());
    const events: MigratorEvent['type'][] = [];
    const migrator = createMigrator({
      database: pool,
      migrations: { directory: pathToFileURL(join(dir, 'migrations')) },
      onEvent: (e) => events.push(e.type),
    });
    const result = await migrator.up();

    expect(result.applied.map((m) => m.version)).toEqual(['001', '002', '003']);
    expect(result.failed).toBeUndefined();
    // No backup, no lint, no production guard (DDL ran although MIGRATE_ENV=production is in the environment).
    expect(result.backup).toBeUndefined();
    expect(result.backupSkipped).toBeUndefined();
    expect(result.lint).toBeUndefined();
    expect(events).not.toContain('backup-start');
    expect(events).not.toContain('lint');
    expect(await tables()).toEqual(['public.schema_migrations', 'public.users']);
    expect(existsSync(join(dir, 'env-backups'))).toBe(false);
    expect(readdirSync(dir)).toEqual(['migrations']);
    expect(readdirSync(process.cwd())).toEqual(cwdBefore);

    // The pool is the app's: its client came back, it still answers, and no runner lock is left on it.
    expect(pool.totalCount).toBe(pool.idleCount);
    expect((await pool.query('select count(*)::int as n from users')).rows[0].n).toBe(1);
    expect(
      (
        await pool.query(
          "select count(*)::int as n from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())",
        )
      ).rows[0].n,
    ).toBe(0);
    expect(pool.ending).toBe(false);
  });

  it('a second start is a no-op, and status reads the same history', async () => {
    const migrator = createMigrator({ database: pool, migrations: { directory: join(dir, 'migrations') } });
    await migrator.up();
    const again = await migrator.up();
    expect(again.applied).toEqual([]);
    expect(again.notRun).toEqual([]);
    const status = await migrator.status();
    expect(status.entries.map((e) => `${e.version}:${e.state}`)).toEqual(['001:applied', '002:applied', '003:applied']);
    expect((await migrator.verify({ allowMissingRollback: true })).errors).toBe(0);
  });

  it('opt-in lint stops the run with a hint that names the option, not a CLI flag', async () => {
    await createMigrator({
      database: pool,
      migrations: [
        { version: 1, name: 'users', up: USERS },
        { version: 2, name: 'seed', up: "insert into users (email) values ('a')" },
      ],
    }).up();
    await writeFile(join(dir, 'migrations', '002_seed.sql'), "insert into users (email) values ('a')");
    await rm(join(dir, 'migrations', '002_seed_users.sql'));
    // sizeThresholdBytes 0: users is tiny, and this is about a refusal as on a big table.
    const migrator = createMigrator({
      database: pool,
      migrations: { directory: join(dir, 'migrations') },
      lint: true,
      lintRules: { sizeThresholdBytes: 0 },
    });
    const error = await migrator.up().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrateError);
    expect((error as MigrateError).code).toBe('lint-blocked');
    expect((error as MigrateError).hint).toContain('up({ skipLint: true })');
    expect((error as MigrateError).hint).not.toContain('--skip-lint');
    expect((error as MigrateError).hint).toContain(`(${KNOBS.lint.library} shows it)`);
    expect((error as MigrateError).hint).not.toMatch(/migrate lint|\{\{/);
    const skipped = await migrator.up({ skipLint: true });
    expect(skipped.applied.map((m) => m.version)).toEqual(['003']);
    expect(skipped.lint?.skipped).toBe('up({ skipLint: true })');
  });

  it('opt-in production guard refuses DDL and names the option that allows it', async () => {
    const migrator = createMigrator({
      database: pool,
      migrations: { directory: join(dir, 'migrations') },
      production: true,
      backup: { directory: join(dir, 'backups') },
    });
    const error = (await migrator.up().catch((e: unknown) => e)) as MigrateError;
    expect(error.code).toBe('ddl-in-production');
    expect(error.hint).toContain('production: { allowDdl: true }');
    expect(error.hint).toContain(`(${KNOBS.lintLocks.library} shows what each statement locks)`);
    expect(error.hint).not.toMatch(/migrate lint|\{\{/);
    expect(await tables()).toEqual([]);
  });

  it('opt-in backup takes a validated pg_dump from the pool configuration into the given folder', async () => {
    const migrator = createMigrator({
      database: pool,
      migrations: { directory: join(dir, 'migrations') },
      backup: { directory: join(dir, 'backups') },
    });
    await createMigrator({ database: pool, migrations: [{ version: 1, name: 'users', up: USERS }] }).up();
    const result = await migrator.up();
    expect(result.backup?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(readdirSync(join(dir, 'backups')).filter((f) => f.endsWith('.dump'))).toHaveLength(1);
  });

  it('restore takes a relative file from root (or the parent of the migrations folder), never from the process cwd', async () => {
    const backup = { directory: join(dir, 'backups') };
    const restoreError = async (migrator: ReturnType<typeof createMigrator>) =>
      (await migrator.restore({ file: 'backups/app.dump', into: 'x' }).catch((e: unknown) => e)) as MigrateError;
    // Migrations in a folder: paths are relative to the folder that holds it (as for lint FILE).
    const fromFolder = await restoreError(
      createMigrator({ database: pool, migrations: { directory: join(dir, 'migrations') }, backup }),
    );
    expect(fromFolder.code).toBe('restore-file-not-found');
    expect(fromFolder.message).toContain(join(dir, 'backups', 'app.dump'));
    // Migrations given as a list and no root: nothing to resolve against, and the process cwd is not used.
    const noRoot = await restoreError(createMigrator({ database: pool, migrations: [], backup }));
    expect(noRoot.code).toBe('restore-file-not-found');
    expect(noRoot.exitCode).toBe(2);
    expect(noRoot.message).toContain('no root folder');
  });

  it('announces the backend it migrates on, and does not give a terminated connection back to the pool', async () => {
    const terminated: number[] = [];
    const migrator = createMigrator({
      database: pool,
      migrations: [{ version: 1, name: 'slow', up: 'select pg_sleep(30);' }],
      onEvent: (e) => {
        if (e.type !== 'migration-start') return;
        terminated.push(e.backendPid);
        // A second connection, as an operator (or the live monitor) would use.
        setTimeout(() => void db.query('select pg_terminate_backend($1)', [e.backendPid]), 300);
      },
    });
    const error = (await migrator.up().catch((e: unknown) => e)) as MigrateError;
    expect(error.code).toBe('db-connection-lost');
    expect(terminated).toHaveLength(1);
    // The dead client was destroyed, not handed out again: the pool opens a fresh one and works.
    expect((await pool.query('select pg_backend_pid() as pid')).rows[0].pid).not.toBe(terminated[0]);
    expect(await db.query('select version from schema_migrations')).toEqual([]);
  });

  it('explains an unreachable database in its own words: the database option, not DATABASE_URL or --embedded', async () => {
    const migrator = createMigrator({ database: 'postgres://postgres@127.0.0.1:1/nothing', migrations: [] });
    const error = (await migrator.status().catch((e: unknown) => e)) as MigrateError;
    expect(error.code).toBe('db-refused');
    expect(error.exitCode).toBe(3);
    expect(error.hint).toContain('the database option');
    expect(error.hint).not.toMatch(/DATABASE_URL|--embedded/);
  });

  it('refuses relative folders (it does not read the working directory), naming the option', () => {
    let error: unknown;
    try {
      createMigrator({ database: pool, migrations: { directory: 'migrations' } });
    } catch (e) {
      error = e;
    }
    expect((error as MigrateError).code).toBe('bad-options');
    expect((error as MigrateError).message).toContain('migrations.directory');
    expect(createMigrator({ database: pool, migrations: { directory: 'migrations' }, root: dir })).toBeDefined();
  });
});
