/**
 * One error, two readers: the catalogue's knobs (error-codes.ts KNOBS) make the same hint name a flag for a
 * CLI user and an option for a library user.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { lockKey } from '../../src/db/lock.js';
import { KNOBS, MigrateError, createMigrator } from '../../src/index.js';
import { useTestDatabase } from '../helpers/db.js';
import { makeProject, runCli } from '../helpers/project.js';

const db = useTestDatabase('library_hints', { resetEach: true });

/** Holds the runner lock of the test database's default tracking table while `fn` runs. */
async function whileLocked<T>(fn: () => Promise<T>): Promise<T> {
  const holder = new pg.Client({ connectionString: db.url, application_name: 'other-runner' });
  holder.on('error', () => {});
  await holder.connect();
  try {
    await holder.query('select pg_advisory_lock($1::bigint)', [
      lockKey(db.name, { schema: 'public', table: 'schema_migrations' }).toString(),
    ]);
    return await fn();
  } finally {
    await holder.end();
  }
}

const MIGRATIONS = [{ version: 1, name: 'a', up: 'create table a (id int)' }];

describe('the runner lock not acquired in time (runner-lock-timeout)', () => {
  it('tells a library user to pass a larger lockWaitMs option, never --wait', async () => {
    const error = await whileLocked(() =>
      createMigrator({ database: db.url, migrations: MIGRATIONS, lockWaitMs: 300 })
        .up()
        .catch((e: unknown) => e),
    );
    expect(error).toBeInstanceOf(MigrateError);
    expect((error as MigrateError).code).toBe('runner-lock-timeout');
    expect((error as MigrateError).hint).toContain(KNOBS.wait.library);
    expect((error as MigrateError).hint).not.toMatch(/--wait|\{\{/);
  });

  it('tells a CLI user to pass --wait SECONDS', async () => {
    const dir = makeProject({ 'migrations/001_a.sql': 'create table a (id int);\n' });
    const result = await whileLocked(() =>
      runCli(['up', '--wait', '1', '--no-backup'], { cwd: dir, env: { DATABASE_URL: db.url } }),
    );
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('pass --wait SECONDS to wait longer');
    expect(result.stderr).not.toContain('lockWaitMs');
  });
});

describe('a refused connection (db-refused)', () => {
  it('names the database option for a library user and DATABASE_URL and --embedded for a CLI user', async () => {
    const url = 'postgres://postgres@127.0.0.1:1/nothing';
    const library = (await createMigrator({ database: url, migrations: [] })
      .status()
      .catch((e: unknown) => e)) as MigrateError;
    expect(library.hint).toBe('Start the server or fix the host and port in the database option.');
    const cli = await runCli(['status'], { cwd: makeProject(), env: { DATABASE_URL: url } });
    expect(cli.stderr).toContain(
      'Start the server or fix the host and port in DATABASE_URL. To try tidemark on a local throwaway PostgreSQL 15, add --embedded (data in .tidemark/embedded).',
    );
  });
});

describe('an out-of-order pending migration', () => {
  const both = [
    { version: 1, name: 'a', up: 'create table a (id int)' },
    { version: 3, name: 'c', up: 'create table c (id int)' },
  ];
  const late = [...both, { version: 2, name: 'b', up: 'create table b (id int)' }];

  it('blocks up() with a message that names up({ allowOutOfOrder: true }) and status(), never the flags', async () => {
    await createMigrator({ database: db.url, migrations: both }).up();
    const error = (await createMigrator({ database: db.url, migrations: late })
      .up()
      .catch((e: unknown) => e)) as MigrateError;
    expect(error.code).toBe('run-blocked');
    expect(error.message).toContain('or pass up({ allowOutOfOrder: true })');
    expect(error.hint).toBe('Nothing was run. status() shows every migration and its state.');
    expect(`${error.message} ${error.hint}`).not.toMatch(/--allow-out-of-order|migrate /);
  });

  it('is a verify() finding that names the option', async () => {
    await createMigrator({ database: db.url, migrations: both }).up();
    const report = await createMigrator({ database: db.url, migrations: late }).verify();
    const finding = report.findings.find((f) => f.code === 'out-of-order');
    expect(finding?.message).toContain('or run it with up({ allowOutOfOrder: true })');
    expect(finding?.message).not.toContain('--allow-out-of-order');
  });

  it('is a migrate verify finding that names the flag', async () => {
    const dir = makeProject({
      'migrations/001_a.sql': 'create table a (id int);\n',
      'migrations/003_c.sql': 'create table c (id int);\n',
    });
    expect((await runCli(['up', '--no-backup'], { cwd: dir, env: { DATABASE_URL: db.url } })).code).toBe(0);
    const cli = await runCli(['verify'], {
      cwd: makeProject({
        'migrations/001_a.sql': 'create table a (id int);\n',
        'migrations/002_b.sql': 'create table b (id int);\n',
        'migrations/003_c.sql': 'create table c (id int);\n',
      }),
      env: { DATABASE_URL: db.url },
    });
    expect(cli.stdout + cli.stderr).toContain('or run it with migrate up --allow-out-of-order');
  });
});

describe("another tool's table where the tracking table should be (foreign-tracking-table)", () => {
  /** golang-migrate's history table under tidemark's default name. */
  async function golangMigrateTable(): Promise<void> {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query('create table public.schema_migrations (version bigint primary key, dirty boolean not null)');
    } finally {
      await client.end();
    }
  }

  it('names the table option and baseline({ from }) for a library user', async () => {
    await golangMigrateTable();
    const error = (await createMigrator({ database: db.url, migrations: MIGRATIONS })
      .up()
      .catch((e: unknown) => e)) as MigrateError;
    expect(error.code).toBe('foreign-tracking-table');
    expect(error.hint).toContain(`with ${KNOBS.trackingTable.library} (e.g. tidemark_migrations`);
    expect(error.hint).toContain(`see ${KNOBS.adoptHistory.library}.`);
    expect(error.hint).not.toMatch(/MIGRATIONS_TABLE|migrate baseline|\{\{/);
  });

  it('names MIGRATIONS_TABLE and migrate baseline for a CLI user', async () => {
    await golangMigrateTable();
    const dir = makeProject({ 'migrations/001_a.sql': 'create table a (id int);\n' });
    const cli = await runCli(['up', '--no-backup'], { cwd: dir, env: { DATABASE_URL: db.url } });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain('with MIGRATIONS_TABLE (e.g. tidemark_migrations');
    expect(cli.stderr).toContain('see migrate baseline --from TOOL.');
  });
});

describe('an unknown rule id in the lint settings (bad-settings)', () => {
  it('names lint() and the lintRules option for a library user, never LINT_RULES or migrate lint', async () => {
    const error = (await createMigrator({
      database: db.url,
      migrations: MIGRATIONS,
      lint: true,
      lintRules: { severity: new Map([['no-such-rule', 'off']]) },
    })
      .lint()
      .catch((e: unknown) => e)) as MigrateError;
    expect(error.code).toBe('bad-settings');
    expect(error.hint).toBe(
      `Use rule ids as ${KNOBS.lint.library} prints them (docs/rules/ has one page per rule), e.g. ${KNOBS.ruleOff.library}.`,
    );
    expect(error.hint).not.toMatch(/LINT_RULES|migrate lint|\{\{/);
  });
});
