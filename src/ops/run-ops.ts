/**
 * What a run does beside its migrations: the monitor on the second connection, the alerts, and cancellation.
 * The migrator opens one RunOps per run (start/close) and one watch per migration; everything here reports
 * through events and never fails the migration.
 */
import type { Connector, Lease } from '../db/connector.js';
import { Alerter, makeAlert, type AlertConfig, type AlertDelivery, type AlertKind } from './alerts.js';
import type { LockBlocker } from './blockers.js';
import {
  openMonitor,
  type Monitor,
  type MonitorEvent,
  type MonitorSummary,
  type MonitorThresholds,
  type Watch,
} from './monitor.js';

/** What a run does beside its migrations (the CLI: from the settings; the library: off unless given). */
export interface OpsPolicy {
  readonly thresholds: MonitorThresholds;
  readonly alerts: AlertConfig;
}

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
  readonly #connector: Connector;
  readonly #policy: OpsPolicy;
  readonly #emit: (event: OpsEvent) => void;

  private constructor(
    monitor: Monitor | undefined,
    connector: Connector,
    policy: OpsPolicy,
    emit: (event: OpsEvent) => void,
  ) {
    this.#monitor = monitor;
    this.#connector = connector;
    this.#policy = policy;
    this.#emit = emit;
    this.#alerter = new Alerter(policy.alerts, (delivery) => {
      try {
        this.#emit({ type: 'alert', delivery });
      } catch {
        // Reporting a delivery must not break the delivery of the others.
      }
    });
  }

  /** Opens the monitor's connection (the run's second one, also lent to the canceller). */
  static async start(connector: Connector, policy: OpsPolicy, emit: (event: OpsEvent) => void): Promise<RunOps> {
    const monitor = await openMonitor(connector);
    if (!monitor) emit({ type: 'monitor-off', reason: 'the monitor could not connect' });
    return new RunOps(monitor, connector, policy, emit);
  }

  /** Starts watching `pid` while `migration` runs. */
  watch(migration: OpsTarget, pid: number, periodMs?: number): MigrationWatch {
    if (!this.#monitor) return UNWATCHED;
    const watch: Watch = this.#monitor.watch(pid, {
      thresholds: this.#policy.thresholds,
      periodMs,
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
  failed(
    migration: OpsTarget,
    code: string,
    message: string,
    figures: Record<string, number | string | null> = {},
  ): void {
    if (code === 'interrupted') return;
    const kind: AlertKind = code === 'migration-timeout' ? 'migration-timeout' : 'migration-failed';
    this.#alert(kind, `${migration.version}_${migration.name}: ${message.split('\n')[0]}`, migration, {
      code,
      ...figures,
    });
  }

  /**
   * The side connection for ops/cancel's pg_cancel_backend (MIGRATION_TIMEOUT, signals): the monitor's, lent,
   * so a run opens no third connection; without a monitor a short-lived one.
   */
  side(): Promise<Lease> {
    return this.#monitor ? Promise.resolve(this.#monitor.lend()) : this.#connector.side();
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
        this.#alert(
          'sessions-blocked',
          `${event.sample.blocked} session(s) blocked by ${who}, the longest for ${(event.sample.longestWaitMs / 1000).toFixed(1)} s`,
          migration,
          {
            blocked: event.sample.blocked,
            longestWaitMs: event.sample.longestWaitMs,
            thresholdMs: event.thresholdMs,
          },
        );
        break;
      case 'deadlock':
        this.#alert('deadlock', `${event.deadlocks} deadlock(s) in the database while ${who} ran`, migration, {
          deadlocks: event.deadlocks,
        });
        break;
      case 'long-run':
        this.#alert('long-run', `${who} has run for ${Math.round(event.elapsedMs / 1000)} s`, migration, {
          elapsedMs: Math.round(event.elapsedMs),
          thresholdMs: event.thresholdMs,
        });
        break;
      default:
        break;
    }
  }

  #alert(
    kind: AlertKind,
    summary: string,
    migration: OpsTarget,
    figures: Record<string, number | string | null>,
  ): void {
    this.#alerter.send(
      makeAlert(
        kind,
        summary,
        this.#connector.description,
        { version: migration.version, name: migration.name, file: migration.file },
        figures,
      ),
    );
  }
}
