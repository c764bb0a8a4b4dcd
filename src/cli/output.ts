/**
 * Rendering, the only place that writes to the terminal. Three modes over the same results:
 * - tty: colour and a spinner with elapsed time (stdout is a terminal and CI is unset);
 * - plain: one line per event, no colour codes (pipes, CI logs);
 * - json: exactly one JSON document on stdout; progress and logs go to stderr.
 * Streams are passed in so tests capture them.
 */
import type { Writable } from 'node:stream';
import type { MigratorEvent } from '../index.js';
import { describeBlocker } from '../ops/blockers.js';
import { styles, type Styles } from './styles.js';
import type { MonitorSummary } from '../ops/monitor.js';

export type OutputMode = 'tty' | 'plain' | 'json';

export interface OutputOptions {
  readonly json: boolean;
  readonly color: boolean;
  readonly verbose: boolean;
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
}

interface Spinner {
  text: string;
  start(): Spinner;
  stop(): Spinner;
  succeed(text?: string): Spinner;
  fail(text?: string): Spinner;
}

export class Output {
  readonly mode: OutputMode;
  readonly verbose: boolean;
  readonly c: Styles;
  readonly #stdout: OutputOptions['stdout'];
  readonly #stderr: OutputOptions['stderr'];
  #spinner: Spinner | undefined;
  #spinnerLabel = '';
  /** The monitor's picture, shown after the spinner's label ("3 sessions waiting on it"). */
  #spinnerSuffix = '';
  #spinnerStarted = 0;
  #ticker: NodeJS.Timeout | undefined;
  /** When plain mode last wrote a backfill progress line (at most one every PROGRESS_LINE_MS). */
  #lastProgressLine = 0;
  /** Bumped by done() and stop(): a spinner whose module finished loading after that does not start. */
  #generation = 0;

  constructor(options: OutputOptions) {
    const ci = Boolean(options.env.CI) && options.env.CI !== 'false';
    // A terminal that reports no width (a pty opened without a size: `script`, some `docker run -t`) would make
    // the spinner compute infinitely many lines to clear and spin forever: such a terminal gets plain lines.
    const stderr = options.stderr as { isTTY?: boolean; columns?: number };
    const sizedTerminal = Boolean(options.stdout.isTTY && stderr.isTTY && (stderr.columns ?? 0) > 0);
    this.mode = options.json ? 'json' : sizedTerminal && !ci ? 'tty' : 'plain';
    const color = options.color && this.mode === 'tty' && options.env.NO_COLOR === undefined;
    this.c = styles(color);
    this.verbose = options.verbose;
    this.#stdout = options.stdout;
    this.#stderr = options.stderr;
  }

  /** A result line for humans (stdout; in json mode it goes to stderr so stdout stays one document). */
  line(text = ''): void {
    this.#pauseSpinner();
    (this.mode === 'json' ? this.#stderr : this.#stdout).write(`${text}\n`);
    this.#resumeSpinner();
  }

  /** Progress and diagnostics: stderr in every mode. */
  info(text: string): void {
    this.#pauseSpinner();
    this.#stderr.write(`${text}\n`);
    this.#resumeSpinner();
  }

  json(document: unknown): void {
    this.#stdout.write(`${JSON.stringify(document, jsonReplacer, 2)}\n`);
  }

  /** Starts (or relabels) the spinner on a TTY; plain mode prints the label once. */
  async progress(label: string): Promise<void> {
    if (this.mode !== 'tty') {
      if (this.mode === 'plain') this.info(label);
      return;
    }
    this.#spinnerLabel = label;
    this.#spinnerSuffix = '';
    this.#spinnerStarted = Date.now();
    if (!this.#spinner) {
      // ora loads on first use; by the time it has, the step may be over (done() or stop() ran): then no
      // spinner may start, or a stale one would spin over the next lines.
      const generation = ++this.#generation;
      const { default: ora } = await import('ora');
      if (generation !== this.#generation || this.#spinner) return;
      this.#spinner = ora({
        text: label,
        stream: this.#stderr as NodeJS.WritableStream,
        discardStdin: false,
        color: this.c.level > 0 ? 'cyan' : false,
      }).start() as unknown as Spinner;
      this.#ticker = setInterval(() => this.#render(), 100);
      this.#ticker.unref();
    }
    this.#render();
  }

  /** Relabels without resetting the clock (e.g. statement 2 of 5). */
  relabel(label: string): void {
    this.#spinnerLabel = label;
    this.#render();
  }

  done(text: string, ok = true): void {
    this.#generation += 1;
    if (this.#spinner) {
      if (ok) this.#spinner.succeed(text);
      else this.#spinner.fail(text);
      this.#stopSpinner();
    } else if (this.mode === 'plain') {
      this.info(text);
    } else if (this.mode === 'json') {
      this.info(text);
    } else {
      this.info(`${ok ? this.c.green('✔') : this.c.red('✖')} ${text}`);
    }
  }

  stop(): void {
    this.#generation += 1;
    this.#spinner?.stop();
    this.#stopSpinner();
  }

  #stopSpinner(): void {
    if (this.#ticker) clearInterval(this.#ticker);
    this.#ticker = undefined;
    this.#spinner = undefined;
  }

  #render(): void {
    if (!this.#spinner) return;
    const seconds = ((Date.now() - this.#spinnerStarted) / 1000).toFixed(1);
    this.#spinner.text = `${this.#spinnerLabel} ${this.c.dim(`${seconds}s`)}${this.#spinnerSuffix ? ` ${this.c.yellow(this.#spinnerSuffix)}` : ''}`;
  }

  #pauseSpinner(): void {
    this.#spinner?.stop();
  }

  #resumeSpinner(): void {
    this.#spinner?.start();
  }

  /** Default rendering of migrator events shared by up, down, redo. */
  event(event: MigratorEvent): void {
    const c = this.c;
    switch (event.type) {
      case 'lock-waiting': {
        const h = event.holder;
        this.info(
          `Waiting for the runner lock held by ${h ? `process ${h.pid} (${h.applicationName || 'unnamed'}, user ${h.user}${h.clientAddress ? ` from ${h.clientAddress}` : ''})` : 'another runner'}...`,
        );
        break;
      }
      case 'lock-acquired':
        this.info(`Got the runner lock after ${(event.waitedMs / 1000).toFixed(1)} s.`);
        break;
      case 'migration-start':
        void this.progress(
          `${event.direction === 'up' ? 'Applying' : 'Rolling back'} ${event.migration.version}_${event.migration.name}`,
        );
        break;
      case 'statement-start':
        if (this.mode === 'tty')
          this.relabel(
            `${this.#spinnerLabel.replace(/ \(statement.*$/, '')} (statement ${event.index}, line ${event.line})`,
          );
        break;
      case 'migration-retry': {
        const held = event.blockers.length > 0 ? ` held by ${event.blockers.map(describeBlocker).join('; ')}` : '';
        const on = event.blockers[0]?.waitingFor ? ` on ${event.blockers[0].waitingFor}` : '';
        this.info(
          c.yellow(
            `Lock timeout in ${event.migration.version}_${event.migration.name} (attempt ${event.attempt} of ${event.attempts}, lock_timeout ${event.lockTimeoutMs} ms): ` +
              `the lock${on} is${held || ' held by another session'}; retrying in ${(event.waitMs / 1000).toFixed(1)} s with lock_timeout ${event.nextLockTimeoutMs || 'off'}${event.nextLockTimeoutMs ? ' ms' : ''}.`,
          ),
        );
        break;
      }
      case 'migration-done': {
        const m = event.migration;
        const verb = event.direction === 'up' ? 'applied' : 'rolled back';
        this.done(
          `${verb} ${m.version}_${m.name} ${c.dim(`(${m.executionMs} ms${m.monitor ? `; ${monitorSummaryText(m.monitor)}` : ''})`)}`,
        );
        break;
      }
      case 'monitor': {
        const name = event.migration.version
          ? `${event.migration.version}_${event.migration.name}`
          : event.migration.name;
        const e = event.event;
        switch (e.type) {
          case 'changed': {
            const picture =
              e.sample.blocked > 0
                ? `${e.sample.blocked} session${e.sample.blocked === 1 ? '' : 's'} waiting on it (longest ${(e.sample.longestWaitMs / 1000).toFixed(1)} s)`
                : 'no session waiting on it any more';
            if (this.mode === 'tty' && this.#spinner) {
              this.#spinnerSuffix = e.sample.blocked > 0 ? picture : '';
              this.#render();
            } else this.info(`${name}: ${picture}.`);
            break;
          }
          case 'waiting-on': {
            const first = e.blockers[0]!;
            if (this.mode === 'tty' && this.#spinner) {
              this.#spinnerSuffix = `waiting for pid ${first.pid} (${first.applicationName || 'no application_name'})`;
              this.#render();
            } else {
              this.info(
                c.yellow(
                  `${name} waits for a lock${first.waitingFor ? ` on ${first.waitingFor}` : ''} held by ${e.blockers.map(describeBlocker).join('; ')}.`,
                ),
              );
            }
            break;
          }
          case 'blocked-warning':
            this.info(
              c.yellow(
                `Warning: ${name} has blocked ${e.sample.blocked} session${e.sample.blocked === 1 ? '' : 's'} for up to ${(e.sample.longestWaitMs / 1000).toFixed(1)} s (BLOCKED_WARN=${e.thresholdMs / 1000} s). MIGRATION_TIMEOUT or Ctrl-C cancels it and rolls it back.`,
              ),
            );
            break;
          case 'blocked-alert':
            this.info(
              c.yellow(`${name}: sessions blocked longer than ALERT_BLOCKED_AFTER (${e.thresholdMs / 1000} s).`),
            );
            break;
          case 'deadlock':
            this.info(
              c.red(
                `${name}: ${e.deadlocks} deadlock${e.deadlocks === 1 ? '' : 's'} in the database while it runs (pg_stat_database.deadlocks).`,
              ),
            );
            break;
          case 'long-run':
            this.info(
              c.yellow(
                `${name} has run for ${Math.round(e.elapsedMs / 1000)} s (ALERT_RUN_LONGER_THAN=${e.thresholdMs / 1000} s).`,
              ),
            );
            break;
          default:
            break;
        }
        break;
      }
      case 'backfill-start': {
        const resumed = event.resumed
          ? `, resuming after ${event.resumed.rowsDone.toLocaleString('en-US')} rows (${event.resumed.batches} batches done)`
          : '';
        const estimate = event.estimate === undefined ? '' : ` (~${event.estimate.toLocaleString('en-US')} rows)`;
        this.info(`Backfilling ${event.table} by ${event.key}${estimate}${resumed}.`);
        if (this.mode === 'tty') void this.progress(`Backfilling ${event.table}`);
        break;
      }
      case 'backfill-progress': {
        const pct = event.estimate
          ? ` of ~${event.estimate.toLocaleString('en-US')} (${Math.min(100, Math.floor((event.rowsDone * 100) / Math.max(1, event.estimate)))}%)`
          : '';
        const eta = event.etaMs === undefined ? '' : `, ETA ${formatEta(event.etaMs)}`;
        const text = `${event.table}: ${event.rowsDone.toLocaleString('en-US')} rows${pct}, ${event.rowsPerSecond.toLocaleString('en-US')} rows/s${eta}`;
        if (this.mode === 'tty') {
          const bar = event.estimate ? `${progressBar(event.rowsDone, event.estimate)} ` : '';
          this.relabel(
            `Backfilling ${event.table} ${bar}${event.rowsDone.toLocaleString('en-US')} rows${pct}, ${event.rowsPerSecond.toLocaleString('en-US')} rows/s${eta}`,
          );
        } else if (Date.now() - this.#lastProgressLine >= PROGRESS_LINE_MS) {
          this.#lastProgressLine = Date.now();
          this.info(`backfill ${text}`);
        }
        break;
      }
      case 'backfill-throttled':
        this.info(
          c.yellow(
            event.reason === 'replication-lag'
              ? `Backfill paused: a replica is ${seconds(event.figure)} behind (--max-lag ${seconds(event.limitMs)}); waiting for it to catch up.`
              : `Backfill slowed: ${event.figure} session${event.figure === 1 ? '' : 's'} waited on its last batch; pausing ${event.pauseMs} ms between batches.`,
          ),
        );
        break;
      case 'backfill-resumed':
        this.info(
          event.reason === 'replication-lag'
            ? `Backfill resumed: the replica is ${seconds(event.figure)} behind, after ${seconds(event.throttledMs)} of waiting.`
            : `Backfill back to its pace: no session waited on its last batch (slowed for ${seconds(event.throttledMs)}).`,
        );
        break;
      case 'monitor-off':
        this.info(c.dim(`Lock monitor off: ${event.reason}.`));
        break;
      case 'alert': {
        const d = event.delivery;
        if (d.ok) this.info(c.dim(`Alert ${d.kind} sent to the ${d.channel} (${d.message}).`));
        else
          this.info(c.yellow(`Alert ${d.kind} could not be sent to the ${d.channel}: ${d.message}. The run goes on.`));
        break;
      }
      case 'backup-start':
        void this.progress('Taking a backup');
        break;
      case 'backup-progress':
        if (this.mode === 'tty') this.relabel(`Taking a backup: ${formatBytes(event.bytes)} written`);
        break;
      case 'backup-done':
        this.done(
          `backup ${event.backup.file} ${c.dim(`(${formatBytes(event.backup.sizeBytes)}, ${(event.backup.durationMs / 1000).toFixed(1)} s, validated)`)}`,
        );
        break;
      case 'lint': {
        const { summary } = event;
        if (summary.skipped) this.info(c.dim(`Lint skipped: ${summary.skipped}.`));
        else {
          const warnings = summary.findings.filter((f) => !f.acknowledged);
          const allowed = summary.findings.length - warnings.length;
          this.info(
            `Lint: ${warnings.length === 0 ? 'no findings' : `${warnings.length} warning${warnings.length === 1 ? '' : 's'}`}${allowed ? `, ${allowed} allowed by -- migrate:allow` : ''}.`,
          );
          for (const f of warnings) this.info(`  ${f.file}:${f.line}:${f.column} ${f.rule}: ${f.message}`);
        }
        break;
      }
      case 'notice':
        this.info(event.message);
        break;
      default:
        break;
    }
  }
}

/** "blocked 3 sessions at once, longest wait 2.1 s, 0 deadlocks" */
export function monitorSummaryText(m: MonitorSummary): string {
  if (m.maxBlocked === 0 && m.deadlocks === 0) return 'blocked no session';
  const blocked =
    m.maxBlocked === 0
      ? 'blocked no session'
      : `blocked up to ${m.maxBlocked} session${m.maxBlocked === 1 ? '' : 's'} at once, longest wait ${(m.longestWaitMs / 1000).toFixed(1)} s`;
  return `${blocked}${m.deadlocks > 0 ? `, ${m.deadlocks} deadlock${m.deadlocks === 1 ? '' : 's'} in the database` : ''}`;
}

/** The backfill's bar on a terminal: `[██████░░░░░░░░░░░░░░]`, full at the estimate (which may be exceeded). */
export function progressBar(done: number, estimate: number, width = 20): string {
  const filled = Math.max(0, Math.min(width, Math.floor((done * width) / Math.max(1, estimate))));
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
}

/** 1500 -> "1.5 s" */
function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Plain mode writes a backfill progress line at most this often. */
const PROGRESS_LINE_MS = 5000;

function formatEta(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** bigint as string, Date as ISO: the JSON documents are for scripts. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  return value;
}
