/**
 * The lock-retry policy and the blocker named, against a real PostgreSQL: a migration queued behind another
 * session's open transaction retries with short lock_timeouts, names that session (pid, application_name, state)
 * in every retry line and in the final error, and --json carries the same facts.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';
import { makeProject, runCli } from '../helpers/project.js';

const db = useTestDatabase('lock_blocker', { resetEach: true });

const FILES = {
  'migrations/001_t.sql': 'create table t (id int primary key);\n',
  'migrations/002_alter.sql': 'alter table t add column x bigint;\n',
};

async function openBlocker(applicationName: string): Promise<{ client: pg.Client; pid: number }> {
  const client = new pg.Client({ connectionString: db.url, application_name: applicationName });
  await client.connect();
  await client.query('begin');
  await client.query('select count(*) from t');
  const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
  return { client, pid: rows[0]!.pid };
}

function cli(dir: string, args: string[], env: Record<string, string> = {}, onStderr?: (text: string) => void) {
  return runCli(args, { cwd: dir, env: { DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false', ...env }, onStderr });
}

describe('a migration blocked by an open transaction', () => {
  it('names the blocker in the retry lines and the final error; --json has every attempt with its lock_timeout', async () => {
    const dir = makeProject(FILES);
    expect((await cli(dir, ['up', '--to', '1'])).code).toBe(0);
    const blocker = await openBlocker('billing-report');
    try {
      const result = await cli(dir, ['up', '--json'], { MAX_LOCK_WAIT: '1', LOCK_RETRIES: '4' });
      expect(result.code, result.stderr).toBe(3);
      // Each retry line names the session holding the lock.
      const retries = result.stderr.split('\n').filter((l) => l.startsWith('Lock timeout in 002_alter'));
      expect(retries).toHaveLength(4);
      // The monitor looks half-way through each attempt; from the third (225 ms, a look at ~110 ms) even a
      // loaded machine has answered in time, so these lines must name the session.
      for (const line of retries.slice(2)) expect(line).toContain(`pid ${blocker.pid} (app billing-report`);
      const doc = JSON.parse(result.stdout) as {
        error: {
          code: string;
          message: string;
          hint: string;
          attempts: { attempt: number; lockTimeoutMs: number; blockers: { pid: number }[] }[];
          blockers: {
            pid: number;
            applicationName: string;
            state: string;
            user: string;
            transactionMs: number;
            query: string;
            waitingFor: string;
          }[];
        };
      };
      expect(doc.error.code).toBe('lock-timeout');
      expect(doc.error.message).toContain(`pid ${blocker.pid} (app billing-report`);
      expect(doc.error.hint).toContain(`pg_terminate_backend(${blocker.pid})`);
      expect(doc.error.blockers[0]).toMatchObject({
        pid: blocker.pid,
        applicationName: 'billing-report',
        state: 'idle in transaction',
        // Whoever the test database's URL logs in as (postgres when embedded, TEST_DATABASE_URL's user otherwise).
        user: await currentUser(),
      });
      expect(doc.error.blockers[0]!.query).toBe('select pg_backend_pid() as pid');
      expect(doc.error.blockers[0]!.waitingFor).toMatch(/^t \(AccessExclusiveLock\)$/);
      expect(doc.error.blockers[0]!.transactionMs).toBeGreaterThanOrEqual(0);
      // MAX_LOCK_WAIT=1: no attempt could hold another session's query behind it for more than 1 s.
      expect(doc.error.attempts.map((a) => a.attempt)).toEqual([1, 2, 3, 4, 5]);
      expect(doc.error.attempts[0]!.lockTimeoutMs).toBe(100);
      for (const a of doc.error.attempts) expect(a.lockTimeoutMs).toBeLessThanOrEqual(1000);
      expect(doc.error.attempts.at(-1)!.lockTimeoutMs).toBeGreaterThan(doc.error.attempts[0]!.lockTimeoutMs);
    } finally {
      await blocker.client.query('rollback');
      await blocker.client.end();
    }
    expect(
      await db.query("select 1 from information_schema.columns where table_name = 't' and column_name = 'x'"),
    ).toEqual([]);
  });

  it('retries until the blocker is gone, then applies the migration', async () => {
    const dir = makeProject(FILES);
    expect((await cli(dir, ['up', '--to', '1'])).code).toBe(0);
    const blocker = await openBlocker('nightly-export');
    let released = false;
    const result = await cli(dir, ['up'], { LOCK_RETRIES: '200' }, (text) => {
      // The first retry line says the migration is queued and gave up once: now let it through.
      if (!released && text.includes('Lock timeout in 002_alter')) {
        released = true;
        void blocker.client.query('commit').then(() => blocker.client.end());
      }
    });
    if (!released) await blocker.client.end();
    expect(released).toBe(true);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/applied 002_alter/);
    expect(
      await db.query("select 1 as ok from information_schema.columns where table_name = 't' and column_name = 'x'"),
    ).toEqual([{ ok: 1 }]);
  });
});

async function currentUser(): Promise<string> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query<{ user: string }>('select current_user as user')).rows[0]!.user;
  } finally {
    await client.end();
  }
}
