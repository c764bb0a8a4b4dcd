/**
 * Alerts (the seed's `send_alert`): when a migration fails, is cancelled by MIGRATION_TIMEOUT, blocks sessions
 * longer than ALERT_BLOCKED_AFTER, sees a deadlock, or runs longer than ALERT_RUN_LONGER_THAN, one JSON event
 * goes to ALERT_COMMAND (on its stdin; the command is split into argv words and run without a shell) and/or is
 * POSTed to ALERT_WEBHOOK_URL.
 *
 * An alert never fails the migration: a failed delivery is reported as an event and the run goes on. No retry
 * storm: each kind is sent at most once per migration, at most MAX_ALERTS_PER_RUN per run, never retried, each
 * delivery bounded by ALERT_TIMEOUT.
 */
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { splitCommand } from '../backup/upload.js';

export type AlertKind = 'migration-failed' | 'migration-timeout' | 'sessions-blocked' | 'deadlock' | 'long-run';
export type Severity = 'critical' | 'warning';

/** The JSON document a receiver gets. `database` is a URL with the password masked. */
export interface Alert {
  readonly source: 'tidemark';
  readonly kind: AlertKind;
  readonly severity: Severity;
  readonly summary: string;
  readonly database: string;
  readonly migration: { readonly version: string; readonly name: string; readonly file: string } | null;
  readonly figures: Readonly<Record<string, number | string | null>>;
  readonly host: string;
  readonly at: string;
}

export interface AlertConfig {
  /** The command line (split into words here, never run through a shell). */
  readonly command: string | undefined;
  readonly webhookUrl: string | undefined;
  readonly timeoutMs: number;
}

/** What happened to one delivery. The webhook is named by its host only: its path is often the secret. */
export interface AlertDelivery {
  readonly kind: AlertKind;
  readonly channel: 'command' | 'webhook';
  readonly target: string;
  readonly ok: boolean;
  readonly message: string;
}

export const MAX_ALERTS_PER_RUN = 20;

export const SEVERITY: Readonly<Record<AlertKind, Severity>> = {
  'migration-failed': 'critical',
  'migration-timeout': 'critical',
  deadlock: 'critical',
  'sessions-blocked': 'warning',
  'long-run': 'warning',
};

export function makeAlert(
  kind: AlertKind,
  summary: string,
  database: string,
  migration: Alert['migration'],
  figures: Alert['figures'],
  now = new Date(),
): Alert {
  return {
    source: 'tidemark',
    kind,
    severity: SEVERITY[kind],
    summary,
    database,
    migration,
    figures,
    host: hostname(),
    at: now.toISOString(),
  };
}

function webhookTarget(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the webhook';
  }
}

/** Runs the command with the alert on stdin; resolves with what happened (never rejects). */
export function runAlertCommand(
  argv: readonly string[],
  alert: Alert,
  timeoutMs: number,
): Promise<{ ok: boolean; message: string }> {
  return new Promise((resolve) => {
    const [program, ...args] = argv;
    if (!program) {
      resolve({ ok: false, message: 'ALERT_COMMAND is empty' });
      return;
    }
    let settled = false;
    const done = (ok: boolean, message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ok, message });
    };
    const child = spawn(program, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-2000);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done(false, `${program} did not finish within ${timeoutMs} ms and was killed`);
    }, timeoutMs);
    timer.unref();
    child.once('error', (error: NodeJS.ErrnoException) =>
      done(false, `could not start ${program}: ${error.code ?? error.message}`),
    );
    child.once('close', (code, signal) => {
      if (code === 0) done(true, `${program} exited 0`);
      else
        done(
          false,
          `${program} ${code === null ? `was killed by ${signal}` : `exited ${code}`}${stderr.trim() ? `: ${stderr.trim().split('\n').at(-1)}` : ''}`,
        );
    });
    // A receiver that does not read stdin must not fail the alert with EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(`${JSON.stringify(alert)}\n`);
  });
}

/** POSTs the alert as JSON; one try, bounded by `timeoutMs`; resolves with what happened (never rejects). */
export async function postAlert(
  url: string,
  alert: Alert,
  timeoutMs: number,
): Promise<{ ok: boolean; message: string }> {
  const target = webhookTarget(url);
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'tidemark' },
      body: JSON.stringify(alert),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
    await response.arrayBuffer().catch(() => undefined);
    return response.ok
      ? { ok: true, message: `${target} answered ${response.status}` }
      : { ok: false, message: `${target} answered ${response.status} ${response.statusText}`.trim() };
  } catch (error) {
    const e = error as { name?: string; cause?: { code?: string; message?: string }; message?: string };
    if (e.name === 'TimeoutError' || e.name === 'AbortError')
      return { ok: false, message: `${target} did not answer within ${timeoutMs} ms` };
    return {
      ok: false,
      message: `${target} could not be reached: ${e.cause?.code ?? e.cause?.message ?? e.message ?? String(error)}`,
    };
  }
}

/**
 * Sends alerts to the configured channels, at most once per kind and migration. send() returns at once; flush()
 * waits for the deliveries in flight (each bounded by the timeout) before the run ends.
 */
export class Alerter {
  readonly #config: AlertConfig;
  readonly #argv: string[] | undefined;
  readonly #onDelivery: (delivery: AlertDelivery) => void;
  readonly #sent = new Set<string>();
  readonly #inFlight = new Set<Promise<void>>();
  #count = 0;

  constructor(config: AlertConfig, onDelivery: (delivery: AlertDelivery) => void) {
    this.#config = config;
    this.#argv = config.command ? splitCommand(config.command) : undefined;
    this.#onDelivery = onDelivery;
  }

  get enabled(): boolean {
    return this.#argv !== undefined || this.#config.webhookUrl !== undefined;
  }

  send(alert: Alert): void {
    if (!this.enabled) return;
    const key = `${alert.kind}:${alert.migration?.version ?? ''}`;
    if (this.#sent.has(key) || this.#count >= MAX_ALERTS_PER_RUN) return;
    this.#sent.add(key);
    this.#count += 1;
    const deliveries: Promise<void>[] = [];
    if (this.#argv) {
      const argv = this.#argv;
      deliveries.push(
        runAlertCommand(argv, alert, this.#config.timeoutMs).then((r) =>
          this.#onDelivery({ kind: alert.kind, channel: 'command', target: argv[0] ?? '', ...r }),
        ),
      );
    }
    const url = this.#config.webhookUrl;
    if (url) {
      deliveries.push(
        postAlert(url, alert, this.#config.timeoutMs).then((r) =>
          this.#onDelivery({ kind: alert.kind, channel: 'webhook', target: webhookTarget(url), ...r }),
        ),
      );
    }
    const all = Promise.all(deliveries).then(
      () => undefined,
      () => undefined,
    );
    this.#inFlight.add(all);
    void all.finally(() => this.#inFlight.delete(all));
  }

  async flush(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }
}
