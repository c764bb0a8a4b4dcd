/**
 * The live lock monitor: while a migration (or a backfill batch) runs, a second connection samples about once a
 * second what it does to the application: how many sessions wait on the migration's backend and for how long,
 * the database's deadlock counter, and, while the migration itself waits, who blocks it.
 *
 * Only cheap queries: pg_stat_activity filtered to sessions in a lock wait before pg_blocking_pids() is called
 * for them (it briefly takes the lock manager's partition locks), and one pg_stat_database row.
 *
 * The monitor's connection is the run's second connection (README states the connection needs); it also carries
 * pg_cancel_backend for MIGRATION_TIMEOUT and signals, so a run never needs a third.
 */
import type { Client } from '../db/connection.js';
import type { Connector, Lease } from '../db/connector.js';
import { blockersOf, type LockBlocker } from './blockers.js';

/** What one sample saw. */
export interface MonitorSample {
  /** Sessions waiting for a lock the migration holds or is queued for. */
  readonly blocked: number;
  /** The longest of their waits so far, in ms. */
  readonly longestWaitMs: number;
  /** pg_stat_database.deadlocks of this database (cumulative since the stats reset). */
  readonly deadlocks: number;
  /** True when the migration's own backend waits for a lock. */
  readonly waiting: boolean;
}

/** The end of a migration, as the output and --json report it. */
export interface MonitorSummary {
  readonly durationMs: number;
  /** The most sessions blocked at once. */
  readonly maxBlocked: number;
  /** The longest wait a session had behind the migration, in ms. */
  readonly longestWaitMs: number;
  /** Deadlocks counted in the database while it ran (database-wide: the counter does not say whose). */
  readonly deadlocks: number;
  readonly samples: number;
}

export interface MonitorThresholds {
  /** A warning when a session has waited on the migration this long (BLOCKED_WARN). */
  readonly warnBlockedMs: number;
  /** An alert when a session has waited this long (ALERT_BLOCKED_AFTER); 0 = never. */
  readonly alertBlockedMs: number;
  /** An alert when the migration has run this long (ALERT_RUN_LONGER_THAN); 0 = never. */
  readonly alertLongRunMs: number;
}

/** What the monitor tells the run; the migrator forwards these as events. */
export type MonitorEvent =
  | { readonly type: 'changed'; readonly sample: MonitorSample; readonly elapsedMs: number }
  | { readonly type: 'blocked-warning'; readonly sample: MonitorSample; readonly thresholdMs: number }
  | { readonly type: 'blocked-alert'; readonly sample: MonitorSample; readonly thresholdMs: number }
  | { readonly type: 'deadlock'; readonly deadlocks: number; readonly sample: MonitorSample }
  | { readonly type: 'long-run'; readonly elapsedMs: number; readonly thresholdMs: number }
  | { readonly type: 'waiting-on'; readonly blockers: readonly LockBlocker[]; readonly elapsedMs: number };

/** The sampling period. */
export const SAMPLE_MS = 1000;
/** When the first sample of a migration is taken. */
export const FIRST_SAMPLE_MS = 200;

/**
 * The pure part: folds samples into the summary and decides what is worth saying (a change of the picture, a
 * threshold crossed once). Unit-tested without a database or a clock.
 */
export class MonitorState {
  readonly #thresholds: MonitorThresholds;
  #baseline: number | undefined;
  #last: MonitorSample | undefined;
  #maxBlocked = 0;
  #longestWaitMs = 0;
  #deadlocks = 0;
  #samples = 0;
  #warned = false;
  #alerted = false;
  #longRun = false;
  #blockerPids = '';

  constructor(thresholds: MonitorThresholds) {
    this.#thresholds = thresholds;
  }

  /** Takes one sample; returns what to report. */
  add(sample: MonitorSample, elapsedMs: number): MonitorEvent[] {
    const events: MonitorEvent[] = [];
    this.#samples += 1;
    this.#baseline ??= sample.deadlocks;
    this.#maxBlocked = Math.max(this.#maxBlocked, sample.blocked);
    this.#longestWaitMs = Math.max(this.#longestWaitMs, sample.longestWaitMs);
    const previous = this.#last;
    this.#last = sample;
    // The picture "changes" when the count of blocked sessions does: growing wait times alone would make a
    // line every second, and the migration's own waits are reported by blockers() and the retry lines.
    if (!previous ? sample.blocked > 0 : previous.blocked !== sample.blocked) {
      events.push({ type: 'changed', sample, elapsedMs });
    }
    const t = this.#thresholds;
    if (!this.#warned && t.warnBlockedMs > 0 && sample.blocked > 0 && sample.longestWaitMs >= t.warnBlockedMs) {
      this.#warned = true;
      events.push({ type: 'blocked-warning', sample, thresholdMs: t.warnBlockedMs });
    }
    if (!this.#alerted && t.alertBlockedMs > 0 && sample.blocked > 0 && sample.longestWaitMs >= t.alertBlockedMs) {
      this.#alerted = true;
      events.push({ type: 'blocked-alert', sample, thresholdMs: t.alertBlockedMs });
    }
    const deadlocks = Math.max(0, sample.deadlocks - this.#baseline);
    if (deadlocks > this.#deadlocks) {
      this.#deadlocks = deadlocks;
      events.push({ type: 'deadlock', deadlocks, sample });
    }
    if (!this.#longRun && t.alertLongRunMs > 0 && elapsedMs >= t.alertLongRunMs) {
      this.#longRun = true;
      events.push({ type: 'long-run', elapsedMs, thresholdMs: t.alertLongRunMs });
    }
    return events;
  }

  /** Who blocks the migration: reported when the set of blockers changes. */
  blockers(blockers: readonly LockBlocker[], elapsedMs: number): MonitorEvent[] {
    const pids = blockers
      .map((b) => b.pid)
      .sort((a, b) => a - b)
      .join(',');
    if (pids === this.#blockerPids) return [];
    this.#blockerPids = pids;
    return blockers.length > 0 ? [{ type: 'waiting-on', blockers, elapsedMs }] : [];
  }

  summary(durationMs: number): MonitorSummary {
    return {
      durationMs: Math.round(durationMs),
      maxBlocked: this.#maxBlocked,
      longestWaitMs: Math.round(this.#longestWaitMs),
      deadlocks: this.#deadlocks,
      samples: this.#samples,
    };
  }
}

/** One sample: sessions waiting on `pid`, the longest wait, the deadlock counter, and whether `pid` waits. */
export async function sample(client: Client, pid: number): Promise<MonitorSample> {
  // The CASE keeps pg_blocking_pids() to sessions already in a lock wait: the planner may reorder AND-ed
  // conditions, not a CASE's branches. query_start is when the waiting statement began: its wait, within a
  // statement's own run time.
  const { rows } = await client.query<{
    blocked: number;
    longest_ms: number | null;
    deadlocks: string | null;
    waiting: boolean | null;
  }>(
    `select count(*)::int as blocked,
            (max(extract(epoch from clock_timestamp() - a.query_start)) * 1000)::float8 as longest_ms,
            (select d.deadlocks from pg_catalog.pg_stat_database d where d.datname = current_database()) as deadlocks,
            (select s.wait_event_type = 'Lock' from pg_catalog.pg_stat_activity s where s.pid = $1) as waiting
       from pg_catalog.pg_stat_activity a
      where a.pid <> $1
        and case when a.wait_event_type = 'Lock' then $1 = any(pg_catalog.pg_blocking_pids(a.pid)) else false end`,
    [pid],
  );
  const r = rows[0];
  return {
    blocked: r?.blocked ?? 0,
    longestWaitMs: Math.max(0, Math.round(r?.longest_ms ?? 0)),
    deadlocks: Number(r?.deadlocks ?? 0),
    waiting: r?.waiting === true,
  };
}

/** One watched migration (or backfill): sampling until stop(). */
export interface Watch {
  /** Called when a lock attempt starts: a probe at part of its lock_timeout catches the blocker of a short wait. */
  attemptStarted(lockTimeoutMs: number): void;
  /** The blockers seen during the attempt that just ended (the last non-empty look), then forgotten. */
  attemptBlockers(): readonly LockBlocker[];
  /** The most sessions blocked at once since the last call (the backfill's throttle), then reset. */
  blockedSince(): { readonly blocked: number; readonly longestWaitMs: number };
  stop(): Promise<MonitorSummary>;
}

export interface MonitorOptions {
  readonly thresholds: MonitorThresholds;
  readonly onEvent: (event: MonitorEvent) => void;
  readonly periodMs?: number;
}

/**
 * The monitor's connection and its sampling loop. The connection is a side lease of the run's Connector (never
 * from an application's pool): see openMonitor, the one place it is acquired.
 */
export class Monitor {
  readonly #lease: Lease;
  #closed = false;
  #failed = false;

  constructor(lease: Lease) {
    this.#lease = lease;
  }

  get #client(): Client {
    return this.#lease.client;
  }

  /** The monitor's connection lent for one pg_cancel_backend (MIGRATION_TIMEOUT, signals); release is a no-op. */
  lend(): Lease {
    return { client: this.#client, release: async () => {} };
  }

  /** Starts sampling `pid`. Sampling errors end the sampling quietly: the monitor must never fail a migration. */
  watch(pid: number, options: MonitorOptions): Watch {
    const state = new MonitorState(options.thresholds);
    const started = performance.now();
    const period = options.periodMs ?? SAMPLE_MS;
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let probe: NodeJS.Timeout | undefined;
    let running: Promise<void> = Promise.resolve();
    let attempt: LockBlocker[] = [];
    let window = { blocked: 0, longestWaitMs: 0 };
    const emit = (events: MonitorEvent[]) => {
      for (const e of events) options.onEvent(e);
    };
    const lookForBlockers = async () => {
      const blockers = await blockersOf(this.#client, pid);
      if (blockers.length > 0) attempt = blockers;
      emit(state.blockers(blockers, performance.now() - started));
    };
    const tick = async () => {
      if (stopped || this.#failed) return;
      try {
        const s = await sample(this.#client, pid);
        if (stopped) return;
        window = {
          blocked: Math.max(window.blocked, s.blocked),
          longestWaitMs: Math.max(window.longestWaitMs, s.longestWaitMs),
        };
        emit(state.add(s, performance.now() - started));
        if (s.waiting) await lookForBlockers();
      } catch {
        this.#failed = true;
      }
    };
    const schedule = (delay: number) => {
      timer = setTimeout(() => {
        running = tick().finally(() => {
          if (!stopped) schedule(period);
        });
      }, delay);
      timer.unref();
    };
    // The first look after FIRST_SAMPLE_MS: a migration that ends sooner (most of them) costs no query at all,
    // and one that queues behind a lock is caught by the attempt's own probe (attemptStarted).
    schedule(Math.min(period, FIRST_SAMPLE_MS));
    return {
      attemptStarted: (lockTimeoutMs: number) => {
        attempt = [];
        if (probe) clearTimeout(probe);
        if (lockTimeoutMs <= 0 || this.#failed) return;
        // Half-way through the wait the migration is queued (if it will be) and still waiting.
        probe = setTimeout(
          () => {
            if (!stopped) void lookForBlockers().catch(() => {});
          },
          Math.max(20, Math.round(lockTimeoutMs * 0.5)),
        );
        probe.unref();
      },
      attemptBlockers: () => {
        const seen = attempt;
        attempt = [];
        return seen;
      },
      blockedSince: () => {
        const seen = window;
        window = { blocked: 0, longestWaitMs: 0 };
        return seen;
      },
      stop: async () => {
        stopped = true;
        if (timer) clearTimeout(timer);
        if (probe) clearTimeout(probe);
        await running.catch(() => {});
        return state.summary(performance.now() - started);
      },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#lease.release(true).catch(() => {});
  }
}

/**
 * The run's second connection: the one place it is acquired. A monitor that cannot connect (max_connections
 * reached, a role's limit) never fails the run; the caller says it is off.
 */
export async function openMonitor(connector: Connector): Promise<Monitor | undefined> {
  try {
    const lease = await connector.side();
    // Named, so that an operator looking at pg_stat_activity knows what this second session is.
    await lease.client.query(`set application_name = 'tidemark-monitor'`).catch(() => {});
    return new Monitor(lease);
  } catch {
    return undefined;
  }
}
