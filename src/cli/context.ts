/**
 * What every command gets: the settings (flags > environment > .env.migrations > defaults), the output, the
 * abort signal of SIGINT/SIGTERM, and the database it should talk to, resolved once.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Settings } from '../config/settings.js';
import { loadSettings } from '../config/settings.js';
import { embeddedPackageInstalled } from '../db/embedded-package.js';
import type { EmbeddedServer } from '../db/embedded.js';
import { oltpLockRetry } from '../ops/lock-retry.js';
import { paramsFromLibpq, paramsFromUrl, type ConnectionParams } from '../db/params.js';
import { DEFAULT_DB_WAIT_SECONDS, waitForDatabase } from '../db/wait.js';
import { holdOptimizer, holdYoungGeneration, releaseOptimizer, releaseYoungGeneration } from '../v8-flags.js';
import { usageError } from '../errors.js';
import { createMigrator, type LintRules, type Migrator, type MigratorOptions } from '../index.js';
import { Output } from './output.js';

export interface GlobalFlags {
  readonly databaseUrl?: string;
  readonly migrationsDir?: string;
  readonly rollbackDir?: string;
  readonly seedsDir?: string;
  readonly envFile?: string;
  readonly json?: boolean;
  readonly color?: boolean;
  readonly yes?: boolean;
  readonly verbose?: boolean;
  readonly embedded?: boolean;
  /** A command's own `--format` (lint, verify): `--format json` is `--json`. */
  readonly format?: string;
  readonly waitForDb?: number | true;
}

export interface Io {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly signal: AbortSignal;
}

export class CommandContext {
  readonly flags: GlobalFlags;
  readonly output: Output;
  readonly io: Io;
  #settings: Settings | undefined;
  #connection: ConnectionParams | undefined;
  #embedded: EmbeddedServer | undefined;
  /** True once a run has migrations to apply: the optimizing compiler is held off until close. */
  #optimizerHeld = false;
  /** True once a migrator was made: the young generation is kept from growing until close. */
  #youngHeld = false;

  constructor(flags: GlobalFlags, io: Io) {
    this.flags = flags;
    this.io = io;
    this.output = new Output({
      json: Boolean(flags.json) || flags.format === 'json',
      color: flags.color !== false,
      verbose: Boolean(flags.verbose) || Boolean(io.env.DEBUG),
      stdout: io.stdout as never,
      stderr: io.stderr as never,
      env: io.env,
    });
  }

  get settings(): Settings {
    if (this.#settings !== undefined) return this.#settings;
    this.#settings = loadSettings(
      {
        databaseUrl: this.flags.databaseUrl,
        migrationsDir: this.flags.migrationsDir,
        rollbackDir: this.flags.rollbackDir,
        seedsDir: this.flags.seedsDir,
        envFile: this.flags.envFile,
        embedded: this.flags.embedded,
        dbWaitSeconds: this.flags.waitForDb === true ? DEFAULT_DB_WAIT_SECONDS : this.flags.waitForDb,
      },
      this.io.env,
      this.io.cwd,
    );
    // On stderr in every mode: a --json document stays the command's result, and a typo is seen in CI logs.
    for (const w of this.#settings.warnings) this.output.info(this.output.c.yellow(`Warning: ${w.message}`));
    return this.#settings;
  }

  /** True when a person can answer a prompt (a TTY on stdin and stdout, not CI). */
  get interactive(): boolean {
    const ci = Boolean(this.io.env.CI) && this.io.env.CI !== 'false';
    return Boolean(this.io.stdin.isTTY && this.io.stdout.isTTY) && !ci;
  }

  /** The database: DATABASE_URL, else libpq PG* variables, else --embedded; never a silent default. */
  async connection(): Promise<ConnectionParams> {
    if (this.#connection) return this.#connection;
    const s = this.settings;
    if (s.embedded) {
      const { startEmbedded } = await import('../db/embedded.js');
      // Not said where the package is missing: startEmbedded then explains how to add it, and nothing starts.
      if (embeddedPackageInstalled()) await this.output.progress('Starting the embedded PostgreSQL server');
      this.#embedded = await startEmbedded(s.cwd);
      this.output.stop();
      this.#connection = this.#embedded.params;
    } else if (s.databaseUrl !== undefined) {
      this.#connection = paramsFromUrl(s.databaseUrl, this.#libpqVariables());
    } else if (s.libpqEnv.PGHOST !== undefined || s.libpqEnv.PGDATABASE !== undefined) {
      this.#connection = paramsFromLibpq(this.#libpqVariables());
    } else {
      throw usageError('no-database', 'No database to migrate: DATABASE_URL is not set.', {
        hint: "Set DATABASE_URL (or DB_URL, or libpq's PGHOST/PGDATABASE) in the environment or .env.migrations, or pass --database-url URL.{{tryEmbedded}}",
      });
    }
    if (!s.embedded && s.dbWaitSeconds > 0) await this.#waitForDatabase(this.#connection, s.dbWaitSeconds);
    return this.#connection;
  }

  /**
   * The PG* variables as libpq applies them: defaults for whatever DATABASE_URL leaves out, and the password
   * file ~/.pgpass unless PGPASSFILE names another (libpq reads it only when no password is given).
   */
  #libpqVariables(): Record<string, string | undefined> {
    const vars = this.settings.libpqEnv;
    const home = this.io.env.HOME;
    return { ...vars, PGPASSFILE: vars.PGPASSFILE ?? (home ? join(home, '.pgpass') : undefined) };
  }

  /** --wait-for-db: retry the first connection while the server comes up, saying what it waits for. */
  async #waitForDatabase(params: ConnectionParams, seconds: number): Promise<void> {
    let lastSaid = '';
    let lastAt = 0;
    await waitForDatabase(params, {
      timeoutMs: seconds * 1000,
      signal: this.io.signal,
      onWait: ({ reason, delayMs, remainingMs }) => {
        // One line when the reason changes, then one every few seconds: an init container's log stays readable.
        if (reason.code === lastSaid && Date.now() - lastAt < 5_000) return;
        lastSaid = reason.code;
        lastAt = Date.now();
        this.output.info(
          `Waiting for the database to come up: ${reason.message} Next try in ${(delayMs / 1000).toFixed(1)} s, ${Math.ceil(remainingMs / 1000)} s left.`,
        );
      },
    });
  }

  /** The migrator of this command, built with the library's createMigrator (the CLI is its first client). */
  async migrator(options: { lockWaitMs?: number | undefined; offline?: boolean | undefined } = {}): Promise<Migrator> {
    const connection = options.offline ? undefined : await this.connection();
    // pg loads net when it opens the socket and tls at the SSL upgrade, both after the hold below has begun: a
    // built-in loaded under a held flag is compiled from source (~2 ms more for tls and its modules; ~1-2 ms for
    // net), so they are loaded first. net is usually loaded already, by process.stdout or stderr when either is
    // a pipe or a terminal; with both going to files nothing else loads it before the connection.
    if (connection) {
      const load = createRequire(import.meta.url);
      load('node:net');
      if (connection.sslmode !== undefined && connection.sslmode !== 'disable') load('node:tls');
    }
    this.#holdYoungGeneration();
    return createMigrator(
      migratorOptionsOf(this.settings, connection, {
        onEvent: (event) => {
          if (event.type === 'plan' && event.migrations.length > 0) this.#holdOptimizer();
          this.output.event(event);
        },
        signal: this.io.signal,
        lockWaitMs: options.lockWaitMs,
        env: this.io.env,
      }),
    );
  }

  /**
   * Migrations are about to run: V8's optimizing compiler stays off until the command ends. A CLI process runs
   * each migration's JavaScript a thousand times at most and exits; TurboFan's background compiles of it cost
   * more CPU than they save, and their memory stays resident: ~7 MB of the peak RSS of `up` of 1000 migrations
   * (docs/decisions.md). Only in the CLI, never in the library (it would change its host's process), and only
   * now: the built-ins a run needs are loaded (see v8-flags.ts on the flag hash).
   */
  #holdOptimizer(): void {
    if (!this.#optimizerHeld) this.#optimizerHeld = holdOptimizer();
  }

  /**
   * The files are about to be read: V8's young generation stays at the size it has until the command ends.
   * V8 doubles it (semi-spaces of 1, 2, 4... up to 16 MB) each time as much as its size has survived
   * scavenges, and reading a thousand files (their texts, checksums and Migration objects survive, rightly)
   * grows it from 2 to 4 MB semi-spaces. A no-op exits before it touches the new pages; a run touches them
   * all within its first scavenges: ~3 MB of the peak RSS of `up` of 1000 migrations, for nothing a run
   * needs (what survives a scavenge of a run is ~50 KB). It cannot start earlier: the first growth happens
   * while the bundle loads Node's built-ins, which a changed flag hash would compile from source (v8-flags.ts).
   * Only in the CLI, never in the library (it would change its host's process).
   */
  #holdYoungGeneration(): void {
    if (!this.#youngHeld) this.#youngHeld = holdYoungGeneration();
  }

  async close(): Promise<void> {
    if (this.#optimizerHeld) releaseOptimizer();
    this.#optimizerHeld = false;
    if (this.#youngHeld) releaseYoungGeneration();
    this.#youngHeld = false;
    this.output.stop();
    const embedded = this.#embedded;
    this.#embedded = undefined;
    if (embedded) await embedded.stop().catch(() => {});
  }
}

/** The CLI's migrator options: every policy follows the settings (backup on by default, lint on, the guard when MIGRATE_ENV=production). */
export function migratorOptionsOf(
  s: Settings,
  connection: ConnectionParams | undefined,
  options: {
    onEvent: MigratorOptions['onEvent'];
    signal: AbortSignal | undefined;
    lockWaitMs: number | undefined;
    env: NodeJS.ProcessEnv;
  },
): MigratorOptions {
  const base = {
    database: connection,
    migrations: { directory: s.migrationsDir, rollbackDirectory: s.rollbackDir },
    root: s.cwd,
    table: s.migrationsTable,
    timeouts: {
      lockWaitSeconds: s.maxLockWaitSeconds,
      statementMs: s.statementTimeoutMs,
      migrationSeconds: s.migrationTimeoutSeconds,
    },
    lockRetries: oltpLockRetry(s),
    monitor: {
      thresholds: {
        warnBlockedMs: s.blockedWarnMs,
        alertBlockedMs: s.alertBlockedMs,
        alertLongRunMs: s.alertLongRunMs,
      },
      alerts: { command: s.alertCommand, webhookUrl: s.alertWebhookUrl, timeoutMs: s.alertTimeoutMs },
    },
    lockWaitMs: options.lockWaitMs,
    strategy: s.strategy,
    backup: {
      directory: s.backupDir,
      beforeMigrate: s.backupBeforeMigrate,
      retentionDays: s.backupRetentionDays,
      keep: s.backupKeep,
      uploadCommand: s.backupUploadCommand,
      uploadEnv: options.env,
      pgDumpPath: s.pgDumpPath,
    },
    lint: true as const,
    lintRules: lintRulesOf(s),
    seeds: { directory: s.seedsDir },
    wording: 'cli' as const,
    onEvent: options.onEvent,
    signal: options.signal,
  };
  return s.migrateEnv === 'production' ? { ...base, production: { allowDdl: s.allowDdlInProduction } } : base;
}

/** The lint part of the settings, as the run's lint rules. */
export function lintRulesOf(s: Settings): LintRules {
  return {
    sizeThresholdBytes: s.lintSizeThresholdBytes,
    startAfter: s.lintStartAfter,
    startAfterName: 'LINT_START_AFTER',
    severity: s.lintRules,
  };
}
