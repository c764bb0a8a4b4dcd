import { chmod, readdir, stat, writeFile } from 'node:fs/promises';
import pg from 'pg';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeBackup, type BackupEvent } from '../../src/backup/index.js';
import { paramsFromUrl } from '../../src/db/params.js';
import { MigrateError } from '../../src/errors.js';
import { testDatabase, type TestDatabase } from '../helpers/db.js';
import { answersVersion, fakePgDump, removeTempDirs, tempDir } from './fakes.js';

let db: TestDatabase;
const schemaSnapshot = () =>
  db.query<{ t: string }>(
    "select string_agg(table_schema || '.' || table_name, ',' order by 1) as t from information_schema.tables where table_schema not in ('pg_catalog','information_schema')",
  );

beforeAll(async () => {
  db = await testDatabase('backup_take');
  await db.query(`
    create table schema_migrations (version text primary key, name text, checksum text, applied_at timestamptz,
      execution_ms int, applied_by text, dirty boolean default false);
    insert into schema_migrations values ('001', 'init', 'x', now(), 1, 'me', false);
    create table users (id int primary key, email text);
    insert into users select g, 'u' || g || '@example.com' from generate_series(1, 2000) g;
    create schema "odd schema";
    create table "odd schema"."Mixed Case" (x int);
    create table parted (id int) partition by range (id);
    create table parted_1 partition of parted for values from (0) to (100);
    create view v as select 1 as one;
    create materialized view mv as select 1 as one;
    create unlogged table scratch_cache (k text);
  `);
});
afterAll(async () => {
  await db.drop();
  await removeTempDirs();
});

/** Runs `run`, expects a MigrateError with `code`, and checks that the schema and tracking table did not change. */
async function expectFailure(run: () => Promise<unknown>, code: string): Promise<MigrateError> {
  const schemaBefore = await schemaSnapshot();
  const historyBefore = await db.query('select * from schema_migrations order by version');
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MigrateError);
  expect((error as MigrateError).code).toBe(code);
  expect(await schemaSnapshot()).toEqual(schemaBefore);
  expect(await db.query('select * from schema_migrations order by version')).toEqual(historyBefore);
  return error as MigrateError;
}

describe('takeBackup', () => {
  it('writes a validated 0600 dump named <db>_<UTC stamp>_<version>.dump in a 0700 folder', async () => {
    const dir = join(await tempDir(), 'nested', 'backups');
    const events: BackupEvent[] = [];
    const backup = await takeBackup({
      params: paramsFromUrl(db.url),
      dir,
      versionBefore: '001',
      now: () => new Date(Date.UTC(2024, 0, 15, 10, 30, 5)),
      onEvent: (e) => events.push(e),
    });
    expect(backup.fileName).toBe(`${db.name}_20240115T103005Z_001.dump`);
    expect(backup.path).toBe(join(dir, backup.fileName));
    expect((await stat(backup.path)).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect(await readdir(dir)).toEqual([backup.fileName]);
    expect(backup.sizeBytes).toBe((await stat(backup.path)).size);
    expect(backup.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect([...backup.tables].sort()).toEqual(
      [
        'odd schema.Mixed Case',
        'public.parted_1',
        'public.schema_migrations',
        'public.scratch_cache',
        'public.users',
      ].sort(),
    );
    expect(backup.pgDumpVersion).toMatch(/^\d+\.\d+/);
    expect(events.filter((e) => e.type === 'phase').map((e) => (e as { phase: string }).phase)).toEqual([
      'check',
      'dump',
      'validate',
    ]);
  });

  it('fails with the package to install when pg_dump is nowhere', async () => {
    const dir = await tempDir();
    const error = await expectFailure(
      () =>
        takeBackup({ params: paramsFromUrl(db.url), dir, versionBefore: '001', searchPath: dir, installRoots: [dir] }),
      'pg-dump-not-found',
    );
    expect(error.exitCode).toBe(1);
    expect(error.message).toMatch(/install postgresql-client-1\d/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses a pg_dump older than the server, naming both majors', async () => {
    const fake = await fakePgDump('echo "pg_dump (PostgreSQL) 9.6.24"');
    const dir = await tempDir();
    const error = await expectFailure(
      () => takeBackup({ params: paramsFromUrl(db.url), dir, versionBefore: '001', pgDumpPath: fake.path }),
      'pg-dump-too-old',
    );
    expect(error.message).toMatch(
      /^pg_dump 9\.6 cannot dump a PostgreSQL 1\d server: install postgresql-client-1\d or set PG_DUMP_PATH\.$/,
    );
  });

  it('reports pg_dump exiting non-zero with its stderr and removes the partial file', async () => {
    const fake = await fakePgDump(`${answersVersion}
echo 'half a dump' > "$out"
echo 'pg_dump: error: query failed: out of memory' >&2
exit 1`);
    const dir = await tempDir();
    const error = await expectFailure(
      () => takeBackup({ params: paramsFromUrl(db.url), dir, versionBefore: '001', pgDumpPath: fake.dir }),
      'backup-dump-failed',
    );
    expect(error.exitCode).toBe(1);
    expect(error.message).toContain('pg_dump: error: query failed: out of memory');
    expect(await readdir(dir)).toEqual([]);
  });

  it('catches a pg_dump that writes garbage', async () => {
    const fake = await fakePgDump(`${answersVersion}
head -c 65536 /dev/urandom > "$out"`);
    const dir = await tempDir();
    const error = await expectFailure(
      () => takeBackup({ params: paramsFromUrl(db.url), dir, versionBefore: '001', pgDumpPath: fake.path }),
      'backup-invalid',
    );
    expect(error.exitCode).toBe(1);
    expect(error.message).toMatch(/pg_restore --list cannot read it|not a pg_dump custom-format archive/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('catches a truncated dump even though pg_restore --list still reads its table of contents', async () => {
    const fake = await fakePgDump(`${answersVersion}
"$REAL_PG_DUMP" "$@" || exit $?
size=$(wc -c < "$out")
head -c $((size - 100)) "$out" > "$out.cut" && cat "$out.cut" > "$out" && rm "$out.cut"`);
    const dir = await tempDir();
    const error = await expectFailure(
      () => takeBackup({ params: paramsFromUrl(db.url), dir, versionBefore: '001', pgDumpPath: fake.path }),
      'backup-invalid',
    );
    expect(error.message).toMatch(/truncated/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('catches a dump that lacks the data of a table', async () => {
    const fake = await fakePgDump(`${answersVersion}
exec "$REAL_PG_DUMP" "$@" --exclude-table-data=public.users`);
    const dir = await tempDir();
    const error = await expectFailure(
      () => takeBackup({ params: paramsFromUrl(db.url), dir, versionBefore: '001', pgDumpPath: fake.path }),
      'backup-invalid',
    );
    expect(error.message).toContain('no table data for public.users');
    expect(error.details).toMatchObject({ missing: ['public.users'] });
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses when the database does not fit, with both figures', async () => {
    const dir = await tempDir();
    const error = await expectFailure(
      () => takeBackup({ params: paramsFromUrl(db.url), dir, versionBefore: '001', freeSpace: async () => 1024 }),
      'backup-no-room',
    );
    expect(error.message).toMatch(/is \d+(\.\d)? MB, 1\.0 KB is free/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses a backup folder it cannot write', async () => {
    const parent = await tempDir();
    const blocker = join(parent, 'a-file');
    await writeFile(blocker, 'not a folder');
    const error = await expectFailure(
      () => takeBackup({ params: paramsFromUrl(db.url), dir: join(blocker, 'backups'), versionBefore: '001' }),
      'backup-dir-unwritable',
    );
    expect(error.exitCode).toBe(1);
  });

  // Root writes through permission bits, so this variant only proves something for another user.
  it.skipIf(process.getuid?.() === 0)('refuses a backup folder without write permission', async () => {
    const dir = await tempDir();
    await chmod(dir, 0o500);
    try {
      await expectFailure(
        () => takeBackup({ params: paramsFromUrl(db.url), dir, versionBefore: '001' }),
        'backup-dir-unwritable',
      );
    } finally {
      await chmod(dir, 0o700);
    }
  });

  it('rejects a PG_DUMP_PATH that does not exist as a settings error', async () => {
    const dir = await tempDir();
    const error = await expectFailure(
      () =>
        takeBackup({ params: paramsFromUrl(db.url), dir, versionBefore: '001', pgDumpPath: '/nonexistent/pg_dump' }),
      'pg-dump-path-invalid',
    );
    expect(error.exitCode).toBe(2);
  });

  it('kills pg_dump and removes the partial file when aborted', async () => {
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    await locker.query('begin; lock table users in access exclusive mode');
    const dir = await tempDir();
    const controller = new AbortController();
    try {
      const error = await takeBackup({
        params: paramsFromUrl(db.url),
        dir,
        versionBefore: '001',
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type === 'spawn') setTimeout(() => controller.abort('SIGINT'), 200);
        },
      }).catch((e: unknown) => e);
      expect(error).toBe('SIGINT');
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await locker.query('rollback');
      await locker.end();
    }
  });

  it('reports the bytes written while pg_dump runs', async () => {
    await db.query('create table bulk as select g as id, md5(g::text) as h from generate_series(1, 300000) g');
    try {
      const progress: number[] = [];
      const backup = await takeBackup({
        params: paramsFromUrl(db.url),
        dir: await tempDir(),
        versionBefore: '001',
        progressIntervalMs: 10,
        onEvent: (e) => {
          if (e.type === 'progress') progress.push(e.bytes);
        },
      });
      expect(progress.length).toBeGreaterThan(0);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
      expect(progress.at(-1)!).toBeLessThanOrEqual(backup.sizeBytes);
    } finally {
      await db.query('drop table bulk');
    }
  });

  it('never replaces an earlier backup that got the same name in the same second', async () => {
    const dir = await tempDir();
    const at = () => new Date(Date.UTC(2024, 0, 15, 10, 30, 5));
    const params = paramsFromUrl(db.url);
    const [a, b] = await Promise.all([
      takeBackup({ params, dir, versionBefore: '001', now: at }),
      takeBackup({ params, dir, versionBefore: '001', now: at }),
    ]);
    expect([a.fileName, b.fileName].sort()).toEqual([
      `${db.name}_20240115T103005Z_001.dump`,
      `${db.name}_20240115T103006Z_001.dump`,
    ]);
    expect((await readdir(dir)).sort()).toEqual([a.fileName, b.fileName].sort());
    expect((await stat(a.path)).size).toBe(a.sizeBytes);
    expect((await stat(b.path)).size).toBe(b.sizeBytes);
  });
});
