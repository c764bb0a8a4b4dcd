/**
 * migrate backfill against a real PostgreSQL: 200k rows in batches of 1000, every row updated exactly once
 * even across a kill -9, writers working all along; SIGTERM finishes the batch and stops; bad input stops
 * before anything changes. The pure parts (SQL shape, speed, throttle) without a database.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { batchSql, decodeKey, defaultName, nextPause, parseTable, progressOf } from '../../src/ops/backfill.js';
import { adminQuery, runPrefix, useTestDatabase } from '../helpers/db.js';
import { makeProject, runCli } from '../helpers/project.js';

describe('backfill, the pure parts', () => {
  it('parses plain and schema-qualified table names and nothing else', () => {
    expect(parseTable('users')).toEqual({ schema: 'public', table: 'users' });
    expect(parseTable('app.users')).toEqual({ schema: 'app', table: 'users' });
    expect(parseTable('users; drop table x')).toBeUndefined();
    expect(parseTable('a.b.c')).toBeUndefined();
  });

  it('names a backfill by its table and what it does', () => {
    const t = { schema: 'public', table: 'users' };
    expect(defaultName(t, 'a = 1', undefined)).toMatch(/^public\.users:[0-9a-f]{8}$/);
    expect(defaultName(t, 'a = 1', undefined)).not.toBe(defaultName(t, 'a = 2', undefined));
    expect(defaultName(t, 'a = 1', 'a is null')).not.toBe(defaultName(t, 'a = 1', undefined));
  });

  it('walks keys after the last one (none for the first batch) and logs progress in the same statement', () => {
    const first = batchSql('"public"."t"', ['id'], 'x = 1', 'x is null', '"public"."log"', true);
    const next = batchSql('"public"."t"', ['id'], 'x = 1', undefined, '"public"."log"', false);
    expect(first).toContain('where true order by "id" limit $1');
    expect(first).toContain('where name = $2');
    expect(first).toContain('and (x is null)');
    expect(next).toContain('where "id" > $1 order by "id" limit $2');
    expect(next).toContain('"id" > $1 and "id" <= (select tidemark_k1 from tidemark_hi)');
    expect(next).toContain('where name = $3');
    expect(next).not.toContain('and (');
  });

  it('walks a composite key as a row comparison and records its last key as a JSON array', () => {
    const next = batchSql('"public"."t"', ['a', 'b'], 'x = 1', undefined, '"public"."log"', false);
    expect(next).toContain('where ("a", "b") > ($1, $2) order by "a", "b" limit $3');
    expect(next).toContain(
      '("a", "b") > ($1, $2) and ("a", "b") <= (select tidemark_k1, tidemark_k2 from tidemark_hi)',
    );
    expect(next).toContain('where name = $4');
    expect(next).toContain('json_build_array(tidemark_k1::text, tidemark_k2::text)::text');
    expect(decodeKey('["3","b,c"]', 2)).toEqual(['3', 'b,c']);
    expect(decodeKey('["3","b,c"]', 1)).toEqual(['["3","b,c"]']);
    expect(() => decodeKey('["3"]', 2)).toThrow(/not 2 key values/);
  });

  it('computes speed and time left from this run only', () => {
    expect(progressOf(30_000, 10_000, 110_000, 2000)).toEqual({ rowsPerSecond: 10_000, etaMs: 8000 });
    expect(progressOf(30_000, 10_000, undefined, 2000)).toEqual({ rowsPerSecond: 10_000, etaMs: undefined });
    expect(progressOf(0, 0, 100, 0)).toEqual({ rowsPerSecond: 0, etaMs: undefined });
  });

  it('doubles the pause while sessions wait on the backfill, up to 5 s, and returns to the base after', () => {
    expect(nextPause(100, 100, true)).toBe(200);
    expect(nextPause(100, 200, true)).toBe(400);
    expect(nextPause(0, 0, true)).toBe(100);
    expect(nextPause(100, 4000, true)).toBe(5000);
    expect(nextPause(100, 5000, false)).toBe(100);
  });
});

const db = useTestDatabase('backfill');
const ROWS = 200_000;

async function makeTable(): Promise<void> {
  await db.query(`create table big (id bigint primary key, a int not null, label text, n int not null default 0)`);
  await db.query(`insert into big (id, a) select g, g % 97 from generate_series(1, ${ROWS}) g`);
  await db.query('analyze big');
}

/** Application writes on other rows' columns while the backfill runs: each must succeed, none wait long. */
function startWriters(count: number): { stop(): Promise<{ writes: number; errors: string[] }> } {
  let running = true;
  let writes = 0;
  const errors: string[] = [];
  const loops = Array.from({ length: count }, async () => {
    const client = new pg.Client({ connectionString: db.url, application_name: 'app-writer' });
    await client.connect();
    try {
      while (running) {
        const id = 1 + Math.floor(Math.random() * ROWS);
        try {
          await client.query('update big set a = a + 1 where id = $1', [id]);
          writes += 1;
        } catch (error) {
          errors.push((error as Error).message);
        }
      }
    } finally {
      await client.end();
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { writes, errors };
    },
  };
}

async function progressRow(): Promise<{ rows_scanned: string; batches: number; finished_at: Date | null } | undefined> {
  const rows = await db
    .query<{ rows_scanned: string; batches: number; finished_at: Date | null }>(
      'select rows_scanned, batches, finished_at from schema_migrations_backfills',
    )
    .catch(() => []);
  return rows[0];
}

/** Waits (one poll at a time) until no session of tidemark is left in the test database. */
async function sessionsGone(): Promise<void> {
  for (;;) {
    const rows = await db.query(
      "select 1 from pg_stat_activity where datname = current_database() and application_name like 'tidemark%' and pid <> pg_backend_pid()",
    );
    if (rows.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const ARGS = ['backfill', 'big', '--set', "label = 'v' || a, n = n + 1", '--batch-size', '1000', '--pause', '10ms'];

function cli(dir: string, args: string[], onSpawn?: Parameters<typeof runCli>[1]['onSpawn']) {
  return runCli(args, { cwd: dir, env: { DATABASE_URL: db.url }, onSpawn, timeoutMs: 180_000 });
}

describe('migrate backfill', () => {
  beforeEach(async () => {
    await db.reset();
  });

  it('updates 200k rows exactly once in batches of 1000, resumes after kill -9, and writers keep working', async () => {
    await makeTable();
    const dir = makeProject();
    const writers = startWriters(2);
    try {
      // Kill -9 once a fifth of the table is done: the process gets no chance to clean up.
      let killedAt: number | undefined;
      const first = await cli(dir, ARGS, (child) => {
        const poll = setInterval(() => {
          void progressRow().then((row) => {
            if (killedAt === undefined && row && Number(row.rows_scanned) >= ROWS / 5) {
              killedAt = Number(row.rows_scanned);
              child.kill('SIGKILL');
            }
          });
        }, 50);
        child.on('close', () => clearInterval(poll));
      });
      expect(first.signal).toBe('SIGKILL');
      // The killed runner's backend finishes the batch statement it was running before it notices the
      // client is gone: wait for its session to end, then read the log and the table in one snapshot.
      await sessionsGone();
      const mid = await progressRow();
      expect(mid!.finished_at).toBeNull();
      expect(Number(mid!.rows_scanned)).toBeLessThan(ROWS);
      // What the log says is done is exactly what was updated: the batch and its log row commit together.
      const [both] = await db.query<{ logged: string; updated: string }>(
        'select (select rows_scanned from schema_migrations_backfills) as logged, (select count(*) from big where n = 1) as updated',
      );
      expect(Number(both!.updated)).toBe(Number(both!.logged));
      expect(Number(both!.logged)).toBe(Number(mid!.rows_scanned));
      expect(await db.query('select 1 from big where n > 1 limit 1')).toEqual([]);

      const second = await cli(dir, [...ARGS, '--json']);
      expect(second.code, second.stderr).toBe(0);
      const result = JSON.parse(second.stdout) as {
        status: string;
        rowsDone: number;
        rowsUpdated: number;
        batches: number;
        resumed: boolean;
      };
      expect(result).toMatchObject({
        status: 'finished',
        rowsDone: ROWS,
        rowsUpdated: ROWS,
        batches: ROWS / 1000,
        resumed: true,
      });
      expect(second.stderr).toMatch(/resuming after [\d,]+ rows/);
    } finally {
      const { writes, errors } = await writers.stop();
      expect(errors).toEqual([]);
      expect(writes).toBeGreaterThan(0);
    }
    expect(await db.query<{ n: number; count: string }>('select n, count(*) from big group by n')).toEqual([
      { n: 1, count: String(ROWS) },
    ]);
    // Run again: already finished, nothing touched.
    const again = await cli(makeProject(), [...ARGS, '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ status: 'already-finished' });
    expect(await db.query('select 1 from big where n <> 1 limit 1')).toEqual([]);
  });

  it('on SIGTERM finishes the running batch, stops cleanly with exit 143, and the same command resumes', async () => {
    await makeTable();
    const dir = makeProject();
    let sent = false;
    const stopped = await cli(dir, ARGS, (child) => {
      const poll = setInterval(() => {
        void progressRow().then((row) => {
          if (!sent && row && Number(row.rows_scanned) >= 5000) {
            sent = true;
            child.kill('SIGTERM');
          }
        });
      }, 50);
      child.on('close', () => clearInterval(poll));
    });
    expect(stopped.code, stopped.stderr).toBe(143);
    expect(stopped.stdout).toMatch(/stopped by SIGTERM after its running batch .*run the same command to resume/);
    const row = await progressRow();
    const updated = (await db.query<{ updated: string }>('select count(*) as updated from big where n = 1'))[0]!
      .updated;
    expect(Number(updated)).toBe(Number(row!.rows_scanned));
    expect(Number(row!.rows_scanned) % 1000).toBe(0);
    const resumed = await cli(dir, ARGS);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await db.query<{ n: number; count: string }>('select n, count(*) from big group by n')).toEqual([
      { n: 1, count: String(ROWS) },
    ]);
  });

  it('walks a composite primary key (text and int) in order, every row once, and resumes after SIGTERM', async () => {
    // Text first: the walk must follow the key's own order (collation included), not the physical one.
    await db.query('create table pairs (region text, id int, n int not null default 0, primary key (region, id))');
    await db.query(
      `insert into pairs (region, id) select r, g from unnest(array['eu, west', 'us', 'ap']) r, generate_series(1, 6000) g order by random()`,
    );
    await db.query('analyze pairs');
    const dir = makeProject();
    const args = ['backfill', 'pairs', '--set', 'n = n + 1', '--batch-size', '700', '--pause', '10ms'];
    let sent = false;
    const stopped = await cli(dir, args, (child) => {
      const poll = setInterval(() => {
        void progressRow().then((row) => {
          if (!sent && row && Number(row.rows_scanned) >= 2100) {
            sent = true;
            child.kill('SIGTERM');
          }
        });
      }, 50);
      child.on('close', () => clearInterval(poll));
    });
    expect(stopped.code, stopped.stderr).toBe(143);
    expect(stopped.stderr).toMatch(/Backfilling public\.pairs by region, id/);
    const [mid] = await db.query<{ last_key: string; rows_scanned: string }>(
      'select last_key, rows_scanned from schema_migrations_backfills',
    );
    const [region, id] = JSON.parse(mid!.last_key) as [string, string];
    // Exactly the keys up to the recorded one are done, in key order.
    const [split] = await db.query<{ before: string; done: string; after_done: string }>(
      `select count(*) filter (where (region, id) <= ($1, $2::int)) as before,
              count(*) filter (where n = 1 and (region, id) <= ($1, $2::int)) as done,
              count(*) filter (where n <> 0 and (region, id) > ($1, $2::int)) as after_done
         from pairs`,
      [region, id],
    );
    expect(split).toEqual({ before: mid!.rows_scanned, done: mid!.rows_scanned, after_done: '0' });
    const resumed = await cli(dir, [...args, '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({
      status: 'finished',
      key: 'region, id',
      rowsDone: 18_000,
      rowsUpdated: 18_000,
      resumed: true,
    });
    expect(await db.query<{ n: number; count: string }>('select n, count(*) from pairs group by n')).toEqual([
      { n: 1, count: '18000' },
    ]);
  });

  it('stops before changing anything on a table without a primary key or a --set that does not work (exit 2)', async () => {
    await db.query('create table nokey (a int)');
    await db.query('create table t (id int primary key, a int)');
    await db.query('insert into t values (1, 1)');
    const dir = makeProject();
    const noKey = await cli(dir, ['backfill', 'nokey', '--set', 'a = 1']);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/public\.nokey has no primary key/);
    expect(noKey.stderr).toMatch(/add primary key using index/);
    expect(noKey.stderr).not.toMatch(/\n\s+at /);
    const bad = await cli(dir, ['backfill', 't', '--set', 'nope = 1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /--set\/--where do not work on "public"\."t": column "nope" of relation "t" does not exist/,
    );
    const missing = await cli(dir, ['backfill', 'ghost', '--set', 'a = 1']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no table public\.ghost/);
    expect(await db.query('select a from t')).toEqual([{ a: 1 }]);
  });
});

describe('backfill as a least-privilege role', () => {
  // Named with the run's prefix: the run's teardown drops it once its databases are gone.
  const role = `${runPrefix()}backfill_${randomBytes(4).toString('hex')}`;

  it('runs with CREATE on schema public only (no CREATE on the database), and says what to GRANT without it', async () => {
    await db.reset();
    await adminQuery(`create role ${role} login password 'pw'`);
    await db.query(`revoke create on schema public from public`);
    await db.query(`create table small (id bigint primary key, n int not null default 0)`);
    await db.query(`insert into small (id) select generate_series(1, 10)`);
    await db.query(`grant select, update on small to ${role}`);
    const url = new URL(db.url);
    url.username = role;
    url.password = 'pw';
    const dir = makeProject();
    const args = ['backfill', 'small', '--set', 'n = 1', '--pause', '0'];
    const denied = await runCli(args, { cwd: dir, env: { DATABASE_URL: url.toString() } });
    expect(denied.code, denied.stderr).toBe(2);
    expect(denied.stderr).toContain('The role cannot create the backfill log schema_migrations_backfills');
    expect(denied.stderr).toMatch(/→ Grant CREATE on schema public to the role/);
    expect(denied.stderr).not.toMatch(/Unexpected error/);
    await db.query(`grant create on schema public to ${role}`);
    const done = await runCli(args, { cwd: dir, env: { DATABASE_URL: url.toString() } });
    expect(done.code, done.stderr).toBe(0);
    expect(await db.query(`select count(*)::int as c from small where n = 1`)).toEqual([{ c: 10 }]);
  });
});
