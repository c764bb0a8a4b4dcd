/**
 * Faults during the backup before a migration: the runner killed while pg_dump runs (pg_dump must not outlive
 * it, or it keeps its locks and blocks the next run), and the snapshot session's connection ending under the
 * dump (a short idle_in_transaction_session_timeout, or pg_terminate_backend): the backup survives it.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { adminQuery, useTestDatabase } from '../helpers/db.js';
import {
  REPEAT,
  assertConsistent,
  nextUpFinishes,
  nothingLeft,
  settled,
  startCase,
  tableStep,
  until,
} from './helpers.js';

const db = useTestDatabase('faults_backup');

/** Pids of live processes whose command line mentions `text` (pg_dump's --file= names our backup folder). */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** A table another session holds ACCESS EXCLUSIVE on: pg_dump waits for it (MAX_LOCK_WAIT=0: without a limit). */
async function holdTable(): Promise<pg.Client> {
  await db.query('create table held (id int)');
  const holder = new pg.Client({ connectionString: db.url, application_name: 'holder' });
  await holder.connect();
  holder.on('error', () => {});
  // Its own transaction idles too: exempt it from the database's idle timeout of the test below.
  await holder.query(`set idle_in_transaction_session_timeout = 0; begin; lock table held in access exclusive mode`);
  return holder;
}

function pgDumpWaiting(): Promise<boolean> {
  return until(
    'pg_dump waiting for the held table',
    async () =>
      (
        await db.query(
          `select 1 from pg_locks l join pg_class c on c.oid = l.relation join pg_stat_activity a on a.pid = l.pid
          where c.relname = 'held' and not l.granted and a.query ilike 'lock table%'`,
        )
      ).length > 0,
  );
}

const steps = [tableStep('001', 'first'), tableStep('002', 'second')];

/**
 * The start of every case here: `migrate ...args` (`up` of `steps`, or another command on an empty project)
 * started while another session holds a table, and waited for until its pg_dump queues behind that lock.
 * The case ends `holder` (a `rollback` first lets pg_dump go on).
 */
async function whileDumpWaits(args: readonly string[] = ['up']) {
  const holder = await holdTable();
  try {
    const backups = mkdtempSync(join(tmpdir(), 'tm-fault-backups-'));
    const env = { DATABASE_URL: db.url, BACKUP_DIR: backups, MAX_LOCK_WAIT: '0' };
    const { dir, run } = startCase(args[0] === 'up' ? steps : [], env, args);
    await pgDumpWaiting();
    return { holder, backups, env, dir, run };
  } catch (error) {
    await holder.end().catch(() => {});
    throw error;
  }
}

describe('kill -9 of the runner while pg_dump runs', () => {
  for (let i = 1; i <= REPEAT; i += 1) {
    it(`pg_dump dies with it, its session and the runner lock are gone, and the next up finishes (run ${i}/${REPEAT})`, async () => {
      await db.reset();
      const { holder, backups, env, dir, run } = await whileDumpWaits();
      try {
        expect(processesMentioning(backups).length).toBeGreaterThan(0);
        run.child.kill('SIGKILL');
        await run.done;
        await until('no pg_dump of this run left', async () => processesMentioning(backups).length === 0);
        expect(await settled(db, steps)).toEqual([]);
        await holder.query('rollback');
        await nextUpFinishes(dir, env, db.url, steps);
      } finally {
        await holder.end().catch(() => {});
      }
    }, 240_000);
  }
});

describe('SIGTERM during `migrate backup`', () => {
  it('exits 143 saying it was interrupted; pg_dump and the partial file are gone', async () => {
    await db.reset();
    const { holder, backups, run } = await whileDumpWaits(['backup']);
    try {
      run.child.kill('SIGTERM');
      const result = await run.done;
      expect(result.code).toBe(143);
      expect(result.stderr).toMatch(/Interrupted by SIGTERM/);
      expect(result.stderr).not.toMatch(/Unexpected error/);
      expect(processesMentioning(backups)).toEqual([]);
      expect(readdirSync(backups)).toEqual([]);
      await nothingLeft(db.adminUrl, db.name);
    } finally {
      await holder.query('rollback').catch(() => {});
      await holder.end().catch(() => {});
    }
  }, 240_000);
});

describe('the snapshot session ends while pg_dump runs', () => {
  it('a database idle_in_transaction_session_timeout shorter than the dump does not end it', async () => {
    await db.reset();
    await adminQuery(`alter database "${db.name}" set idle_in_transaction_session_timeout = '500ms'`);
    const { holder, run } = await whileDumpWaits();
    try {
      // The snapshot session idles in its transaction all this while: four times the database's timeout.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(
        (
          await db.query(
            // The snapshot session among them: idle in its transaction far longer than the database allows.
            `select 1 from pg_stat_activity where datname = current_database() and application_name like 'tidemark%'
                and state = 'idle in transaction' and now() - state_change > interval '1.5 s'`,
          )
        ).length,
      ).toBeGreaterThanOrEqual(1);
      await holder.query('rollback');
      const result = await run.done;
      expect({ code: result.code, stderr: result.stderr }).toMatchObject({
        code: 0,
        stderr: expect.stringMatching(/backup .*validated/),
      });
      expect(await assertConsistent(db.url, steps)).toEqual(['001', '002']);
    } finally {
      await holder.end().catch(() => {});
    }
  }, 240_000);

  it('pg_terminate_backend of the snapshot session once pg_dump holds the snapshot: the backup completes', async () => {
    await db.reset();
    const { holder, run } = await whileDumpWaits();
    try {
      await adminQuery(
        `select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and application_name = 'tidemark-backup'`,
        [db.name],
      );
      await holder.query('rollback');
      const result = await run.done;
      expect({ code: result.code, stderr: result.stderr }).toMatchObject({ code: 0 });
      expect(await settled(db, steps)).toEqual(['001', '002']);
    } finally {
      await holder.end().catch(() => {});
    }
  }, 240_000);
});
