/** What the migrator returns and emits. The CLI renders these; the library API returns them as they are. */
import type { LockHolder } from '../db/lock.js';
import type { FileLocks } from '../sql/locks.js';
import type { LintSummary } from './preflight.js';
import type { LockBlocker } from '../ops/blockers.js';
import type { MonitorSummary } from '../ops/monitor.js';
import type { OpsEvent } from '../ops/run-ops.js';
import type { BackfillEvent } from '../ops/backfill.js';
import { EXIT, MigrateError, type ErrorCode, type ExitCode } from '../errors.js';

export type Direction = 'up' | 'down';

export interface MigrationRef {
  readonly version: string;
  readonly name: string;
  /** The file that runs in this direction (the up file, or the rollback file). */
  readonly file: string;
}

export interface AppliedMigration extends MigrationRef {
  readonly executionMs: number;
  /** What the lock monitor saw while it ran (absent when the monitor was off). */
  readonly monitor?: MonitorSummary | undefined;
}

/** Where and why SQL failed, in the user's file. */
export interface SqlFailure {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly sqlstate: string | undefined;
  readonly message: string;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  /** PostgreSQL's CONTEXT (e.g. the line inside a PL/pgSQL body). */
  readonly where: string | undefined;
  /** 1-based index of the failed statement in the file, and how many it has. */
  readonly statement: number;
  readonly statements: number;
  /** The source line the position points at, for display. */
  readonly sourceLine: string | undefined;
}

export interface FailedMigration extends MigrationRef {
  readonly error: SqlFailure | undefined;
  /** For a no-transaction migration: the statements that ran (and stay) before the failure. */
  readonly statementsRun?: readonly { readonly line: number; readonly text: string }[];
  /** True when the failure left the migration marked dirty (no-transaction mode). */
  readonly dirty?: boolean;
  readonly monitor?: MonitorSummary | undefined;
}

export interface RunResult {
  readonly direction: Direction;
  readonly dryRun: boolean;
  readonly applied: readonly AppliedMigration[];
  readonly failed: FailedMigration | undefined;
  readonly notRun: readonly MigrationRef[];
  /** What was there before, for the report ("database at 003"). */
  readonly versionBefore: string | undefined;
  /** The newest version in the history after the run; after a failure, with what the run did before it. */
  readonly versionAfter: string | undefined;
  readonly backup: BackupSummary | undefined;
  readonly backupSkipped: string | undefined;
  /** The pre-run lint (up only): its findings, or why it was skipped. */
  readonly lint?: LintSummary | undefined;
  /** Pending migrations the expand phase left for `up --phase contract`. */
  readonly heldBack?: readonly MigrationRef[] | undefined;
  /** The lock report of what would run (up --dry-run). */
  readonly locks?: readonly FileLocks[] | undefined;
}

export interface BackupSummary {
  readonly file: string;
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly durationMs: number;
}

export type MigratorEvent =
  | { readonly type: 'lock-waiting'; readonly holder: LockHolder | undefined }
  | { readonly type: 'lock-acquired'; readonly waitedMs: number }
  | { readonly type: 'plan'; readonly direction: Direction; readonly migrations: readonly MigrationRef[] }
  | {
      readonly type: 'migration-start';
      readonly direction: Direction;
      readonly migration: MigrationRef;
      readonly statements: number;
      /** The backend pid that runs it: what a monitor of locks and blocked sessions watches. */
      readonly backendPid: number;
    }
  | {
      readonly type: 'statement-start';
      readonly migration: MigrationRef;
      readonly index: number;
      readonly line: number;
    }
  | {
      /** A lock attempt that timed out (55P03) and will be retried after waitMs. */
      readonly type: 'migration-retry';
      readonly migration: MigrationRef;
      readonly attempt: number;
      /** How many attempts the policy allows in all. */
      readonly attempts: number;
      /** The lock_timeout this attempt ran under, and the next one's. */
      readonly lockTimeoutMs: number;
      readonly nextLockTimeoutMs: number;
      readonly waitMs: number;
      readonly reason: string;
      /** Who held the lock, seen by the monitor during the attempt ([] when it could not look). */
      readonly blockers: readonly LockBlocker[];
    }
  | { readonly type: 'migration-done'; readonly direction: Direction; readonly migration: AppliedMigration }
  | { readonly type: 'backup-start' }
  | { readonly type: 'backup-progress'; readonly bytes: number; readonly elapsedMs: number }
  | { readonly type: 'backup-done'; readonly backup: BackupSummary }
  | { readonly type: 'lint'; readonly summary: LintSummary }
  | { readonly type: 'notice'; readonly message: string }
  | OpsEvent
  | BackfillEvent;

export type EventSink = (event: MigratorEvent) => void;

/** A run that stopped part-way: carries what was applied, what failed and what did not run. */
export class MigrationFailedError extends MigrateError {
  readonly result: RunResult;
  /** `signal`: for `interrupted`, the signal that stopped the run (its exit code is the signal's). `details`: facts for --json. */
  constructor(
    code: ErrorCode,
    message: string,
    result: RunResult,
    hint?: string,
    cause?: unknown,
    signal?: string,
    details?: Record<string, unknown>,
  ) {
    super(code, message, { hint, cause, signal, details });
    this.result = result;
  }
}

export function interruptedExitCode(signal: string | undefined): ExitCode {
  return signal === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint;
}
