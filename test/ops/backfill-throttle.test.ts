/**
 * The backfill's throttles against real servers: --max-lag against a real streaming standby whose replay is
 * paused (pg_wal_replay_pause makes real replay_lag), and the lock-wait throttle with an application session
 * queued on rows a batch holds. Each waits for the state it needs (stderr lines, pg_locks, pg_stat_replication),
 * never for a time.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../helpers/db.js';
import { makeProject, runCli } from '../helpers/project.js';
import { replicaUnavailable, startReplicaPair, waitFor, type ReplicaPair } from '../helpers/replica.js';

/** Follows the CLI's stderr as it runs (in process), so that a test can wait for a line. */
function follow(): { text(): string; onStderr(text: string): void } {
  let all = '';
  return { text: () => all, onStderr: (text) => (all += text) };
}

async function one<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows[0]!;
  } finally {
    await client.end();
  }
}

const unavailable = replicaUnavailable();

// Skips only where a standby cannot be made: no server binaries or no pg_basebackup (the reason is printed).
describe.skipIf(unavailable !== undefined)(
  `backfill --max-lag against a paused standby${unavailable ? ` (skipped: ${unavailable})` : ''}`,
  () => {
    let pair: ReplicaPair;
    beforeAll(async () => {
      pair = await startReplicaPair();
    }, 120_000);
    afterAll(async () => {
      await pair?.stop();
    });

    it('waits while the replica lags more than --max-lag, says so, and resumes and finishes when replay resumes', async () => {
      await one(pair.url, 'create table big (id int primary key, n int not null default 0)');
      await one(pair.url, 'insert into big (id) select generate_series(1, 5000)');
      // Replay stops; WAL written now is not replayed, and the primary sees replay_lag grow.
      await pair.pauseReplay();
      await one(pair.url, 'create table wal_maker (x int)');
      await one(pair.url, 'insert into wal_maker select generate_series(1, 1000)');
      await waitFor('replay_lag over 1 s', async () => (await pair.replayLagMs()) > 1000);

      const dir = makeProject();
      const stderr = follow();
      let finished = false;
      const running = runCli(
        ['backfill', 'big', '--set', 'n = n + 1', '--batch-size', '1000', '--pause', '0', '--max-lag', '500ms'],
        { cwd: dir, env: { DATABASE_URL: pair.url }, onStderr: stderr.onStderr },
      ).finally(() => (finished = true));
      await waitFor('the paused line', async () => /Backfill paused/.test(stderr.text()));
      expect(stderr.text()).toMatch(
        /Backfill paused: a replica is \d+\.\d s behind \(--max-lag 0\.5 s\); waiting for it to catch up\./,
      );
      // Still held back one look later (the lag has grown past the next poll): no batch ran meanwhile.
      const lagAtPause = await pair.replayLagMs();
      await waitFor('the lag to grow past another look', async () => (await pair.replayLagMs()) > lagAtPause + 1500);
      expect(finished).toBe(false);
      expect(
        await one<{ batches: number; rows_scanned: string }>(
          pair.url,
          'select batches, rows_scanned from schema_migrations_backfills',
        ),
      ).toEqual({ batches: 0, rows_scanned: '0' });
      expect((await one<{ n: string }>(pair.url, 'select count(*) as n from big where n > 0')).n).toBe('0');

      await pair.resumeReplay();
      const result = await running;
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/Backfill resumed: the replica is \d+\.\d s behind, after \d+\.\d s of waiting\./);
      // Reported once per wait, not once per look.
      expect(result.stderr.match(/Backfill paused/g)).toHaveLength(1);
      expect(result.stdout).toMatch(/finished: 5,000 rows walked, 5,000 updated, in 5 batches/);
      expect(await one(pair.url, 'select count(*)::int as n from big where n = 1')).toEqual({ n: 5000 });
    });
  },
);

describe('backfill slowed by the lock waits it causes', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await testDatabase('backfill_throttle');
  });
  afterAll(async () => {
    await db.drop();
  });

  it('doubles its pause after a batch an application session waited on, says so, and returns to its pace', async () => {
    await db.query('create table big (id int primary key, n int not null default 0)');
    await db.query('insert into big (id) select generate_series(1, 3000)');
    // The batch reaching id 1000 holds its rows (501..999, already updated) until the test opens the gate. A
    // polling loop, not a lock: the batch's lock_timeout would cancel a wait on a lock and retry the batch.
    await db.query('create table gate (open boolean)');
    await db.query(
      `create function hold_at(k int) returns int language plpgsql as $$
       begin
         if k = 1000 then
           for i in 1..600 loop exit when exists (select 1 from gate); perform pg_sleep(0.05); end loop;
         end if;
         return 0;
       end $$`,
    );
    const dir = makeProject();
    const stderr = follow();
    const running = runCli(
      ['backfill', 'big', '--set', 'n = n + 1 + hold_at(id)', '--batch-size', '500', '--pause', '100ms'],
      { cwd: dir, env: { DATABASE_URL: db.url }, onStderr: stderr.onStderr },
    );
    const app = new pg.Client({ connectionString: db.url, application_name: 'app-writer' });
    await app.connect();
    try {
      // The batch sits in the gate with row 600 updated and locked.
      await waitFor('the batch to hold row 600', async () => {
        const rows = await db.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity where application_name like 'tidemark%' and query like '%hold_at%' and wait_event = 'PgSleep'`,
        );
        return rows[0]!.n === 1;
      });
      const write = app.query('update big set n = n where id = 600');
      await waitFor(
        'the application session to wait on the backfill',
        async () =>
          (
            await db.query(
              "select 1 from pg_stat_activity where application_name = 'app-writer' and wait_event_type = 'Lock'",
            )
          ).length === 1,
      );
      // The monitor's picture: the CI line says one session waits on the backfill.
      await waitFor('the monitor line', async () =>
        /backfill public\.big: 1 session waiting on it/.test(stderr.text()),
      );
      await db.query('insert into gate values (true)');
      await write;
    } finally {
      await app.end();
    }
    const result = await running;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(
      /Backfill slowed: 1 session waited on its last batch; pausing 200 ms between batches\./,
    );
    expect(result.stderr).toMatch(
      /Backfill back to its pace: no session waited on its last batch \(slowed for \d+\.\d s\)\./,
    );
    expect(result.stderr.indexOf('Backfill slowed')).toBeLessThan(result.stderr.indexOf('Backfill back to its pace'));
    expect(await db.query('select n, count(*)::int as c from big group by n')).toEqual([{ n: 1, c: 3000 }]);
  });
});
