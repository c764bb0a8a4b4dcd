import { chmod, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupDatabase, listBackups } from '../../src/backup/index.js';
import { paramsFromUrl } from '../../src/db/params.js';
import { MigrateError } from '../../src/errors.js';
import { testDatabase, type TestDatabase } from '../helpers/db.js';
import { removeTempDirs, tempDir } from './fakes.js';

let db: TestDatabase;
const tracking = { schema: 'public', table: 'schema_migrations' };

beforeAll(async () => {
  db = await testDatabase('backup_step');
  await db.query(`
    create table schema_migrations (version text primary key, name text, checksum text, applied_at timestamptz,
      execution_ms int, applied_by text, dirty boolean default false);
    insert into schema_migrations values ('002', 'init', 'x', now(), 1, 'me', false);
    create table accounts (id int primary key);
    insert into accounts select generate_series(1, 100);
  `);
});
afterAll(async () => {
  await db.drop();
  await removeTempDirs();
});

const tables = async () =>
  (
    await db.query<{ t: string }>(
      "select string_agg(tablename, ',' order by tablename) as t from pg_tables where schemaname = 'public'",
    )
  )[0]!.t;

describe('backupDatabase', () => {
  it('uploads with the path as its own argv element, records the backup in db_backups and lists it', async () => {
    const dir = await tempDir();
    const seen = join(dir, 'argv.txt');
    const uploader = join(dir, 'upload.sh');
    await writeFile(uploader, `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > '${seen}'\n`);
    await chmod(uploader, 0o755);
    const backupDir = join(dir, 'my backups; rm -rf x');
    const report = await backupDatabase({
      params: paramsFromUrl(db.url),
      dir: backupDir,
      versionBefore: '002',
      trackingTable: tracking,
      retentionDays: 7,
      uploadCommand: `'${uploader}' cp {file} "s3://bucket/with space/"`,
    });
    expect((await readFile(seen, 'utf8')).split('\n')).toEqual(['cp', report.path, 's3://bucket/with space/', '']);
    expect(report.uploadedWith).toEqual([uploader, 'cp', report.path, 's3://bucket/with space/']);

    const logged = await listBackups(paramsFromUrl(db.url), tracking);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      fileName: report.fileName,
      sizeBytes: report.sizeBytes,
      sha256: report.sha256,
      database: db.name,
      versionBefore: '002',
      pgDumpVersion: report.pgDumpVersion,
    });
  });

  it("fails the step with the upload command's stderr, and writes nothing to the database", async () => {
    await db.query('drop table if exists db_backups');
    const before = await tables();
    const dir = await tempDir();
    const error = await backupDatabase({
      params: paramsFromUrl(db.url),
      dir,
      versionBefore: '002',
      trackingTable: tracking,
      retentionDays: 7,
      uploadCommand: `sh -c 'echo "upload: access denied to bucket" >&2; exit 3' upload`,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrateError);
    expect((error as MigrateError).code).toBe('backup-upload-failed');
    expect((error as MigrateError).exitCode).toBe(1);
    expect((error as MigrateError).message).toContain('upload: access denied to bucket');
    expect(await tables()).toBe(before);
  });

  it('stops before dumping when a db_backups table of another shape exists, and leaves it alone', async () => {
    await db.query(
      'drop table if exists db_backups; create table db_backups (file_name text, created_at timestamptz, size_bytes bigint)',
    );
    const dir = await tempDir();
    const error = await backupDatabase({
      params: paramsFromUrl(db.url),
      dir,
      versionBefore: '002',
      trackingTable: tracking,
      retentionDays: 7,
    }).catch((e: unknown) => e);
    expect((error as MigrateError).code).toBe('backup-log-foreign');
    expect(await readdir(dir)).toEqual([]);
    await db.query('drop table db_backups');
  });

  it('prunes old and surplus backups of this database only, never the new one or files it did not write', async () => {
    const dir = await tempDir();
    const now = new Date(Date.UTC(2024, 5, 30, 12, 0, 0));
    const mine = (stamp: string, v = '001') => `${db.name}_${stamp}_${v}.dump`;
    const files = [
      mine('20240601T000000Z'), // 29 days old: too old
      mine('20240628T000000Z'), // recent, but beyond keep=2
      mine('20240629T000000Z'), // recent, kept (2nd newest)
      `other_db_20240101T000000Z_001.dump`, // another database
      `${db.name}_handmade.dump`, // not our pattern
      `.${mine('20240101T000000Z')}.4242-0a1b2c3d.partial`, // a partial file, recently written: maybe a running dump
      'notes.txt',
    ];
    for (const f of files) await writeFile(join(dir, f), 'x');
    const stale = `.${mine('20240102T000000Z')}.4243-0a1b2c3d.partial`; // left by a run killed two hours ago
    await writeFile(join(dir, stale), 'x');
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(join(dir, stale), twoHoursAgo, twoHoursAgo);
    const report = await backupDatabase({
      params: paramsFromUrl(db.url),
      dir,
      versionBefore: '002',
      trackingTable: tracking,
      retentionDays: 7,
      keep: 2,
      now: () => now,
    });
    expect([...report.pruned].sort()).toEqual([mine('20240601T000000Z'), mine('20240628T000000Z')]);
    expect((await readdir(dir)).sort()).toEqual(
      [report.fileName, mine('20240629T000000Z'), files[3]!, files[4]!, files[5]!, 'notes.txt'].sort(),
    );
  });
});
