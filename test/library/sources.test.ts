/**
 * The library in a test setup: migrations in memory or bundled with the app (a record of file name -> SQL),
 * a URL or the app's connected pg.Client, migrate up before the tests and all the way down after.
 */
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMigrator, MigrateError, type MigrationDefinition } from '../../src/index.js';
import { testDatabase, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await testDatabase('library_sources');
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await db.reset();
});

const MIGRATIONS: MigrationDefinition[] = [
  {
    version: 2,
    name: 'orders',
    up: 'create table orders (id bigint primary key, user_id bigint references users);',
    down: 'drop table orders;',
  },
  {
    version: 1,
    name: 'users',
    up: 'create table users (id bigint primary key, email text);',
    down: 'drop table users;',
  },
  {
    version: 3,
    name: 'users_email',
    up: 'create index concurrently users_email on users (email);',
    down: 'drop index concurrently users_email;',
    noTransaction: true,
  },
];

async function relations(): Promise<string[]> {
  const rows = await db.query<{ relname: string }>(
    "select relname from pg_class where relnamespace = 'public'::regnamespace and relkind in ('r', 'i') and relname not like '%pkey' order by 1",
  );
  return rows.map((r) => r.relname);
}

describe('createMigrator with migrations in memory', () => {
  it('runs them in version order, no-transaction ones outside a transaction, and rolls them all back', async () => {
    const migrator = createMigrator({ database: db.url, migrations: MIGRATIONS });
    const up = await migrator.up();
    expect(up.applied.map((m) => `${m.version}_${m.name}`)).toEqual(['1_users', '2_orders', '3_users_email']);
    expect(await relations()).toEqual(['orders', 'schema_migrations', 'users', 'users_email']);

    const down = await migrator.down({ all: true });
    expect(down.applied.map((m) => m.version)).toEqual(['3', '2', '1']);
    expect(await relations()).toEqual(['schema_migrations']);
  });

  it('locates an SQL failure in the migration by its label, line and column, and keeps the earlier ones', async () => {
    const migrator = createMigrator({
      database: db.url,
      migrations: [MIGRATIONS[1]!, { version: 2, name: 'broken', up: 'select 1;\nselect nosuchcolumn from users;' }],
    });
    const error = (await migrator.up().catch((e: unknown) => e)) as MigrateError & {
      result: { applied: { version: string }[]; failed: { error: { file: string; line: number; column: number } } };
    };
    expect(error.code).toBe('migration-failed');
    expect(error.result.applied.map((m) => m.version)).toEqual(['1']);
    expect(error.result.failed.error).toMatchObject({ file: '2_broken', line: 2, column: 8 });
    expect(error.hint).toContain('call up() again');
  });

  it('reports every problem of the list at once, before connecting', async () => {
    const migrator = createMigrator({
      database: 'postgres://nobody@127.0.0.1:1/unreachable',
      migrations: [
        { version: 'v1', name: 'x', up: 'select 1' },
        { version: 1, name: 'a', up: 'select 1' },
        { version: '001', name: 'b', up: 'select 1' },
        { version: 2, name: 'dir/name', up: 'select 1' },
      ],
    });
    const error = (await migrator.up().catch((e: unknown) => e)) as MigrateError & { problems: string[] };
    expect(error.code).toBe('bad-migration-files');
    expect(error.problems).toHaveLength(3);
    expect(error.problems.join('\n')).toMatch(
      /not digits[\s\S]*used by several migrations: 1_a, 001_b[\s\S]*path separator/,
    );
  });
});

describe('createMigrator with files bundled with the app', () => {
  const bundled = {
    'migrations/001_users.sql': 'create table users (id bigint primary key);',
    'migrations/002_orders.up.sql': 'create table orders (id bigint primary key);',
    'migrations/002_orders.down.sql': 'drop table orders;',
    'rollback/001_users_rollback.sql': 'drop table users;',
  };

  it('reads both layouts from the record, up and down', async () => {
    const migrator = createMigrator({ database: db.url, migrations: { files: bundled } });
    expect((await migrator.up()).applied.map((m) => m.version)).toEqual(['001', '002']);
    expect((await migrator.down({ all: true })).applied.map((m) => m.version)).toEqual(['002', '001']);
    expect(await relations()).toEqual(['schema_migrations']);
  });

  it('runs on the app connected pg.Client and leaves it open', async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const migrator = createMigrator({
        database: client,
        migrations: { files: bundled },
        table: 'app.migrations_history',
      });
      await client.query('create schema app');
      await migrator.up();
      expect((await client.query('select count(*)::int as n from app.migrations_history')).rows[0].n).toBe(2);
      const status = await migrator.status();
      expect(status.entries.every((e) => e.state === 'applied')).toBe(true);
    } finally {
      await client.end();
    }
  });

  it('names a bundled file whose name does not parse', async () => {
    const migrator = createMigrator({
      database: db.url,
      migrations: { files: { ...bundled, 'migrations/readme.sql': '' } },
    });
    const error = (await migrator.status().catch((e: unknown) => e)) as MigrateError;
    expect(error.code).toBe('bad-migration-files');
    expect(error.message).toContain('migrations/readme.sql');
  });
});
