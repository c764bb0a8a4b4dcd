/**
 * Everything a run is told, resolved once: where the connections and migrations come from, the timeouts,
 * and which policies are on. createMigrator (src/index.ts) builds it from its options, each policy off unless
 * asked for; the CLI passes options made from its settings (cli/context.ts), so there the settings decide. The
 * core reads nothing else: no environment, no working directory.
 */
import type { Strategy, TableRef } from '../config/settings.js';
import type { Connector } from '../db/connector.js';
import type { LockRetryPolicy } from '../ops/lock-retry.js';
import type { MigrationSource } from '../source/source.js';
import type { EventSink } from './results.js';
import type { Wording } from './wording.js';

/** How long `up` waits for another runner's lock when --wait is not given. */
export const DEFAULT_LOCK_WAIT_MS = 60_000;

export interface Timeouts {
  /** lock_timeout of every migration statement, in seconds (0 = wait forever). */
  readonly lockWaitSeconds: number;
  /** statement_timeout, in milliseconds (0 = off). */
  readonly statementMs: number;
  /** A migration running longer is cancelled; seconds, 0 = no limit. */
  readonly migrationSeconds: number;
}

export interface BackupPolicy {
  /** Take one before up/down/redo (else only `backup()` takes one). */
  readonly beforeMigrate: boolean;
  readonly dir: string;
  readonly retentionDays: number;
  readonly keep: number | undefined;
  readonly uploadCommand: string | undefined;
  readonly pgDumpPath: string | undefined;
  /** Backup paths in results are shown relative to this folder. */
  readonly displayRoot: string | undefined;
  /** Environment of the upload command (the CLI passes its own; the library, the process's by default). */
  readonly uploadEnv: NodeJS.ProcessEnv | undefined;
}

export interface SeedLocation {
  readonly dir: string;
  /** Paths in messages are shown relative to this folder. */
  readonly cwd: string;
}

export interface LintRules {
  /** Connected, a lock/rewrite finding on a table smaller than this (bytes) is a warning. */
  readonly sizeThresholdBytes?: number | undefined;
  /** Files at or before this version are reported, not refused (a history adopted with baseline). */
  readonly startAfter?: bigint | undefined;
  /** How messages name `startAfter` (`LINT_START_AFTER` in the CLI). */
  readonly startAfterName?: string | undefined;
  /** Per rule id: `off`, or the severity to report it with. */
  readonly severity?: ReadonlyMap<string, 'off' | 'warning' | 'error'> | undefined;
}

export interface RunConfig {
  readonly connector: Connector;
  readonly source: MigrationSource;
  readonly table: TableRef;
  readonly timeouts: Timeouts;
  readonly lockRetry: LockRetryPolicy;
  /** How long to wait for the runner lock held by another run. */
  readonly runnerLockWaitMs: number;
  readonly strategy: Strategy;
  /** Where and how backups are taken; undefined = none (before a run, or on request). */
  readonly backup: BackupPolicy | undefined;
  /** When no backup is taken before a run because it was turned off, how (reported as the run's backupSkipped). */
  readonly backupOff: string | undefined;
  /** Relative file names (lint FILE...) are resolved against this folder and paths shown relative to it. */
  readonly root: string | undefined;
  /** Lint the files a command runs (up, down, redo, seed) and refuse unacknowledged errors. */
  readonly lint: boolean;
  /** How the lint judges (size threshold, adopted history, per-rule severities); undefined: the defaults. */
  readonly lintRules?: LintRules | undefined;
  /** The production guard: DDL needs allowDdl, lint always runs and blocks, a backup is required, seeds refused. */
  readonly production: { readonly allowDdl: boolean } | undefined;
  readonly seeds: SeedLocation | undefined;
  readonly words: Wording;
  readonly onEvent: EventSink;
  /** Aborted by SIGINT/SIGTERM (or the app): the running statement is cancelled and its migration rolled back. */
  readonly signal: AbortSignal | undefined;
  /** `applied_by` of the tracking rows. */
  readonly appliedBy: string;
}
