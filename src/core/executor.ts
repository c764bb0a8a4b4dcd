/**
 * The executor carries out a validated plan on a session that holds the runner lock: each migration in its
 * own transaction with its tracking row (one round trip, see docs/decisions.md), or, for
 * `-- migrate:no-transaction` files, statement by statement with a dirty mark. Timeouts and signals cancel
 * through ops/cancel; lock timeouts are retried as ops/lock-retry says; failures are located by core/failure.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isConnectionLost, type Client } from '../db/connection.js';
import { isOwnFailure, TRANSACTION_ENDED, type HistoryRow } from '../db/history.js';
import { backendPid, sendQuery, type SentQuery } from '../db/pg-internals.js';
import { quoteLiteral } from '../db/quote.js';
import { createHash } from 'node:crypto';
import { WATCH_SQL } from '../db/watch.js';
import { MigrateError, usageError } from '../errors.js';
import { CancelledError, guarded, type CancelOptions, type CancelReason } from '../ops/cancel.js';
import { LOCK_NOT_AVAILABLE } from '../ops/lock-retry.js';
import { RunOps, type MigrationWatch } from '../ops/run-ops.js';
import type { Outcome } from '../ops/outcome.js';
import type { MigrationSource } from '../source/source.js';
import type { Migration, SqlFile } from '../source/types.js';
import type { RunConfig } from './config.js';
import {
  ExecutionError,
  label,
  runFailure,
  statementsOf,
  type FailureContext,
  type LockAttempt,
  type Statement,
} from './failure.js';
import {
  MigrationFailedError,
  type AppliedMigration,
  type Direction,
  type FailedMigration,
  type MigrationRef,
  type RunResult,
} from './results.js';
import type { Session } from './session.js';

/** A cancelled statement (pg_cancel_backend, statement_timeout). */
const QUERY_CANCELED = '57014';

/** `begin` and one `select set_config(...)` precede the file in a transactional run. */
const PREFIX_STATEMENTS = 2;

/**
 * What follows a transactional migration's tracking row in its query (see #transactionText): one string, built
 * once. `reset all` and the session watch run before the commit, inside the transaction: a committed RESET and
 * set_config(..., false) persist in the session as they would after it, and nothing runs after the commit, so
 * a cancel (a signal, MIGRATION_TIMEOUT) that fails the query means the transaction rolled back. After the
 * commit, a cancel landing on them failed a query whose migration had committed, and was reported as rolled
 * back with the migration listed as not run.
 */
const AFTER_COMMIT = `;\nreset all;\n${WATCH_SQL};\ncommit;`;

/**
 * The newest version in the history once a run's changes are in, as a read of the table would say: the rows
 * read before the run, plus the migrations it applied (up) or minus those it rolled back (down), plus an up
 * that failed part-way and stays as a dirty row.
 */
export function versionAfterRun(
  direction: Direction,
  history: readonly { readonly version: string }[],
  applied: readonly MigrationRef[],
  failed: FailedMigration | undefined,
): string | undefined {
  const versions = new Map(history.map((r) => [BigInt(r.version), r.version]));
  for (const m of applied) {
    if (direction === 'up') versions.set(BigInt(m.version), m.version);
    else versions.delete(BigInt(m.version));
  }
  if (direction === 'up' && failed?.dirty) versions.set(BigInt(failed.version), failed.version);
  let newest: bigint | undefined;
  for (const n of versions.keys()) if (newest === undefined || n > newest) newest = n;
  return newest === undefined ? undefined : versions.get(newest);
}

/** One migration ready to run in one direction: its file read and, for no-transaction files, split. */
export interface Runnable {
  readonly ref: MigrationRef;
  readonly migration: Migration;
  readonly file: SqlFile;
  /** Split only for no-transaction files; a transactional file is sent whole (see runInTransaction). */
  readonly statements: readonly Statement[] | undefined;
}

export function refOf(migration: Migration, direction: Direction): MigrationRef {
  return {
    version: migration.version,
    name: migration.name,
    file: direction === 'up' ? migration.up.displayPath : (migration.downDisplayPath ?? ''),
  };
}

/** Reads the files of `migrations` for `direction` and splits the no-transaction ones; SQL that does not parse stops the run (exit 2). */
export async function prepare(
  source: MigrationSource,
  migrations: readonly Migration[],
  direction: Direction,
): Promise<Runnable[]> {
  const runnables: Runnable[] = [];
  const problems: string[] = [];
  for (const migration of migrations) {
    const file = direction === 'up' ? migration.up : await source.readDown(migration);
    try {
      const statements = file.directives.noTransaction ? await statementsOf(file) : undefined;
      runnables.push({ ref: refOf(migration, direction), migration, file, statements });
    } catch (error) {
      if (error instanceof MigrateError && error.code === 'sql-syntax-error') problems.push(error.message);
      else throw error;
    }
  }
  if (problems.length > 0) {
    throw usageError(
      'sql-syntax-error',
      `The SQL of ${problems.length} file${problems.length === 1 ? '' : 's'} does not parse (nothing was run):\n  ${problems.join('\n  ')}`,
      {
        hint: 'Fix the SQL at the positions above.',
      },
    );
  }
  return runnables;
}

type ExecutorConfig = Pick<RunConfig, 'timeouts' | 'lockRetry' | 'appliedBy' | 'signal' | 'words' | 'table' | 'ops'>;

export class Executor {
  readonly #session: Session;
  readonly #client: Client;
  readonly #config: ExecutorConfig;
  readonly #cancel: CancelOptions;
  /** The monitor and alerts while run() runs (ops/run-ops), and the running migration's watch. */
  #ops: RunOps | undefined;
  #watch: MigrationWatch | undefined;
  /** The next migration, already sent while the one before it runs (see #runInTransaction). */
  #ahead: Ahead | undefined;
  /** What became of a migration whose connection was lost with the next one in flight (asked once). */
  #settled: { readonly version: string; readonly outcome: Outcome; readonly next?: MigrationRef } | undefined;

  constructor(session: Session, config: ExecutorConfig) {
    this.#session = session;
    this.#client = session.client;
    this.#config = config;
    // A cancel borrows the monitor's connection when it runs: the run opens no third connection.
    this.#cancel = {
      timeoutMs: config.timeouts.migrationSeconds * 1000,
      signal: config.signal,
      side: () => (this.#ops ? this.#ops.side() : session.connector.side()),
    };
  }

  /** The backend that runs the migrations (for a monitor of the locks it waits for or holds). */
  get backendPid(): number {
    return backendPid(this.#client);
  }

  #failureContext(): FailureContext {
    const t = this.#config.timeouts;
    return {
      params: this.#session.connector.params,
      signal: this.#config.signal,
      maxLockWaitSeconds: t.lockWaitSeconds,
      maxLockWaitMs: this.#config.lockRetry.longestLockTimeoutMs,
      statementTimeoutMs: t.statementMs,
      migrationTimeoutSeconds: t.migrationSeconds,
      lockAttempts: this.#config.lockRetry.maxAttempts,
      words: this.#config.words,
      settle: async (lost) =>
        this.#settled?.version === lost.version
          ? this.#settled.outcome
          : (await import('../ops/outcome.js')).settleOutcome(this.#session.connector.params, this.#config.table, lost),
    };
  }

  /**
   * Runs `runnables` in order; stops at the first failure with a MigrationFailedError carrying the partial
   * result. `options.fromStart`: a dirty no-transaction migration (resumable, see core/plan isResumable) runs
   * from its first statement instead of resuming at the one that failed. `options.stepping`: the caller
   * (Migrator.stepper) has made the table and keeps the history itself, so neither is read here again
   * (test-rollback runs thousands of single-migration runs; each read was a round trip).
   */
  async run(
    direction: Direction,
    runnables: readonly Runnable[],
    history: readonly HistoryRow[],
    options: { readonly fromStart?: boolean | undefined; readonly stepping?: boolean | undefined } = {},
  ): Promise<RunResult> {
    const store = this.#session.history;
    const emit = this.#session.emit;
    const versionBefore = history.at(-1)?.version;
    const applied: AppliedMigration[] = [];
    // Created only now, once everything has been validated and there is work to do.
    if (runnables.length > 0 && options.stepping !== true) await store.ensure();
    emit({ type: 'plan', direction, migrations: runnables.map((r) => r.ref) });
    // The monitor's connection opens only when there is work: a no-op run stays one connection.
    const ops = this.#config.ops;
    if (ops && runnables.length > 0) this.#ops = await RunOps.start(this.#session.connector, ops, emit);
    try {
      return await this.#runEach(
        direction,
        runnables,
        versionBefore,
        applied,
        history,
        options.fromStart === true,
        options.stepping === true,
      );
    } finally {
      const open = this.#ops;
      this.#ops = undefined;
      await open?.close();
    }
  }

  async #runEach(
    direction: Direction,
    runnables: readonly Runnable[],
    versionBefore: string | undefined,
    applied: AppliedMigration[],
    history: readonly HistoryRow[],
    fromStart: boolean,
    stepping: boolean,
  ): Promise<RunResult> {
    const store = this.#session.history;
    const emit = this.#session.emit;
    const signal = this.#config.signal;
    const result = (failed: FailedMigration | undefined, from: number): RunResult => ({
      direction,
      dryRun: false,
      applied,
      failed,
      notRun: runnables.slice(from).map((r) => r.ref),
      versionBefore,
      // Without a read: after a failure the session may be gone, and what this run changed is known here.
      versionAfter: versionAfterRun(direction, history, applied, failed),
      backup: undefined,
      backupSkipped: undefined,
    });

    for (let i = 0; i < runnables.length; i += 1) {
      const runnable = runnables[i]!;
      // A migration already sent (#ahead) is in the server's hands: it is awaited (and cancelled), not skipped.
      if (signal?.aborted && this.#ahead?.runnable !== runnable) {
        const r = result(undefined, i);
        throw new MigrationFailedError(
          'interrupted',
          `Interrupted by ${String(signal.reason)} before ${label(runnable.ref)}; nothing of it ran.`,
          r,
          undefined,
          undefined,
          String(signal.reason),
        );
      }
      emit({
        type: 'migration-start',
        direction,
        migration: runnable.ref,
        statements: runnable.statements?.length ?? 0,
        backendPid: this.backendPid,
      });
      this.#watch = this.#ops?.watch(runnable.ref, this.backendPid);
      try {
        const executionMs = runnable.file.directives.noTransaction
          ? await this.#runOutsideTransaction(
              direction,
              runnable,
              direction === 'up'
                ? history.find((r) => r.dirty && BigInt(r.version) === runnable.migration.versionNumber)
                : undefined,
              fromStart,
            )
          : await this.#runInTransaction(direction, runnable, runnables[i + 1]);
        const monitor = await this.#stopWatch();
        const done = { ...runnable.ref, executionMs, ...(monitor ? { monitor } : {}) };
        applied.push(done);
        emit({ type: 'migration-done', direction, migration: done });
      } catch (error) {
        // Nothing may stay in flight behind a failure (normally #runInTransaction has settled it already).
        const straggler = await this.#dropAhead();
        if (straggler) applied.push({ ...straggler.runnable.ref, executionMs: 0 });
        const monitor = await this.#stopWatch();
        const run = {
          ref: runnable.ref,
          file: runnable.file,
          statements: runnable.statements,
          noTransaction: runnable.file.directives.noTransaction,
          monitor,
        };
        const failure = withNextInFlight(
          await runFailure(error, run, (failed) => result(failed, i + 1), this.#failureContext()),
          this.#settled,
          runnable.ref,
        );
        this.#ops?.failed(
          runnable.ref,
          failure.code,
          failure.message,
          monitor
            ? { maxBlocked: monitor.maxBlocked, longestWaitMs: monitor.longestWaitMs, durationMs: monitor.durationMs }
            : {},
        );
        throw failure;
      }
    }
    // Stepping (test-rollback) saves the read: the history as it now is, worked out as after a failure.
    if (stepping) return result(undefined, runnables.length);
    const after = await store.read();
    return { ...result(undefined, runnables.length), versionAfter: after.at(-1)?.version };
  }

  /** Ends the running migration's watch: its monitor summary, or undefined when the monitor is off. */
  async #stopWatch() {
    const watch = this.#watch;
    this.#watch = undefined;
    return watch?.stop();
  }

  /**
   * One query per migration, like a psql script: `begin; set local ...;` + the file + the tracking row +
   * `reset all;` + the watch + `commit` go as one simple query. PostgreSQL parses the whole string before running any of it,
   * stops at the first error (we then roll back), and reports positions relative to the string: we subtract the
   * prefix. The row is written only if the transaction-local marker is still set, else the statement fails, so
   * a file that ended our transaction itself (its own COMMIT or ROLLBACK) is noticed instead of recorded.
   *
   * The next migration (`next`, when it runs in a transaction too) is sent right behind this one, before its
   * answer (#sendAhead): the server starts it as soon as this one ends, and our side of the two overlaps the
   * server's. Only one is ever ahead, and it cannot commit unless this one did (see #sendAhead), so a failure
   * here leaves exactly the migrations before it applied.
   */
  async #runInTransaction(direction: Direction, runnable: Runnable, next: Runnable | undefined): Promise<number> {
    const { ref } = runnable;
    const client = this.#client;
    const policy = this.#config.lockRetry;
    const attempts: LockAttempt[] = [];
    for (let attempt = 1; ; attempt += 1) {
      // Sent ahead while the migration before ran (its first attempt only).
      const ahead = this.#ahead?.runnable === runnable ? this.#ahead : undefined;
      this.#ahead = undefined;
      const text = ahead?.text ?? this.#transactionText(direction, runnable, attempt, undefined);
      this.#watch?.attemptStarted(policy.lockTimeoutMs(attempt));
      const started = performance.now();
      try {
        const results = await this.#awaitSent(
          text.sql,
          ahead ? () => ahead.sent : () => sendQuery(client, text.sql),
          PREFIX_STATEMENTS,
          text.prefixLength,
          runnable.file.text.length,
          ahead !== undefined,
          () => this.#sendAhead(direction, next, runnable),
        );
        const recorded = results.at(-4);
        const serverMs = (recorded?.rows[0] as { execution_ms?: number } | undefined)?.execution_ms;
        return serverMs ?? Math.round(performance.now() - started);
      } catch (error) {
        // The migration sent behind this one fails too (it checks that this one committed): wait for it, then
        // roll back what it or this one left open.
        const behind = this.#ahead as Ahead | undefined; // set by #sendAhead during the await
        await this.#dropAhead();
        if (behind && error instanceof ExecutionError && isConnectionLost(error.cause)) {
          // Both were in flight: ask once what became of this one. Committed: the next may have followed it,
          // so this one counts as done and the next is asked about in its turn (its query fails at once).
          const outcome = await this.#failureContext().settle!({
            pid: error.backendPid ?? backendPid(client),
            version: runnable.migration.version,
            direction,
          });
          this.#settled = { version: runnable.migration.version, outcome, next: behind.runnable.ref };
          if (outcome === 'committed') return Math.round(performance.now() - started);
        }
        await client.query('rollback').catch(() => {});
        if (error instanceof ExecutionError && isOwnFailure(error.cause, TRANSACTION_ENDED)) {
          throw new MigrateError(
            'transaction-ended',
            `${label(ref)} ended tidemark's transaction itself (it contains COMMIT, ROLLBACK or END); the statements before that point were committed and the migration is not recorded.`,
            {
              hint: 'Remove transaction control from the file (tidemark wraps each migration in a transaction), or mark it -- migrate:no-transaction. Check the database by hand before running again.',
            },
          );
        }
        if (
          ahead?.staleCancel &&
          error instanceof ExecutionError &&
          !error.cancelled &&
          (error.cause as { code?: string } | undefined)?.code === QUERY_CANCELED &&
          attempt === 1
        ) {
          // The cancel of the migration before (MIGRATION_TIMEOUT as it finished) may have hit this one, which
          // then was rolled back whole: run it again, as if it had never been sent.
          attempt = 0;
          continue;
        }
        if (error instanceof ExecutionError && !error.cancelled) {
          const lockTimedOut = (error.cause as { code?: string } | undefined)?.code === LOCK_NOT_AVAILABLE;
          const blockers = lockTimedOut ? (this.#watch?.attemptBlockers() ?? []) : [];
          if (lockTimedOut) attempts.push({ attempt, lockTimeoutMs: policy.lockTimeoutMs(attempt), blockers });
          const waitMs = this.#config.signal?.aborted ? undefined : policy.retryAfterMs(attempt, error.cause);
          if (waitMs !== undefined) {
            this.#session.emit({
              type: 'migration-retry',
              migration: ref,
              attempt,
              attempts: policy.maxAttempts,
              lockTimeoutMs: policy.lockTimeoutMs(attempt),
              nextLockTimeoutMs: policy.lockTimeoutMs(attempt + 1),
              waitMs,
              reason: error.message,
              blockers,
            });
            // A signal ends the sleep; the next attempt's guard then stops the run.
            await sleep(waitMs, undefined, { signal: this.#config.signal }).catch(() => {});
            continue;
          }
          if (lockTimedOut) throw error.with({ lockAttempts: attempts });
        }
        throw error;
      }
    }
  }

  /**
   * The query of one attempt of a transactional migration. Each attempt has its own lock_timeout (ops/lock-retry:
   * short and growing). `after`: the migration this one is sent behind; it runs only if that one committed.
   */
  #transactionText(
    direction: Direction,
    runnable: Runnable,
    attempt: number,
    after: Runnable | undefined,
  ): { sql: string; prefixLength: number } {
    const { migration, file } = runnable;
    const store = this.#session.history;
    const t = this.#config.timeouts;
    const policy = this.#config.lockRetry;
    // SET LOCAL as one statement (set_config(..., true)); for a migration sent ahead it also checks that the one
    // before it committed. The marker lets the record statement notice a file that ended our transaction; it
    // comes first so that the version is within the text pg_stat_activity keeps of the query (at least 99
    // bytes), which is how a cancel tells this migration from the one sent behind it (ops/cancel). A select
    // without columns (the calls are its one-time filter; each returns its value, never null): its answer is a
    // row of nothing, so the client parses no field descriptions or values for it.
    const prefix =
      `begin; select where set_config('tidemark.migration', ${quoteLiteral(migration.version)}, true) is not null ` +
      `and set_config('lock_timeout', ${quoteLiteral(`${policy.lockTimeoutMs(attempt)}ms`)}, true) is not null ` +
      `and set_config('statement_timeout', ${quoteLiteral(String(t.statementMs))}, true) is not null` +
      `${after ? ` and ${store.committedSql(after.migration.version, direction)}` : ''};\n`;
    const record =
      direction === 'up'
        ? store.insertAppliedSql(
            {
              version: migration.version,
              name: migration.name,
              checksum: migration.checksum,
              appliedBy: this.#config.appliedBy,
            },
            'tidemark.migration',
          )
        : store.deleteSql(migration.version, 'tidemark.migration');
    // The newline ends a trailing line comment; the `;` ends a last statement written without one.
    const body = file.empty ? '' : `${file.text}\n;\n`;
    // `reset all` before the commit, in the same query: a session-level SET in the file (search_path included)
    // must not reach the next migration. Not DISCARD ALL: it would release the runner's advisory lock. The
    // server's watch on the session (db/watch) is set again after `reset all`, in the same query.
    return { sql: `${prefix}${body}${record}${AFTER_COMMIT}`, prefixLength: prefix.length };
  }

  /**
   * Sends `next` now, behind `current` (which was just sent), when both run in a transaction and no signal
   * stopped the run. Its failure semantics: it checks first, inside its own transaction, that `current`
   * committed (committedSql: its row is there, or gone for a down), and fails otherwise; and when `current`
   * fails inside its transaction, the session stays in an aborted transaction until our `rollback`, so `next`'s
   * `begin` already fails (25P02). Either way nothing of `next` commits unless `current` did; the run waits for
   * its answer and rolls back before it goes on (a retry) or reports.
   */
  #sendAhead(direction: Direction, next: Runnable | undefined, current: Runnable): void {
    if (!next || next.file.directives.noTransaction || this.#config.signal?.aborted) return;
    const text = this.#transactionText(direction, next, 1, current);
    this.#ahead = { runnable: next, text, sent: sendQuery(this.#client, text.sql), staleCancel: false };
  }

  /** Waits for the migration sent ahead, if any, and forgets it; returns it when it succeeded (it committed). */
  async #dropAhead(): Promise<Ahead | undefined> {
    const ahead = this.#ahead;
    this.#ahead = undefined;
    if (!ahead) return undefined;
    return (await ahead.sent.result.then(
      () => true,
      () => false,
    ))
      ? ahead
      : undefined;
  }

  /**
   * Runs a generated wrapper around a file's text (or the text alone) under the migration timeout and the
   * abort signal, counting completed statements so that a failure names the file's own statement.
   * `prefixStatements` and `prefixLength` say what of the text is ours before the file (an error position
   * there is not the file's). Throws an ExecutionError.
   */
  async runText(
    sql: string,
    prefixStatements: number,
    prefixLength: number,
    fileLength: number,
  ): Promise<import('pg').QueryResult[]> {
    return this.#awaitSent(sql, () => sendQuery(this.#client, sql), prefixStatements, prefixLength, fileLength, false);
  }

  /**
   * Awaits the query `sql` sent by `send` (called under the guard, or already sent: `inFlight`) under the
   * migration timeout and the abort signal, which cancel it and nothing else; `afterSend` runs right after it
   * is sent. Throws an ExecutionError.
   */
  async #awaitSent(
    sql: string,
    send: () => SentQuery,
    prefixStatements: number,
    prefixLength: number,
    fileLength: number,
    inFlight: boolean,
    afterSend?: () => void,
  ): Promise<import('pg').QueryResult[]> {
    const client = this.#client;
    let cancelledBy: CancelReason | undefined;
    try {
      return await guarded(
        client,
        this.#cancel,
        async (cancelReason, aim) => {
          aim(sql);
          const sent = send();
          afterSend?.();
          try {
            const results = await sent.result;
            cancelledBy = cancelReason();
            return results;
          } catch (error) {
            const raw = (error as { position?: string }).position;
            const position = raw === undefined ? undefined : Number(raw) - prefixLength;
            throw new ExecutionError(error, {
              backendPid: backendPid(client),
              statementIndex: Math.max(0, sent.completed() - prefixStatements),
              cancelled: cancelReason(),
              whole: true,
              position: position !== undefined && position > 0 && position <= fileLength ? String(position) : undefined,
            });
          }
        },
        inFlight,
      );
    } catch (error) {
      if (error instanceof CancelledError)
        throw new ExecutionError(error, { statementIndex: 0, cancelled: error.reason });
      throw error;
    } finally {
      // A cancel sent as this query finished may land on the one sent behind it.
      if (cancelledBy && this.#ahead) this.#ahead = { ...this.#ahead, staleCancel: true };
    }
  }

  /** Sets the run's timeouts for the current transaction only, with a marker naming what runs. */
  async setLocalTimeouts(marker: string): Promise<void> {
    const t = this.#config.timeouts;
    // set_config(..., true) is SET LOCAL: the values end with the transaction and never leak to the session.
    // The marker lets us notice a file that ended our transaction with its own COMMIT or ROLLBACK.
    await this.#client.query(
      `select set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true), set_config('tidemark.migration', $3, true)`,
      [`${t.lockWaitSeconds}s`, `${t.statementMs}`, marker],
    );
  }

  /**
   * `-- migrate:no-transaction`: the row is written dirty first, each statement runs on its own (autocommit)
   * and the row records how many completed (with a checksum of their text); the dirty mark is cleared after the
   * last one. A failure leaves it dirty; `up` then resumes at the failed statement (`dirty` is that row), after
   * checking that the statements before it are unchanged and that it left no INVALID index behind.
   */
  async #runOutsideTransaction(
    direction: Direction,
    runnable: Runnable,
    dirty: HistoryRow | undefined,
    fromStart: boolean,
  ): Promise<number> {
    const { migration, ref } = runnable;
    const client = this.#client;
    const store = this.#session.history;
    const t = this.#config.timeouts;
    const statements = runnable.statements ?? [];
    const started = performance.now();
    let from = 0;
    if (direction === 'up') {
      await store.ensureProgressColumns();
      if (dirty) {
        if (!fromStart && dirty.statementsDone !== undefined) from = await this.#resumePoint(runnable, dirty);
        this.#session.emit({
          type: 'notice',
          message:
            from > 0
              ? `Resuming ${label(ref)} at statement ${from + 1} of ${statements.length}: statements 1-${from} ran before and stay.`
              : `Running ${label(ref)} again from its first statement (it was left dirty).`,
        });
        await store.setChecksum(migration.version, migration.checksum);
      } else {
        await store.insertApplied({
          version: migration.version,
          name: migration.name,
          checksum: migration.checksum,
          executionMs: 0,
          appliedBy: this.#config.appliedBy,
          dirty: true,
        });
      }
      await store.recordProgress(migration.version, from, statementsChecksum(statements.slice(0, from)));
    } else {
      await store.markDirty(migration.version);
    }
    // Session-level statement_timeout for the duration of this migration (lock_timeout is set per statement), reset afterwards.
    await client.query(`select set_config('statement_timeout', $1, false)`, [`${t.statementMs}`]);
    const statementsRun: { line: number; text: string }[] = statements
      .slice(0, from)
      .map((st) => ({ line: st.line, text: st.text }));
    const onDone =
      direction === 'up'
        ? (done: number) => store.recordProgress(migration.version, done, statementsChecksum(statements.slice(0, done)))
        : async () => {};
    try {
      await this.#runStatements(ref, statements, from, statementsRun, onDone);
    } catch (error) {
      const failure = error instanceof ExecutionError ? error : new ExecutionError(error, { statementIndex: 0 });
      const failedAt = runnable.statements?.[failure.statementIndex];
      const invalidIndexes =
        failedAt && !isConnectionLost(failure.cause) && !(failure.cause instanceof CancelledError)
          ? await (await import('./invalid-index.js')).invalidIndexesAfter(client, failedAt.text)
          : undefined;
      throw failure.with({ statementsRun, invalidIndexes });
    } finally {
      // Our timeouts and whatever the file SET for the session (search_path included) end with the migration.
      await client.query(`reset all; ${WATCH_SQL}`).catch(() => {});
    }
    const executionMs = performance.now() - started;
    if (direction === 'up') await store.markClean(migration.version, executionMs);
    else await store.delete(migration.version);
    return Math.round(executionMs);
  }

  /**
   * Where a dirty no-transaction migration resumes: after the statements its row says completed, provided they
   * are still the same text and the failed statement left nothing half-built (an INVALID index). Refuses
   * otherwise (exit 2, nothing run), saying how to go on.
   */
  async #resumePoint(runnable: Runnable, dirty: HistoryRow): Promise<number> {
    const statements = runnable.statements ?? [];
    const done = dirty.statementsDone ?? 0;
    const what = label(runnable.ref);
    const w = this.#config.words;
    if (done > statements.length || statementsChecksum(statements.slice(0, done)) !== dirty.statementsChecksum) {
      throw usageError(
        'resume-changed',
        `${what} cannot resume: the ${done} statement${done === 1 ? '' : 's'} that already ran (and stay applied) are no longer the same in the file.`,
        {
          hint: `Restore those statements as they were (edit only the failed statement and the ones after it), or check the database by hand and then ${w.repair(runnable.ref.version)}. Nothing was run.`,
        },
      );
    }
    const failed = statements[done];
    if (failed) {
      const left = await (await import('./invalid-index.js')).invalidIndexesAfter(this.#client, failed.text);
      if (left.length > 0) {
        throw usageError(
          'resume-invalid-index',
          `${what} cannot resume at statement ${done + 1}: its failed run left the INVALID index ${left.map((i) => `${i.schema}.${i.name}`).join(', ')}.`,
          {
            hint: `Drop it first (${left.map((i) => i.dropStatement).join(' ')}), then run the same command again: it resumes at statement ${done + 1}. Nothing was run.`,
          },
        );
      }
    }
    return done;
  }

  /**
   * Runs a no-transaction file's statements from index `from`, one by one, under the migration timeout and the
   * abort signal; `onDone(n)` records that n statements completed. A lock timeout is retried like a
   * transactional migration's when nothing of the statement took effect: a plain statement in autocommit is
   * rolled back whole; a concurrent index build that left an INVALID index is not retried.
   *
   * CONCURRENTLY statements run without lock_timeout: their SHARE UPDATE EXCLUSIVE lock never queues the
   * application's reads and writes, and a timeout in their wait for older transactions would leave an INVALID
   * index. MIGRATION_TIMEOUT and statement_timeout still bound them.
   */
  async #runStatements(
    ref: MigrationRef,
    statements: readonly Statement[],
    from: number,
    ran: { line: number; text: string }[],
    onDone: (done: number) => Promise<void>,
  ): Promise<void> {
    const client = this.#client;
    const policy = this.#config.lockRetry;
    let lockTimeout = -1;
    try {
      await guarded(client, this.#cancel, async (cancelReason, aim) => {
        for (let i = from; i < statements.length; i += 1) {
          const statement = statements[i]!;
          this.#session.emit({ type: 'statement-start', migration: ref, index: i + 1, line: statement.line });
          const concurrent = /\bconcurrently\b/i.test(statement.text);
          const attempts: LockAttempt[] = [];
          for (let attempt = 1; ; attempt += 1) {
            const cancelled = cancelReason();
            if (cancelled)
              throw new ExecutionError(new CancelledError(cancelled, cancelled), { statementIndex: i, cancelled });
            const ms = concurrent ? 0 : policy.lockTimeoutMs(attempt);
            if (ms !== lockTimeout) {
              await client.query(`select set_config('lock_timeout', $1, false)`, [`${ms}ms`]);
              lockTimeout = ms;
            }
            this.#watch?.attemptStarted(ms);
            // Only the statement may be cancelled: a cancel meant for it must not land on its progress row.
            aim(statement.text);
            try {
              await client.query(statement.text);
              break;
            } catch (error) {
              const failure = new ExecutionError(error, {
                statementIndex: i,
                cancelled: cancelReason(),
                position: (error as { position?: string }).position,
              });
              aim(undefined);
              if (
                (error as { code?: string }).code !== LOCK_NOT_AVAILABLE ||
                failure.cancelled ||
                this.#config.signal?.aborted
              )
                throw failure;
              const blockers = this.#watch?.attemptBlockers() ?? [];
              attempts.push({ attempt, lockTimeoutMs: ms, blockers });
              const left = await (await import('./invalid-index.js')).invalidIndexesAfter(client, statement.text);
              const waitMs = left.length === 0 ? policy.retryAfterMs(attempt, error) : undefined;
              if (waitMs === undefined) throw failure.with({ lockAttempts: attempts });
              this.#session.emit({
                type: 'migration-retry',
                migration: ref,
                attempt,
                attempts: policy.maxAttempts,
                lockTimeoutMs: ms,
                nextLockTimeoutMs: policy.lockTimeoutMs(attempt + 1),
                waitMs,
                reason: failure.message,
                blockers,
              });
              await sleep(waitMs, undefined, { signal: this.#config.signal }).catch(() => {});
            }
          }
          aim(undefined);
          ran.push({ line: statement.line, text: statement.text });
          await onDone(i + 1);
        }
      });
    } catch (error) {
      if (error instanceof CancelledError)
        throw new ExecutionError(error, { statementIndex: from, cancelled: error.reason });
      throw error;
    }
  }
}

/** The checksum of the statements of a no-transaction file that ran: a resume checks they are still the same. */
export function statementsChecksum(statements: readonly { readonly text: string }[]): string {
  const hash = createHash('sha256');
  for (const st of statements) hash.update(st.text).update('\0');
  return hash.digest('hex');
}

/** A migration sent ahead of its turn (Executor#sendAhead). */
interface Ahead {
  readonly runnable: Runnable;
  readonly text: { readonly sql: string; readonly prefixLength: number };
  readonly sent: SentQuery;
  /** A cancel meant for the migration before it was sent as that one finished: it may have hit this one. */
  readonly staleCancel: boolean;
}

/**
 * A lost connection with the next migration in flight, whose outcome could not be asked: the next one ran only
 * if this one committed, and the hint says so (it is listed as not run).
 */
function withNextInFlight(
  failure: MigrateError,
  settled: { readonly version: string; readonly outcome: Outcome; readonly next?: MigrationRef } | undefined,
  ref: MigrationRef,
): MigrateError {
  if (
    !settled?.next ||
    settled.version !== ref.version ||
    settled.outcome !== 'unknown' ||
    !(failure instanceof MigrationFailedError)
  )
    return failure;
  const next = label(settled.next);
  return new MigrationFailedError(
    failure.code,
    failure.message,
    failure.result,
    `${failure.hint ?? ''} ${next} was sent behind it and ran only if ${label(ref)} committed: migrate status tells about both.`.trim(),
    failure.cause,
    failure.signal,
  );
}
