import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeBackup } from '../../src/backup/index.js';
import { paramsFromUrl } from '../../src/db/params.js';
import { adminQuery, testDatabase, type TestDatabase } from '../helpers/db.js';
import { removeTempDirs, tempDir } from './fakes.js';

let db: TestDatabase;
const role = `tm_secret_${process.pid}`;
const password = `Pw-${Math.random().toString(36).slice(2)}-never-in-argv`;

beforeAll(async () => {
  db = await testDatabase('backup_secrets');
  await adminQuery(`create role ${role} login superuser password '${password}'`);
  await db.query('create table held (id int); insert into held values (1)');
});
afterAll(async () => {
  await db.drop();
  await removeTempDirs();
  await adminQuery(`drop role if exists ${role}`);
});

describe('the password', () => {
  it('reaches pg_dump through its environment, never its command line', async () => {
    const url = new URL(db.url);
    url.username = role;
    url.password = password;
    const params = paramsFromUrl(url.toString());

    // Hold a lock that pg_dump's LOCK TABLE ... IN ACCESS SHARE MODE must wait for, so pg_dump is
    // certainly running (not exited, not a zombie with an empty cmdline) while /proc is read.
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    await locker.query('begin; lock table held in access exclusive mode');
    let seen: { cmdline: string; environ: string } | undefined;
    let readFailure: unknown;
    const backup = takeBackup({
      params,
      dir: await tempDir('tm-secrets-'),
      versionBefore: null,
      onEvent: (event) => {
        if (event.type !== 'spawn' || event.program !== 'pg_dump') return;
        void (async () => {
          try {
            // Wait until pg_dump is blocked on the lock, then read its /proc entries.
            let waited = false;
            for (let i = 0; i < 200 && !waited; i++) {
              const waiting = await db.query(
                "select 1 from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 'held' and not l.granted",
              );
              waited = waiting.length > 0;
              if (!waited) await new Promise((r) => setTimeout(r, 25));
            }
            if (!waited) throw new Error('pg_dump never waited for the lock');
            seen = {
              cmdline: (await readFile(`/proc/${event.pid}/cmdline`, 'utf8')).split('\0').join(' '),
              environ: (await readFile(`/proc/${event.pid}/environ`, 'utf8')).split('\0').join('\n'),
            };
          } catch (error) {
            readFailure = error;
          } finally {
            await locker.query('commit').catch(() => {});
          }
        })();
      },
    });
    const result = await backup;
    await locker.end();
    expect(readFailure).toBeUndefined();
    expect(seen).toBeDefined();
    expect(seen!.cmdline).toMatch(/pg_dump/);
    expect(seen!.cmdline).toContain('--format=custom');
    expect(seen!.cmdline).not.toContain(password);
    expect(seen!.cmdline).not.toContain(role);
    expect(seen!.environ).toContain(`PGPASSWORD=${password}`);
    expect(result.tables).toEqual(['public.held']);
  });
});
