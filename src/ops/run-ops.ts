/**
 * What a run does beside its migrations: the monitor on the second connection, the alerts, and cancellation.
 * The migrator opens one RunOps per run (start/close) and one watch per migration; everything here reports
 * through events and never fails the migration.
 */
import type { Settings } from '../config/settings.js';
import { connect } from '../db/connection.js';
import { describeParams, type ConnectionParams } from '../db/params.js';
import { Alerter, makeAlert, type AlertDelivery, type AlertKind } from './alerts.js';
import type { LockBlocker } from './blockers.js';
import { openMonitor, type Monitor, type MonitorEvent, type MonitorSummary, type Watch } from './monitor.js';

export interface OpsTarget {
  readonly version: string;
  readonly name: string;
  readonly file: string;
}

export type OpsEvent =
  | { readonly type: 'monitor'; readonly migration: OpsTarget; readonly event: MonitorEvent }
  | { readonly type: 'monitor-summary'; readonly migration: OpsTarget; readonly summary: MonitorSummary }
  | { readonly type: 'monitor-off'; readonly reason: string }
  | { readonly type: 'alert'; readonly delivery: AlertDelivery };

/** A watched migration: the lock-attempt probe and the summary at its end. */
export interface MigrationWatch {
  attemptStarted(lockTimeoutMs: number): void;
  attemptBlockers(): readonly LockBlocker[];
  blockedSince(): { readonly blocked: number; readonly longestWaitMs: number };
  stop(): Promise<MonitorSummary | undefined>;
}

const UNWATCHED: MigrationWatch = {
  attemptStarted: () => {},
  attemptBlockers: () => [],
  blockedSince: () => ({ blocked: 0, longestWaitMs: 0 }),
  stop: async () => undefined,
};

export class RunOps {
  readonly #monitor: Monitor | undefined;
  readonly #alerter: Alerter;
  readonly #params: ConnectionParams;
  readonly #settings: Settings;
  readonly #emit: (event: OpsEvent) => void;

  private constructor(monitor: Monitor | undefined, params: ConnectionParams, settings: Settings, emit: (event: OpsEvent) => void) {
    this.#monitor = monitor;
    this.#params = params;
    this.#settings = settings;
    this.#emit = emit;
    this.#alerter = new Alerter({ command: settings.alertCommand, webhookUrl: settings.alertWebhookUrl, timeoutMs: settings.alertTimeoutMs }, (delivery) =>
      this.#emit({ type: 'alert', delivery }),
    );
  }

  /** Opens the monitor's connection (the run's second one, within DB_POOL_SIZE). */
  static async start(params: ConnectionParams, settings: Settings, emit: (event: OpsEvent) => void): Promise<RunOps> {
    const monitor = await openMonitor(params, settings.poolSize);
    if (!monitor) {
      emit({
        type: 'monitor-off',
        reason: settings.poolSize < 2 ? 'DB_POOL_SIZE=1 leaves no connection for the lock monitor' : 'the monitor could not connect',
      });
    }
    return new RunOps(monitor, params, settings, emit);
  }

  /** Starts watching `pid` while `migration` runs. */
  watch(migration: OpsTarget, pid: number): MigrationWatch {
    if (!this.#monitor) return UNWATCHED;
    const s = this.#settings;
    const watch: Watch = this.#monitor.watch(pid, {
      thresholds: { warnBlockedMs: s.blockedWarnMs, alertBlockedMs: s.alertBlockedMs, alertLongRunMs: s.alertLongRunMs },
      onEvent: (event) => {
        this.#emit({ type: 'monitor', migration, event });
        this.#alertFor(migration, event);
      },
    });
    return {
      attemptStarted: (ms) => watch.attemptStarted(ms),
      attemptBlockers: () => watch.attemptBlockers(),
      blockedSince: () => watch.blockedSince(),
      stop: async () => {
        const summary = await watch.stop();
        this.#emit({ type: 'monitor-summary', migration, summary });
        return summary;
      },
    };
  }

  /** A migration failed (or MIGRATION_TIMEOUT cancelled it): alert. Interruptions by a signal are the operator's own. */
  failed(migration: OpsTarget, code: string, message: string, figures: Record<string, number | string | null> = {}): void {
    if (code === 'interrupted') return;
    const kind: AlertKind = code === 'migration-timeout' ? 'migration-timeout' : 'migration-failed';
    this.#alert(kind, `${migration.version}_${migration.name}: ${message.split('\n')[0]}`, migration, { code, ...figures });
  }

  /** pg_cancel_backend for MIGRATION_TIMEOUT and signals: on the monitor's connection, else a short-lived one. */
  async cancel(pid: number): Promise<void> {
    try {
      if (this.#monitor) {
        await this.#monitor.cancel(pid);
        return;
      }
      const client = await connect(this.#params, 'tidemark-cancel');
      try {
        await client.query('select pg_catalog.pg_cancel_backend($1)', [pid]);
      } finally {
        await client.end().catch(() => {});
      }
    } catch {
      // The server is gone or refuses: the statement's own timeouts still apply.
    }
  }

  /** Waits for alerts in flight (each bounded by ALERT_TIMEOUT), then closes the monitor's connection. */
  async close(): Promise<void> {
    await this.#alerter.flush();
    await this.#monitor?.close();
  }

  #alertFor(migration: OpsTarget, event: MonitorEvent): void {
    const who = `${migration.version}_${migration.name}`;
    switch (event.type) {
      case 'blocked-alert':
        this.#alert('sessions-blocked', `${event.sample.blocked} session(s) blocked by ${who}, the longest for ${(event.sample.longestWaitMs / 1000).toFixed(1)} s`, migration, {
          blocked: event.sample.blocked,
          longestWaitMs: event.sample.longestWaitMs,
          thresholdMs: event.thresholdMs,
        });
        break;
      case 'deadlock':
        this.#alert('deadlock', `${event.deadlocks} deadlock(s) in the database while ${who} ran`, migration, { deadlocks: event.deadlocks });
        break;
      case 'long-run':
        this.#alert('long-run', `${who} has run for ${Math.round(event.elapsedMs / 1000)} s`, migration, { elapsedMs: Math.round(event.elapsedMs), thresholdMs: event.thresholdMs });
        break;
      default:
        break;
    }
  }

  #alert(kind: AlertKind, summary: string, migration: OpsTarget, figures: Record<string, number | string | null>): void {
    this.#alerter.send(makeAlert(kind, summary, describeParams(this.#params), { version: migration.version, name: migration.name, file: migration.file }, figures));
  }
}
