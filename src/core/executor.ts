/**
 * The executor carries out a validated plan on a session that holds the runner lock: each migration in its
 * own transaction with its tracking row (one round trip, see docs/decisions.md), or, for
 * `-- migrate:no-transaction` files, statement by statement with a dirty mark. Timeouts and signals cancel
 * through ops/cancel; lock timeouts are retried as ops/lock-retry says; failures are located by core/failure.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { isConnectionLost, type Client } from '../db/connection.js';
import type { HistoryRow } from '../db/history.js';
import { backendPid, onStatementComplete } from '../db/pg-internals.js';
import { quoteLiteral } from '../db/quote.js';
import { WATCH_SQL } from '../db/watch.js';
import { MigrateError, usageError } from '../errors.js';
import { CancelledError, guarded, type CancelOptions } from '../ops/cancel.js';
import type { MigrationSource } from '../source/source.js';
import type { Migration, SqlFile } from '../source/types.js';
import type { RunConfig } from './config.js';
import { ExecutionError, label, runFailure, statementsOf, type FailureContext, type Statement } from './failure.js';
import { MigrationFailedError, type AppliedMigration, type Direction, type FailedMigration, type MigrationRef, type RunResult } from './results.js';
import type { Session } from './session.js';

/** begin + three set local statements precede the file in a transactional run. */
const PREFIX_STATEMENTS = 4;

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
export async function prepare(source: MigrationSource, migrations: readonly Migration[], direction: Direction): Promise<Runnable[]> {
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
    throw usageError('sql-syntax-error', `The SQL of ${problems.length} file${problems.length === 1 ? '' : 's'} does not parse (nothing was run):\n  ${problems.join('\n  ')}`, {
      hint: 'Fix the SQL at the positions above.',
    });
  }
  return runnables;
}

type ExecutorConfig = Pick<RunConfig, 'timeouts' | 'lockRetry' | 'appliedBy' | 'signal' | 'words' | 'table'>;

export class Executor {
  readonly #session: Session;
  readonly #client: Client;
  readonly #config: ExecutorConfig;
  readonly #cancel: CancelOptions;

  constructor(session: Session, config: ExecutorConfig) {
    this.#session = session;
    this.#client = session.client;
    this.#config = config;
    this.#cancel = { timeoutMs: config.timeouts.migrationSeconds * 1000, signal: config.signal, side: () => session.connector.side() };
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
      statementTimeoutMs: t.statementMs,
      migrationTimeoutSeconds: t.migrationSeconds,
      lockAttempts: this.#config.lockRetry.maxAttempts,
      words: this.#config.words,
      settle: async (lost) => (await import('../ops/outcome.js')).settleOutcome(this.#session.connector.params, this.#config.table, lost),
    };
  }

  /** Runs `runnables` in order; stops at the first failure with a MigrationFailedError carrying the partial result. */
  async run(direction: Direction, runnables: readonly Runnable[], history: readonly HistoryRow[]): Promise<RunResult> {
    const store = this.#session.history;
    const emit = this.#session.emit;
    const signal = this.#config.signal;
    const versionBefore = history.at(-1)?.version;
    const applied: AppliedMigration[] = [];
    // Created only now, once everything has been validated and there is work to do.
    if (runnables.length > 0) await store.ensure();
    emit({ type: 'plan', direction, migrations: runnables.map((r) => r.ref) });
    const result = (failed: FailedMigration | undefined, from: number): RunResult => ({
      direction,
      dryRun: false,
      applied,
      failed,
      notRun: runnables.slice(from).map((r) => r.ref),
      versionBefore,
      versionAfter: undefined,
      backup: undefined,
      backupSkipped: undefined,
    });

    for (let i = 0; i < runnables.length; i += 1) {
      const runnable = runnables[i]!;
      if (signal?.aborted) {
        const r = result(undefined, i);
        throw new MigrationFailedError('interrupted', `Interrupted by ${String(signal.reason)} before ${label(runnable.ref)}; nothing of it ran.`, r, undefined, undefined, String(signal.reason));
      }
      emit({ type: 'migration-start', direction, migration: runnable.ref, statements: runnable.statements?.length ?? 0, backendPid: this.backendPid });
      try {
        const executionMs = runnable.file.directives.noTransaction
          ? await this.#runOutsideTransaction(direction, runnable)
          : await this.#runInTransaction(direction, runnable);
        const done = { ...runnable.ref, executionMs };
        applied.push(done);
        emit({ type: 'migration-done', direction, migration: done });
      } catch (error) {
        const run = { ref: runnable.ref, file: runnable.file, statements: runnable.statements, noTransaction: runnable.file.directives.noTransaction };
        throw await runFailure(error, run, (failed) => result(failed, i + 1), this.#failureContext());
      }
    }
    const after = await store.read();
    return { ...result(undefined, runnables.length), versionAfter: after.at(-1)?.version };
  }

  /**
   * One round trip per migration, like a psql script: `begin; set local ...;` + the file + the tracking row +
   * `commit; reset all` go as one simple query. PostgreSQL parses the whole string before running any of it, stops at the
   * first error (we then roll back), and reports positions relative to the string: we subtract the prefix.
   * The row is written only if the transaction-local marker is still set, so a file that ended our
   * transaction itself (its own COMMIT or ROLLBACK) is noticed instead of recorded.
   */
  async #runInTransaction(direction: Direction, runnable: Runnable): Promise<number> {
    const { migration, ref, file } = runnable;
    const client = this.#client;
    const store = this.#session.history;
    const t = this.#config.timeouts;
    const prefix =
      `begin; set local lock_timeout = ${quoteLiteral(`${t.lockWaitSeconds}s`)}; ` +
      `set local statement_timeout = ${quoteLiteral(String(t.statementMs))}; ` +
      `set local tidemark.migration = ${quoteLiteral(migration.version)};\n`;
    const record =
      direction === 'up'
        ? store.insertAppliedSql({ version: migration.version, name: migration.name, checksum: migration.checksum, appliedBy: this.#config.appliedBy }, 'tidemark.migration')
        : store.deleteSql(migration.version, 'tidemark.migration');
    // The newline ends a trailing line comment; the `;` ends a last statement written without one.
    const body = file.empty ? '' : `${file.text}\n;\n`;
    // `reset all` after the commit, in the same round trip: a session-level SET in the file (search_path
    // included) must not reach the next migration. Not DISCARD ALL: it would release the runner's advisory lock.
    // The server's watch on the session (db/watch) is set again after `reset all`, in the same round trip.
    const sql = `${prefix}${body}${record};\ncommit;\nreset all;\n${WATCH_SQL};`;
    for (let attempt = 1; ; attempt += 1) {
      const started = performance.now();
      try {
        const results = await this.runText(sql, PREFIX_STATEMENTS, prefix.length, file.text.length);
        const recorded = results.at(-4);
        if (!recorded || recorded.rowCount !== 1) {
          throw new MigrateError('transaction-ended', `${label(ref)} ended tidemark's transaction itself (it contains COMMIT, ROLLBACK or END); the statements before that point were committed and the migration is not recorded.`, {
            hint: 'Remove transaction control from the file (tidemark wraps each migration in a transaction), or mark it -- migrate:no-transaction. Check the database by hand before running again.',
          });
        }
        const serverMs = (recorded.rows[0] as { execution_ms?: number } | undefined)?.execution_ms;
        return serverMs ?? Math.round(performance.now() - started);
      } catch (error) {
        await client.query('rollback').catch(() => {});
        if (error instanceof ExecutionError && !error.cancelled) {
          const waitMs = this.#config.lockRetry.retryAfterMs(attempt, error.cause);
          if (waitMs !== undefined) {
            this.#session.emit({ type: 'migration-retry', migration: ref, attempt, waitMs, reason: error.message });
            await sleep(waitMs);
            continue;
          }
        }
        throw error;
      }
    }
  }

  /**
   * Runs a generated wrapper around a file's text (or the text alone) under the migration timeout and the
   * abort signal, counting completed statements so that a failure names the file's own statement.
   * `prefixStatements` and `prefixLength` say what of the text is ours before the file (an error position
   * there is not the file's). Throws an ExecutionError.
   */
  async runText(sql: string, prefixStatements: number, prefixLength: number, fileLength: number): Promise<import('pg').QueryResult[]> {
    const client = this.#client;
    try {
      return await guarded(client, this.#cancel, async (cancelReason) => {
        let completed = 0;
        const stop = onStatementComplete(client, () => {
          completed += 1;
        });
        try {
          const result = (await client.query(sql)) as unknown as import('pg').QueryResult | import('pg').QueryResult[];
          return Array.isArray(result) ? result : [result];
        } catch (error) {
          const raw = (error as { position?: string }).position;
          const position = raw === undefined ? undefined : Number(raw) - prefixLength;
          throw new ExecutionError(error, {
            backendPid: backendPid(client),
            statementIndex: Math.max(0, completed - prefixStatements),
            cancelled: cancelReason(),
            whole: true,
            position: position !== undefined && position > 0 && position <= fileLength ? String(position) : undefined,
          });
        } finally {
          stop();
        }
      });
    } catch (error) {
      if (error instanceof CancelledError) throw new ExecutionError(error, { statementIndex: 0, cancelled: error.reason });
      throw error;
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
   * `-- migrate:no-transaction`: the row is written dirty first, each statement runs on its own (autocommit),
   * and the dirty mark is cleared after the last one. A failure leaves it dirty for `migrate repair`.
   */
  async #runOutsideTransaction(direction: Direction, runnable: Runnable): Promise<number> {
    const { migration, ref } = runnable;
    const client = this.#client;
    const store = this.#session.history;
    const t = this.#config.timeouts;
    const started = performance.now();
    if (direction === 'up') {
      await store.insertApplied({ version: migration.version, name: migration.name, checksum: migration.checksum, executionMs: 0, appliedBy: this.#config.appliedBy, dirty: true });
    } else {
      await store.markDirty(migration.version);
    }
    // Session-level timeouts for the duration of this migration, reset afterwards.
    await client.query(`select set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)`, [`${t.lockWaitSeconds}s`, `${t.statementMs}`]);
    const statementsRun: { line: number; text: string }[] = [];
    try {
      await this.#runStatements(ref, runnable.statements ?? [], statementsRun);
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

  /** Runs a no-transaction file's statements one by one under the migration timeout and the abort signal. */
  async #runStatements(ref: MigrationRef, statements: readonly Statement[], ran: { line: number; text: string }[]): Promise<void> {
    const client = this.#client;
    try {
      await guarded(client, this.#cancel, async (cancelReason) => {
        for (let i = 0; i < statements.length; i += 1) {
          const statement = statements[i]!;
          const cancelled = cancelReason();
          if (cancelled) throw new ExecutionError(new CancelledError(cancelled, cancelled), { statementIndex: i, cancelled });
          this.#session.emit({ type: 'statement-start', migration: ref, index: i + 1, line: statement.line });
          try {
            await client.query(statement.text);
          } catch (error) {
            throw new ExecutionError(error, { statementIndex: i, cancelled: cancelReason(), position: (error as { position?: string }).position });
          }
          ran.push({ line: statement.line, text: statement.text });
        }
      });
    } catch (error) {
      if (error instanceof CancelledError) throw new ExecutionError(error, { statementIndex: 0, cancelled: error.reason });
      throw error;
    }
  }
}
