/**
 * Failure location: what failed, where in the user's file, and what to do about it. The executor wraps what
 * went wrong in one typed ExecutionError (which statement, whether it was cancelled and why, what a
 * no-transaction run left behind); this module turns it into the file:line:col of an SqlFailure and the
 * MigrationFailedError the caller sees, with the hint that fits.
 */
import { connectionLostError, isConnectionLost } from '../db/connection.js';
import type { InvalidIndex } from '../db/invalid-indexes.js';
import type { ConnectionParams } from '../db/params.js';
import { MigrateError } from '../errors.js';
import { LOCK_NOT_AVAILABLE, formatMs } from '../ops/lock-retry.js';
import { describeBlocker, type LockBlocker } from '../ops/blockers.js';
import type { MonitorSummary } from '../ops/monitor.js';
import type { CancelReason } from '../ops/cancel.js';
import type { LostMigration, Outcome } from '../ops/outcome.js';
import type { SqlFile } from '../source/types.js';
import { charIndexFromPgPosition, lineColumnAt } from '../sql/position.js';
import { psqlOnlyInput } from '../sql/psql-only.js';
import {
  MigrationFailedError,
  type FailedMigration,
  type MigrationRef,
  type RunResult,
  type SqlFailure,
} from './results.js';
import type { Wording } from './wording.js';

const QUERY_CANCELED = '57014';
const SYNTAX_ERROR = '42601';

/** One statement of a file, where it starts (character index, line, column). */
export interface Statement {
  readonly text: string;
  readonly start: number;
  readonly line: number;
  readonly column: number;
}

/** PostgreSQL's fields of an error (pg's DatabaseError), as far as failure location reads them. */
interface PgErrorFields {
  readonly code?: string;
  readonly severity?: string;
  readonly position?: string;
  readonly message?: string;
  readonly detail?: string;
  readonly hint?: string;
  readonly where?: string;
}

export interface ExecutionErrorFacts {
  /** 0-based index of the statement of the file that failed (or was about to run when cancelled). */
  readonly statementIndex: number;
  /** Set when the timeout or a signal cancelled the work. */
  readonly cancelled?: CancelReason | undefined;
  /** The file went to the server as one query (a transactional run, a seed); positions are the file's. */
  readonly whole?: boolean | undefined;
  /** PostgreSQL's error position, relative to the file (whole) or to the statement; undefined when outside it. */
  readonly position?: string | undefined;
  /** No-transaction run: the statements that ran (and stay) before the failure. */
  readonly statementsRun?: readonly { readonly line: number; readonly text: string }[] | undefined;
  /** No-transaction run: INVALID indexes the failed statement left behind. */
  readonly invalidIndexes?: readonly InvalidIndex[] | undefined;
  /** The backend that ran it: asked about (ended, then its history row read) when the connection was lost. */
  readonly backendPid?: number | undefined;
  /** Transactional run that gave up on its lock: every attempt, its lock_timeout and who held the lock. */
  readonly lockAttempts?: readonly LockAttempt[] | undefined;
}

/** One lock attempt that timed out, as the final error and --json report it. */
export interface LockAttempt {
  readonly attempt: number;
  readonly lockTimeoutMs: number;
  readonly blockers: readonly LockBlocker[];
}

/** What went wrong while a file ran: the original error (`cause`) and where it happened. */
export class ExecutionError extends Error implements ExecutionErrorFacts {
  readonly statementIndex: number;
  readonly cancelled: CancelReason | undefined;
  readonly whole: boolean;
  readonly position: string | undefined;
  readonly statementsRun: readonly { readonly line: number; readonly text: string }[] | undefined;
  readonly invalidIndexes: readonly InvalidIndex[] | undefined;
  readonly lockAttempts: readonly LockAttempt[] | undefined;
  readonly backendPid: number | undefined;

  constructor(cause: unknown, facts: ExecutionErrorFacts) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'ExecutionError';
    this.statementIndex = facts.statementIndex;
    this.cancelled = facts.cancelled;
    this.whole = facts.whole ?? false;
    this.position = facts.position;
    this.statementsRun = facts.statementsRun;
    this.invalidIndexes = facts.invalidIndexes;
    this.lockAttempts = facts.lockAttempts;
    this.backendPid = facts.backendPid;
  }

  /** The same failure with more facts (what a no-transaction run left behind). */
  with(facts: Partial<ExecutionErrorFacts>): ExecutionError {
    return new ExecutionError(this.cause, { ...this, ...facts });
  }
}

/** The error as thrown by pg (or ours), whether or not the executor wrapped it. */
export function originalError(error: unknown): unknown {
  return error instanceof ExecutionError ? error.cause : error;
}

/** Maps PostgreSQL's error position (characters, relative to the statement sent) to the file's line:col. */
export function locateFailure(
  file: SqlFile,
  statement: Statement,
  index: number,
  count: number,
  e: PgErrorFields,
): SqlFailure {
  let charIndex = statement.start;
  if (e.position) charIndex = statement.start + charIndexFromPgPosition(statement.text, Number(e.position));
  const { line, column } = lineColumnAt(file.text, charIndex);
  const sourceLine = file.text.split('\n')[line - 1]?.replace(/\r$/, '');
  return {
    file: file.displayPath,
    line,
    column,
    sqlstate: e.code,
    message: e.message ?? 'unknown error',
    detail: e.detail,
    hint: e.hint,
    where: e.where,
    statement: index + 1,
    statements: count,
    sourceLine,
  };
}

/** Splits with the real grammar (loaded on first use); a file that does not parse stops the run before it starts. */
export async function statementsOf(file: SqlFile): Promise<Statement[]> {
  if (file.empty) return [];
  const { splitStatements } = await import('../sql/split.js');
  return splitStatements(file.text, file.displayPath);
}

/** The user's file, line and column of an SQL error; undefined for errors that are not PostgreSQL's. */
export async function failureOf(
  error: unknown,
  file: SqlFile,
  statements: readonly Statement[] | undefined,
): Promise<SqlFailure | undefined> {
  if (!(error instanceof ExecutionError)) return undefined;
  const cause = error.cause;
  if (cause instanceof MigrateError) return undefined;
  const pgError = {
    ...(cause as PgErrorFields),
    message: (cause as Error | undefined)?.message,
    position: error.position,
  };
  if (pgError.severity === undefined && !pgError.code) return undefined;
  if (error.whole) {
    // The file went whole: split it now (the only time a transactional run loads the parser) to name the
    // statement. A file the parser rejects still gets PostgreSQL's position, which is relative to the file.
    const split = await statementsOf(file).catch(() => undefined);
    const statement = split?.[error.statementIndex];
    const wholeFile: Statement = { text: file.text, start: 0, line: 1, column: 1 };
    return locateFailure(
      file,
      pgError.position || !statement ? wholeFile : statement,
      error.statementIndex,
      split?.length ?? 0,
      pgError,
    );
  }
  const statement = statements?.[error.statementIndex];
  if (!statement) return undefined;
  return locateFailure(file, statement, error.statementIndex, statements!.length, pgError);
}

export function label(ref: MigrationRef): string {
  return `${ref.version}_${ref.name}`;
}

/** What the failure message needs to know about the run. */
export interface FailureContext {
  readonly params: ConnectionParams;
  readonly signal: AbortSignal | undefined;
  readonly maxLockWaitSeconds: number;
  readonly statementTimeoutMs: number;
  readonly migrationTimeoutSeconds: number;
  /** Attempts a transactional migration gets on lock_timeout. */
  readonly lockAttempts: number;
  /** The longest lock_timeout of one attempt, ms (MAX_LOCK_WAIT). */
  readonly maxLockWaitMs: number;
  readonly words: Wording;
  /** Finds out what became of a transactional migration whose connection was lost (ops/outcome). */
  readonly settle?: ((lost: LostMigration) => Promise<Outcome>) | undefined;
}

/** What ran: the file, its statements (no-transaction runs) and its reference. */
export interface FailedRun {
  readonly ref: MigrationRef;
  readonly file: SqlFile;
  readonly statements: readonly Statement[] | undefined;
  readonly noTransaction: boolean;
  /** What the lock monitor saw while it ran. */
  readonly monitor?: MonitorSummary | undefined;
}

/**
 * The MigrationFailedError for `error` thrown while `run` ran: a cancellation, a lost connection, one of our
 * own errors, or an SQL error located in the file. `result` builds the partial run result around the failure.
 */
export async function runFailure(
  error: unknown,
  run: FailedRun,
  result: (failed: FailedMigration) => RunResult,
  ctx: FailureContext,
): Promise<MigrateError> {
  const exec = error instanceof ExecutionError ? error : undefined;
  const original = originalError(error);
  const partial = exec?.statementsRun;
  const dirty = run.noTransaction && !(original instanceof MigrateError && original.code === 'transaction-ended');
  const sqlFailure = await failureOf(error, run.file, run.statements);
  const failed: FailedMigration = {
    ...run.ref,
    error: sqlFailure,
    ...(partial ? { statementsRun: partial, dirty } : {}),
    ...(run.monitor ? { monitor: run.monitor } : {}),
  };
  const r = result(failed);
  const what = label(run.ref);
  const w = ctx.words;
  // The connection died while the migration (with its commit) was in flight: find out, never assume.
  const lost = !partial && isConnectionLost(original) ? await lostOutcome(exec, run, r.direction, ctx) : undefined;
  // A no-transaction migration is not rolled back: what ran stays, and its row is dirty.
  const outcome = partial
    ? 'the statements before it stay applied and it is marked dirty'
    : (lost?.clause ?? 'it was rolled back');
  // An up of a no-transaction file resumes at the failed statement (core/executor); a down does not.
  const resumeAt = (exec?.statementIndex ?? 0) + 1;
  const dirtyHint =
    r.direction === 'up'
      ? `Fix what failed, then ${w.resume(resumeAt)}`
      : `Check the database by hand, then: ${w.repair(run.ref.version)}`;
  let failure: MigrateError;
  if (exec?.cancelled === 'signal') {
    const signal = String(ctx.signal?.reason ?? 'SIGINT');
    failure = new MigrationFailedError(
      'interrupted',
      `Interrupted by ${signal} during ${what}; ${outcome}.`,
      r,
      // Stopped by the operator, not failed: nothing to fix before resuming.
      partial
        ? r.direction === 'up'
          ? w.resume(resumeAt).replace(/^./, (c) => c.toUpperCase())
          : dirtyHint
        : (lost?.hint ?? 'Run the command again to continue.'),
      original,
      signal,
    );
  } else if (exec?.cancelled === 'timeout') {
    failure = new MigrationFailedError(
      'migration-timeout',
      `${what} ran longer than ${w.migrationTimeout} (${ctx.migrationTimeoutSeconds} s) and ${lost ? 'no answer came back after the cancel (connection cut)' : 'was cancelled'}; ${outcome}.`,
      r,
      partial
        ? `${dirtyHint}. Raise ${w.migrationTimeout} for the next attempt.`
        : `${lost ? `${lost.hint} ` : ''}Raise ${w.migrationTimeout}, or split the migration (e.g. a batched backfill).`,
      original,
    );
  } else if (isConnectionLost(original)) {
    const gone = connectionLostError(original, ctx.params);
    failure = lost
      ? new MigrationFailedError(
          gone.code,
          `${gone.message.replace(/\.$/, '')} during ${what}: ${lost.clause}.`,
          r,
          lost.hint,
          original,
        )
      : new MigrationFailedError(gone.code, `${gone.message} ${what} did not complete.`, r, gone.hint, original);
  } else if (original instanceof MigrateError && !sqlFailure) {
    failure = new MigrationFailedError(original.code, original.message, r, original.hint, original, original.signal);
  } else if (!sqlFailure) {
    // Not PostgreSQL's error about the file (e.g. writing the tracking row failed): say what it was.
    failure = new MigrationFailedError(
      'migration-failed',
      `${what} failed: ${(original as Error | undefined)?.message ?? String(original)}`,
      r,
      partial ? dirtyHint : undefined,
      original,
    );
  } else {
    const f = sqlFailure;
    const code =
      f.sqlstate === LOCK_NOT_AVAILABLE
        ? 'lock-timeout'
        : f.sqlstate === QUERY_CANCELED
          ? 'statement-timeout'
          : 'migration-failed';
    if (code === 'lock-timeout' && !partial)
      return lockTimeoutFailure(what, exec?.lockAttempts ?? [], r, ctx, original);
    const hint =
      code === 'lock-timeout'
        ? `Another session held a lock through every attempt (up to ${w.maxLockWait}, ${formatMs(ctx.maxLockWaitMs)}, each)${exec?.lockAttempts?.length ? '' : ', and the statement left something behind, so it was not retried'}. ${dirtyHint}`
        : code === 'statement-timeout'
          ? `A statement ran longer than ${w.statementTimeout} (${ctx.statementTimeoutMs} ms). Raise it for this run, or make the statement cheaper.`
          : partial
            ? `It ran outside a transaction: the statements before it stay applied and ${what} is marked dirty. ${dirtyHint}`
            : `Nothing of ${what} remains (its transaction was rolled back). Fix the file, then ${w.runAgain(run.ref.file && r.direction === 'down' ? 'down' : 'up')}.`;
    const psqlOnly = f.sqlstate === SYNTAX_ERROR ? psqlOnlyInput(run.file.text, f.line) : undefined;
    failure = new MigrationFailedError(
      code,
      `${what} failed at ${f.file}:${f.line}:${f.column}: ${f.message}`,
      r,
      psqlOnly ? `${psqlOnly} ${hint}` : hint,
      original,
    );
  }
  return withInvalidIndexes(failure, exec?.invalidIndexes, original);
}

/**
 * Every lock attempt of a transactional migration timed out: the message names who held the lock (as the
 * monitor saw it during the attempts) and the attempts made; --json gets the same facts in
 * error.attempts / error.blockers.
 */
function lockTimeoutFailure(
  what: string,
  attempts: readonly LockAttempt[],
  r: RunResult,
  ctx: FailureContext,
  cause: unknown,
): MigrateError {
  const w = ctx.words;
  const blockers = [...attempts].reverse().find((a) => a.blockers.length > 0)?.blockers ?? [];
  const longest = Math.max(0, ...attempts.map((a) => a.lockTimeoutMs));
  const first = attempts[0]?.lockTimeoutMs ?? 0;
  const on = blockers[0]?.waitingFor ? ` on ${blockers[0].waitingFor}` : '';
  const held =
    blockers.length > 0
      ? `held by ${blockers.map(describeBlocker).join('; ')}`
      : 'held by a session the monitor did not see (look in pg_locks and pg_stat_activity)';
  const timeouts =
    first === longest
      ? `lock_timeout ${formatMs(first)}`
      : `lock_timeout ${formatMs(first)} growing to ${formatMs(longest)}`;
  const n = attempts.length || 1;
  const message = `${what} could not get its lock${on} in ${n} attempt${n === 1 ? '' : 's'} (${timeouts}): it was ${held}. It was rolled back.`;
  const terminate =
    blockers.length > 0 ? ` If that session is stuck, end it: select pg_terminate_backend(${blockers[0]!.pid});` : '';
  const hint =
    `Nothing of ${what} remains. Run it again when that session is done or at a quieter time, or allow more attempts (${w.lockRetries}); ` +
    `each attempt stalls the application at most ${w.maxLockWait} (${formatMs(ctx.maxLockWaitMs)}).${terminate}`;
  return new MigrationFailedError('lock-timeout', message, r, hint, cause, undefined, { attempts, blockers });
}

/** What became of a transactional migration whose connection was lost in flight, in words (see ops/outcome). */
async function lostOutcome(
  exec: ExecutionError | undefined,
  run: FailedRun,
  direction: 'up' | 'down',
  ctx: FailureContext,
): Promise<{ clause: string; hint: string }> {
  const pid = exec?.backendPid;
  const outcome =
    pid === undefined || !ctx.settle ? 'unknown' : await ctx.settle({ pid, version: run.ref.version, direction });
  switch (outcome) {
    case 'committed':
      return {
        clause: 'it had committed (its history row is there, checked on a new connection)',
        hint: 'Nothing to undo: run the command again to continue with the next migrations.',
      };
    case 'rolled-back':
      return {
        clause:
          'it was rolled back (checked on a new connection: its server session is gone and its history row is not there)',
        hint: 'Run the command again to continue.',
      };
    default:
      return {
        clause: 'its commit may have been sent, so whether it was applied is unknown (the database could not be asked)',
        hint: `Find out with migrate status once the database answers: ${run.ref.version} applied means it committed, pending means it was rolled back. A server session still running it ends by itself once the server notices the connection is gone. Then run the command again.`,
      };
  }
}

/** A failed CREATE INDEX / REINDEX CONCURRENTLY leaves an INVALID index: the error names it and how to drop it. */
function withInvalidIndexes(
  failure: MigrateError,
  indexes: readonly InvalidIndex[] | undefined,
  cause: unknown,
): MigrateError {
  if (!indexes || indexes.length === 0 || !(failure instanceof MigrationFailedError)) return failure;
  const names = indexes.map((i) => `${i.schema}.${i.name}`).join(', ');
  const one = indexes.length === 1;
  const message = `${failure.message}\nIt left ${one ? 'an INVALID index' : `${indexes.length} INVALID indexes`} behind: ${names} (maintained on every write, never used by queries).`;
  // The human renderer shows the hint, not the message, under an SQL failure: the hint names the index too.
  const hint = `Drop the INVALID index${one ? '' : 'es'} it left, ${names}, first (a rerun with IF NOT EXISTS would keep ${one ? 'it' : 'them'}): ${indexes.map((i) => i.dropStatement).join(' ')} Then: ${failure.hint ?? ''}`;
  return new MigrationFailedError(failure.code, message, failure.result, hint.trim(), cause, failure.signal);
}
