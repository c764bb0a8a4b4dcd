/**
 * Rendering, the only place that writes to the terminal. Three modes over the same results:
 * - tty: colour and a spinner with elapsed time (stdout is a terminal and CI is unset);
 * - plain: one line per event, no colour codes (pipes, CI logs);
 * - json: exactly one JSON document on stdout; progress and logs go to stderr.
 * Streams are passed in so tests capture them.
 */
import type { Writable } from 'node:stream';
import { Chalk, type ChalkInstance } from 'chalk';
import type { MigratorEvent } from '../index.js';

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
  readonly c: ChalkInstance;
  readonly #stdout: OutputOptions['stdout'];
  readonly #stderr: OutputOptions['stderr'];
  #spinner: Spinner | undefined;
  #spinnerLabel = '';
  #spinnerStarted = 0;
  #ticker: NodeJS.Timeout | undefined;
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
    this.c = new Chalk({ level: color ? 1 : 0 });
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
    this.#spinner.text = `${this.#spinnerLabel} ${this.c.dim(`${seconds}s`)}`;
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
        void this.progress(`${event.direction === 'up' ? 'Applying' : 'Rolling back'} ${event.migration.version}_${event.migration.name}`);
        break;
      case 'statement-start':
        if (this.mode === 'tty') this.relabel(`${this.#spinnerLabel.replace(/ \(statement.*$/, '')} (statement ${event.index}, line ${event.line})`);
        break;
      case 'migration-retry':
        this.info(c.yellow(`Lock timeout in ${event.migration.version}_${event.migration.name} (attempt ${event.attempt}); retrying in ${(event.waitMs / 1000).toFixed(0)} s.`));
        break;
      case 'migration-done': {
        const m = event.migration;
        const verb = event.direction === 'up' ? 'applied' : 'rolled back';
        this.done(`${verb} ${m.version}_${m.name} ${c.dim(`(${m.executionMs} ms)`)}`);
        break;
      }
      case 'backup-start':
        void this.progress('Taking a backup');
        break;
      case 'backup-progress':
        if (this.mode === 'tty') this.relabel(`Taking a backup: ${formatBytes(event.bytes)} written`);
        break;
      case 'backup-done':
        this.done(`backup ${event.backup.file} ${c.dim(`(${formatBytes(event.backup.sizeBytes)}, ${(event.backup.durationMs / 1000).toFixed(1)} s, validated)`)}`);
        break;
      case 'lint': {
        const { summary } = event;
        if (summary.skipped) this.info(c.dim(`Lint skipped: ${summary.skipped}.`));
        else {
          const warnings = summary.findings.filter((f) => !f.acknowledged);
          const allowed = summary.findings.length - warnings.length;
          this.info(`Lint: ${warnings.length === 0 ? 'no findings' : `${warnings.length} warning${warnings.length === 1 ? '' : 's'}`}${allowed ? `, ${allowed} allowed by -- migrate:allow` : ''}.`);
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
