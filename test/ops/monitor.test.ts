/**
 * The live lock monitor: the pure state (counts, thresholds once, deadlock deltas) without a database, and a
 * migration holding ACCESS EXCLUSIVE while three sessions queue behind it, against a real PostgreSQL.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { MonitorState, type MonitorSample } from '../../src/ops/monitor.js';
import { useTestDatabase } from '../helpers/db.js';
import { makeProject, runCli } from '../helpers/project.js';
import { lines, recorder } from '../helpers/alerts.js';
import { until } from '../helpers/until.js';

const thresholds = { warnBlockedMs: 5000, alertBlockedMs: 30_000, alertLongRunMs: 600_000 };
const s = (blocked: number, longestWaitMs: number, deadlocks = 7, waiting = false): MonitorSample => ({
  blocked,
  longestWaitMs,
  deadlocks,
  waiting,
});

describe('MonitorState', () => {
  it('reports a change of the picture, not every growing wait', () => {
    const state = new MonitorState(thresholds);
    expect(state.add(s(0, 0), 0)).toEqual([]);
    expect(state.add(s(2, 100), 1000).map((e) => e.type)).toEqual(['changed']);
    expect(state.add(s(2, 1100), 2000)).toEqual([]);
    expect(state.add(s(3, 2100), 3000).map((e) => e.type)).toEqual(['changed']);
    expect(state.add(s(0, 0), 4000).map((e) => e.type)).toEqual(['changed']);
  });

  it('warns and alerts once each when a wait crosses its threshold, and counts deadlocks from the first sample', () => {
    const state = new MonitorState(thresholds);
    state.add(s(1, 0), 0);
    expect(state.add(s(1, 5000), 5000).map((e) => e.type)).toEqual(['blocked-warning']);
    expect(state.add(s(1, 6000), 6000)).toEqual([]);
    expect(state.add(s(1, 31_000, 9), 31_000).map((e) => e.type)).toEqual(['blocked-alert', 'deadlock']);
    expect(state.add(s(1, 32_000, 9), 32_000)).toEqual([]);
    expect(state.add(s(0, 0, 9), 600_000).map((e) => e.type)).toEqual(['changed', 'long-run']);
    expect(state.summary(600_123)).toEqual({
      durationMs: 600_123,
      maxBlocked: 1,
      longestWaitMs: 32_000,
      deadlocks: 2,
      samples: 6,
    });
  });

  it('names the blockers when they change and stays quiet while they do not', () => {
    const state = new MonitorState(thresholds);
    const b = {
      pid: 1,
      applicationName: 'a',
      user: 'u',
      clientAddress: null,
      state: 'idle in transaction',
      transactionMs: 1,
      query: 'x',
      waitingFor: 't',
    };
    expect(state.blockers([b], 0).map((e) => e.type)).toEqual(['waiting-on']);
    expect(state.blockers([b], 10)).toEqual([]);
    expect(state.blockers([], 20)).toEqual([]);
    expect(state.blockers([b], 30).map((e) => e.type)).toEqual(['waiting-on']);
  });
});

const db = useTestDatabase('monitor');

describe('the monitor against a migration that holds ACCESS EXCLUSIVE', () => {
  it('counts the three sessions queued behind it, in the CI lines and the --json summary', async () => {
    const dir = makeProject({
      'migrations/001_t.sql':
        'create table t (id int primary key);\ncreate table go (ok boolean);\ninsert into t values (1);\n',
      // Holds the lock until the test says go (a row in `go`, visible to each new statement in READ COMMITTED),
      // for at most 60 s so that a broken test cannot hang.
      'migrations/002_hold.sql':
        'lock table t in access exclusive mode;\n' +
        'do $$ begin for i in 1..600 loop exit when exists (select 1 from go); perform pg_sleep(0.1); end loop; end $$;\n',
    });
    const { command, out } = recorder();
    const env = {
      DATABASE_URL: db.url,
      BACKUP_BEFORE_MIGRATE: 'false',
      ALERT_COMMAND: command,
      ALERT_BLOCKED_AFTER: '1ms',
    };
    expect((await runCli(['up', '--to', '1'], { cwd: dir, env })).code).toBe(0);
    const readers: pg.Client[] = [];
    const queries: Promise<unknown>[] = [];
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      await db.query('insert into go values (true)');
    };
    // --skip-lint: the lint refuses an explicit LOCK TABLE ... ACCESS EXCLUSIVE, which is exactly what this test needs.
    const running = runCli(['up', '--json', '--skip-lint'], {
      cwd: dir,
      env,
      onStderr: (() => {
        let stderr = '';
        return (text: string) => {
          stderr += text;
          if (/002_hold: 3 sessions waiting on it/.test(stderr)) void release();
        };
      })(),
    });
    // Once the migration holds its lock, three application sessions queue behind it.
    for (let i = 0; i < 600; i += 1) {
      const held = await db.query(
        "select 1 from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 't' and l.mode = 'AccessExclusiveLock' and l.granted",
      );
      if (held.length > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    for (let i = 0; i < 3; i += 1) {
      const c = new pg.Client({ connectionString: db.url, application_name: `reader-${i}` });
      readers.push(c);
      queries.push(c.connect().then(() => c.query('select count(*) from t')));
    }
    const result = await running;
    await release();
    await Promise.all(queries);
    await Promise.all(readers.map((c) => c.end()));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/002_hold: 3 sessions waiting on it \(longest \d+\.\d s\)\./);
    const doc = JSON.parse(result.stdout) as {
      applied: {
        version: string;
        monitor?: { maxBlocked: number; longestWaitMs: number; deadlocks: number; samples: number };
      }[];
    };
    const hold = doc.applied.find((m) => m.version === '002')!;
    expect(hold.monitor).toMatchObject({ maxBlocked: 3, deadlocks: 0 });
    expect(hold.monitor!.samples).toBeGreaterThan(0);
    expect(hold.monitor!.longestWaitMs).toBeGreaterThanOrEqual(0);
    // Sessions waited longer than ALERT_BLOCKED_AFTER: one alert, with the figures.
    const alerts = lines(out).filter((a) => a.kind === 'sessions-blocked');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ severity: 'warning', migration: { version: '002', name: 'hold' } });
    expect(alerts[0]!.figures.blocked).toBeGreaterThanOrEqual(1);
  });

  it('warns once past BLOCKED_WARN while sessions stay queued, and the blocked alert fires once', async () => {
    await db.reset();
    const dir = makeProject({
      'migrations/001_t.sql': 'create table t (id int primary key);\ncreate table go (ok boolean);\n',
      'migrations/002_hold.sql':
        'lock table t in access exclusive mode;\n' +
        'do $$ begin for i in 1..600 loop exit when exists (select 1 from go); perform pg_sleep(0.1); end loop; end $$;\n',
    });
    const { command, out } = recorder();
    const env = {
      DATABASE_URL: db.url,
      BACKUP_BEFORE_MIGRATE: 'false',
      BLOCKED_WARN: '500ms',
      ALERT_BLOCKED_AFTER: '500ms',
      ALERT_COMMAND: command,
    };
    expect((await runCli(['up', '--to', '1'], { cwd: dir, env })).code).toBe(0);
    let stderr = '';
    const running = runCli(['up', '--skip-lint'], {
      cwd: dir,
      env,
      onStderr: (text) => (stderr += text),
    });
    await until(
      'the migration to hold its lock',
      async () =>
        (
          await db.query(
            "select 1 from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 't' and l.mode = 'AccessExclusiveLock' and l.granted",
          )
        ).length > 0,
    );
    const readers = [0, 1].map((i) => new pg.Client({ connectionString: db.url, application_name: `queued-${i}` }));
    const queries = readers.map((c) => c.connect().then(() => c.query('select count(*) from t')));
    try {
      await until('the warning', async () => /Warning: 002_hold has blocked/.test(stderr));
      // The sessions stay queued for several more of the monitor's looks (one a second): no second warning.
      await until(
        'the readers to have waited 3 s',
        async () =>
          (
            await db.query(
              "select 1 from pg_stat_activity where application_name like 'queued-%' and wait_event_type = 'Lock' and now() - query_start > interval '3 s'",
            )
          ).length === 2,
      );
    } finally {
      await db.query('insert into go values (true)');
      await Promise.all(queries);
      await Promise.all(readers.map((c) => c.end()));
    }
    const result = await running;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(
      /Warning: 002_hold has blocked [12] sessions? for up to \d+\.\d s \(BLOCKED_WARN=0\.5 s\)\. MIGRATION_TIMEOUT or Ctrl-C cancels it and rolls it back\./,
    );
    expect(result.stderr.match(/Warning: 002_hold has blocked/g)).toHaveLength(1);
    expect(result.stderr).toMatch(/002_hold: sessions blocked longer than ALERT_BLOCKED_AFTER \(0\.5 s\)\./);
    expect(result.stderr).toMatch(/applied 002_hold .*blocked up to 2 sessions at once/);
    const alerts = lines(out).filter((a) => a.kind === 'sessions-blocked');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ migration: { version: '002', name: 'hold' }, figures: { thresholdMs: 500 } });
    expect(alerts[0]!.figures.longestWaitMs).toBeGreaterThanOrEqual(500);
  });
});
