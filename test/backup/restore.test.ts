import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restoreBackup, takeBackup, type Backup } from '../../src/backup/index.js';
import { paramsFromUrl } from '../../src/db/params.js';
import { MigrateError } from '../../src/errors.js';
import { adminQuery, queryUrl, testDatabase, urlFor, type TestDatabase } from '../helpers/db.js';
import { removeTempDirs, tempDir } from './fakes.js';

let db: TestDatabase;
let backup: Backup;
const tracking = { schema: 'public', table: 'schema_migrations' };

beforeAll(async () => {
  db = await testDatabase('backup_restore');
  await db.query(`
    create table schema_migrations (version text primary key, name text, checksum text, applied_at timestamptz,
      execution_ms int, applied_by text, dirty boolean default false);
    insert into schema_migrations values ('9', 'a', 'x', now(), 1, 'me', false), ('10', 'b', 'x', now(), 1, 'me', false);
    create table orders (id int primary key, note text);
    insert into orders select g, 'note ' || g from generate_series(1, 500) g;
    create schema "Sales Dept";
    create table "Sales Dept"."Q1 figures" (n int);
    insert into "Sales Dept"."Q1 figures" values (1), (2);
  `);
  backup = await takeBackup({ params: paramsFromUrl(db.url), dir: await tempDir('tm-restore-'), versionBefore: '10' });
});
afterAll(async () => {
  // The databases restored into start with the run's prefix: they go with the run's (a drop here would wait
  // for a checkpoint of the whole server).
  await db.drop();
  await removeTempDirs();
});

/** A database to restore into, named with the run's prefix. */
function target(suffix: string): string {
  return `${db.name}_${suffix}`;
}

describe('restoreBackup', () => {
  it('creates the database, restores it, checks its tables and tells the version it is at', async () => {
    const into = target('copy');
    const result = await restoreBackup({
      file: backup.path,
      params: paramsFromUrl(db.url),
      into,
      trackingTable: tracking,
    });
    expect(result).toMatchObject({ database: into, created: true, previousDatabase: undefined, version: '10' });
    expect([...result.tables].sort()).toEqual(['Sales Dept.Q1 figures', 'public.orders', 'public.schema_migrations']);
    const rows = await queryUrl<{ n: string }>(urlFor(into, db.url), 'select count(*)::text as n from orders');
    expect(rows[0]!.n).toBe('500');
  });

  it('refuses an existing non-empty database without force, and leaves it as it was', async () => {
    const into = target('busy');
    await adminQuery(`create database "${into}"`);
    await queryUrl(urlFor(into, db.url), 'create table keep_me (id int); insert into keep_me values (42)');
    const error = await restoreBackup({
      file: backup.path,
      params: paramsFromUrl(db.url),
      into,
      trackingTable: tracking,
    }).catch((e: unknown) => e);
    expect((error as MigrateError).code).toBe('restore-target-not-empty');
    expect((error as MigrateError).exitCode).toBe(2);
    const rows = await queryUrl<{ id: number }>(urlFor(into, db.url), 'select id from keep_me');
    expect(rows).toEqual([{ id: 42 }]);
  });

  it('with force, restores beside the database, swaps them, and keeps the old one under another name', async () => {
    const into = target('forced');
    await adminQuery(`create database "${into}"`);
    await queryUrl(urlFor(into, db.url), 'create table added_later (id int)');
    const result = await restoreBackup({
      file: backup.path,
      params: paramsFromUrl(db.url),
      into,
      force: true,
      trackingTable: tracking,
      now: () => new Date(Date.UTC(2024, 0, 2, 3, 4, 5)),
    });
    // <name>_before_restore_<stamp>, the name cut so the whole fits PostgreSQL's 63 bytes.
    expect(result.previousDatabase).toMatch(/_before_restore_20240102T030405Z$/);
    expect(into.startsWith(result.previousDatabase!.replace(/_before_restore_.*$/, ''))).toBe(true);
    expect(result.previousDatabase!.length).toBeLessThanOrEqual(63);
    const now = await queryUrl<{ t: string }>(
      urlFor(into, db.url),
      "select string_agg(tablename, ',' order by tablename) as t from pg_tables where schemaname = 'public'",
    );
    expect(now[0]!.t).toBe('orders,schema_migrations');
    const old = await queryUrl<{ t: string }>(
      urlFor(result.previousDatabase!, db.url),
      "select string_agg(tablename, ',') as t from pg_tables where schemaname = 'public'",
    );
    expect(old[0]!.t).toBe('added_later');
  });

  it('refuses a file that is not a complete archive before creating anything', async () => {
    const bad = join(await tempDir('tm-restore-bad-'), 'bad.dump');
    await writeFile(bad, 'PGDMP not really');
    const into = target('never');
    const error = await restoreBackup({
      file: bad,
      params: paramsFromUrl(db.url),
      into,
      trackingTable: tracking,
    }).catch((e: unknown) => e);
    expect((error as MigrateError).code).toBe('restore-invalid-archive');
    const exists = await adminQuery('select 1 from pg_database where datname = $1', [into]);
    expect(exists.rowCount).toBe(0);
  });

  it('drops the database it created when pg_restore fails', async () => {
    const into = target('fails');
    // An archive whose restore fails: it needs a role that does not exist on the server.
    const role = `tm_gone_${Date.now()}`;
    await adminQuery(`create role ${role}`);
    await db.query(`create table owned_elsewhere (id int); alter table owned_elsewhere owner to ${role}`);
    const dir = await tempDir('tm-restore-role-');
    const withRole = await takeBackup({ params: paramsFromUrl(db.url), dir, versionBefore: '10' });
    await db.query('drop table owned_elsewhere');
    await adminQuery(`drop role ${role}`);
    const error = await restoreBackup({
      file: withRole.path,
      params: paramsFromUrl(db.url),
      into,
      trackingTable: tracking,
    }).catch((e: unknown) => e);
    expect((error as MigrateError).code).toBe('restore-failed');
    expect((error as MigrateError).message).toContain(role);
    const exists = await adminQuery('select 1 from pg_database where datname = $1', [into]);
    expect(exists.rowCount).toBe(0);
  });

  it('restores into an existing empty database', async () => {
    const into = target('empty');
    await adminQuery(`create database "${into}"`);
    const result = await restoreBackup({
      file: backup.path,
      params: paramsFromUrl(db.url),
      into,
      trackingTable: tracking,
    });
    expect(result).toMatchObject({ database: into, created: false, version: '10' });
  });
});
