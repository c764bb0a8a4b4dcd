/**
 * The migrator carries out a plan: one runner lock for the whole run, each migration in its own transaction
 * with its tracking row, statement by statement so a failure names its line. It never prints: it returns
 * results, throws MigrateErrors and emits events.
 */
import { hostname, userInfo } from 'node:os';
import { relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Settings } from '../config/settings.js';
import { connect, connectionLostError, isConnectionLost, type Client } from '../db/connection.js';
import type pg from 'pg';
import { HistoryStore, type HistoryRow } from '../db/history.js';
import { quoteLiteral } from '../db/quote.js';
import type { InvalidIndex } from '../db/invalid-indexes.js';
import { Locker, lockKey } from '../db/lock.js';
import type { ConnectionParams } from '../db/params.js';
import { EXIT, MigrateError, usageError } from '../errors.js';
import { listSeeds, loadMigrations, readDown, readSqlFile } from '../source/files.js';
import { charIndexFromPgPosition, lineColumnAt } from '../sql/position.js';
import type { Migration, SqlFile } from '../source/types.js';
import { backupGuard, lockReport, preflight, upFiles, type LintSummary, type PreflightFile, type PreflightOptions } from './preflight.js';
import { planDown, planUp, statusOf, type Blocker, type DownOptions, type StatusEntry, type UpOptions } from './plan.js';
import {
  MigrationFailedError,
  interruptedExitCode,
  type AppliedMigration,
  type BackupSummary,
  type Direction,
  type EventSink,
  type FailedMigration,
  type MigrationRef,
  type RunResult,
  type SqlFailure,
} from './results.js';

/** How long `up` waits for another runner's lock when --wait is not given. */
export const DEFAULT_LOCK_WAIT_MS = 60_000;
/** begin + three set local statements precede the file in a transactional run. */
const PREFIX_STATEMENTS = 4;
const LOCK_NOT_AVAILABLE = '55P03';
const QUERY_CANCELED = '57014';

export interface MigratorOptions {
  readonly settings: Settings;
  readonly connection: ConnectionParams;
  readonly onEvent?: EventSink | undefined;
  /** Aborted by SIGINT/SIGTERM: the running statement is cancelled and its migration rolled back. */
  readonly signal?: AbortSignal | undefined;
  /** How long to wait for the runner lock held by another run. */
  readonly lockWaitMs?: number | undefined;
}

export interface RunOptions {
  readonly dryRun?: boolean | undefined;
}

export interface StatusReport {
  readonly entries: readonly StatusEntry[];
  readonly tableExists: boolean;
}

interface Statement {
  readonly text: string;
  readonly start: number;
  readonly line: number;
  readonly column: number;
}

interface Runnable {
  readonly ref: MigrationRef;
  readonly migration: Migration;
  readonly file: SqlFile;
  /** Split only for no-transaction files; a transactional file is sent whole (see #runStatements). */
  readonly statements: readonly Statement[] | undefined;
}

function refOf(migration: Migration, direction: Direction): MigrationRef {
  return {
    version: migration.version,
    name: migration.name,
    file: direction === 'up' ? migration.up.displayPath : (migration.downDisplayPath ?? ''),
  };
}

function blockedError(what: string, blockers: readonly Blocker[]): MigrateError {
  return usageError('run-blocked', `${what} cannot start:\n  ${blockers.map((b) => b.message).join('\n  ')}`, {
    hint: 'Nothing was run. migrate status shows every migration and its state.',
    details: { blockers: blockers.map((b) => ({ version: b.version, name: b.name, state: b.state, message: b.message })) },
  });
}

/** Splits with the real grammar (loaded on first use); a file that does not parse stops the run before it starts. */
async function statementsOf(file: SqlFile): Promise<Statement[]> {
  if (file.empty) return [];
  const { splitStatements } = await import('../sql/split.js');
  return splitStatements(file.text, file.displayPath);
}

export class Migrator {
  readonly #settings: Settings;
  readonly #params: ConnectionParams;
  readonly #emit: EventSink;
  readonly #signal: AbortSignal | undefined;
  readonly #lockWaitMs: number;
  readonly #appliedBy: string;

  constructor(options: MigratorOptions) {
    this.#settings = options.settings;
    this.#params = options.connection;
    this.#emit = options.onEvent ?? (() => {});
    this.#signal = options.signal;
    this.#lockWaitMs = options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS;
    let user = 'unknown';
    try {
      user = userInfo().username;
    } catch {
      // No passwd entry (some containers run as an arbitrary uid).
    }
    this.#appliedBy = `${user}@${hostname()}`;
  }

  /** The settings this migrator runs with (read-only). */
  get settings(): Settings {
    return this.#settings;
  }

  loadMigrations(): Promise<Migration[]> {
    const s = this.#settings;
    return loadMigrations({ migrationsDir: s.migrationsDir, rollbackDir: s.rollbackDir, cwd: s.cwd });
  }

  async status(): Promise<StatusReport> {
    const migrations = await this.loadMigrations();
    return this.#withClient(async (client) => {
      const store = new HistoryStore(client, this.#settings.migrationsTable);
      const tableExists = await store.exists();
      const history = tableExists ? await store.read() : [];
      return { entries: statusOf(migrations, history), tableExists };
    });
  }

  async up(requested: UpOptions & RunOptions & PreflightOptions = {}): Promise<RunResult> {
    const migrations = await this.loadMigrations();
    // MIGRATION_STRATEGY=expand_contract: a plain `up` is the expand phase; contracting is said explicitly.
    const options = { ...requested, phase: requested.phase ?? (this.#settings.strategy === 'expand_contract' ? 'expand' : undefined) } as const;
    const heldBack = (plan: { heldBack: readonly Migration[] }) =>
      plan.heldBack.length > 0 ? { heldBack: plan.heldBack.map((m) => refOf(m, 'up')) } : {};
    return this.#withClient(async (client) => {
      const store = new HistoryStore(client, this.#settings.migrationsTable);
      // Look first without the lock: when nothing is pending (every pod start after the first) the run ends
      // here, without taking or waiting for the runner lock.
      const seen = await store.read();
      const first = planUp(migrations, seen, options);
      if (options.dryRun) {
        if (first.blockers.length > 0) throw blockedError('migrate up', first.blockers);
        // The same checks as the real run, so the dry run exits with the code the real run would have.
        const lint = await preflight(client, this.#settings, upFiles(first.toApply), { ...options, command: 'migrate up' });
        if (first.toApply.length > 0) backupGuard(this.#settings, options.noBackup);
        const locks = first.toApply.length > 0 ? await lockReport(first.toApply.map((m) => m.up), client) : [];
        return { ...this.#dryResult('up', first.toApply, seen), locks, lint, ...heldBack(first) };
      }
      // A dirty row seen without the lock may be another runner's no-transaction migration in progress:
      // blockers are only final under the lock.
      if (first.toApply.length === 0 && first.blockers.length === 0) return { ...this.#dryResult('up', [], seen, false), ...heldBack(first) };
      if (first.blockers.length === 0) {
        // Lint and guards run before the lock: they take time and must not hold other runners up.
        const lint = await preflight(client, this.#settings, upFiles(first.toApply), { ...options, command: 'migrate up' });
        this.#emit({ type: 'lint', summary: lint });
        return this.#locked(client, () => this.#upLocked(client, store, migrations, options, lint));
      }
      return this.#locked(client, () => this.#upLocked(client, store, migrations, options, undefined));
    });
  }

  async #upLocked(client: Client, store: HistoryStore, migrations: readonly Migration[], options: UpOptions & PreflightOptions, lint: LintSummary | undefined): Promise<RunResult> {
    // Another runner may have applied some while we waited: plan again under the lock.
    const history = await store.read();
    const plan = planUp(migrations, history, options);
    if (plan.blockers.length > 0) throw blockedError('migrate up', plan.blockers);
    if (lint === undefined && plan.toApply.length > 0) {
      lint = await preflight(client, this.#settings, upFiles(plan.toApply), { ...options, command: 'migrate up' });
      this.#emit({ type: 'lint', summary: lint });
    }
    const runnables = await this.#prepare(plan.toApply, 'up');
    const backup = runnables.length > 0 ? await this.#backupFirst(history, options.noBackup) : {};
    const heldBack = plan.heldBack.length > 0 ? { heldBack: plan.heldBack.map((m) => refOf(m, 'up')) } : {};
    return { ...(await this.#run(client, store, 'up', runnables, history)), ...backup, lint, ...heldBack };
  }

  /**
   * The backup before a change, under the runner lock (so ten pods take one backup, and nothing changes the
   * schema between the dump and the migration). Skipped with --no-backup or BACKUP_BEFORE_MIGRATE=false, which
   * the result says; refused in production.
   */
  async #backupFirst(history: readonly HistoryRow[], noBackup: boolean | undefined): Promise<{ backup?: BackupSummary; backupSkipped?: string }> {
    const s = this.#settings;
    const skipped = noBackup ? '--no-backup' : s.backupBeforeMigrate ? undefined : 'BACKUP_BEFORE_MIGRATE=false';
    if (skipped) {
      if (s.migrateEnv === 'production') {
        throw usageError('backup-required-in-production', `Refusing to migrate production without a backup (${skipped}).`, {
          hint: 'Let tidemark take and validate the backup, or set MIGRATE_ENV to staging or development if this is not production.',
        });
      }
      return { backupSkipped: skipped };
    }
    this.#emit({ type: 'backup-start' });
    const { backupDatabase } = await import('../backup/index.js');
    try {
      const report = await backupDatabase({
        params: this.#params,
        dir: s.backupDir,
        versionBefore: history.at(-1)?.version ?? null,
        pgDumpPath: s.pgDumpPath,
        trackingTable: s.migrationsTable,
        retentionDays: s.backupRetentionDays,
        keep: s.backupKeep,
        uploadCommand: s.backupUploadCommand,
        lockWaitTimeoutMs: s.maxLockWaitSeconds > 0 ? s.maxLockWaitSeconds * 1000 : undefined,
        signal: this.#signal,
        onEvent: (e) => {
          if (e.type === 'progress') this.#emit({ type: 'backup-progress', bytes: e.bytes, elapsedMs: e.elapsedMs });
        },
      });
      const backup: BackupSummary = {
        file: relative(s.cwd, report.path) || report.path,
        sizeBytes: report.sizeBytes,
        sha256: report.sha256,
        durationMs: report.durationMs,
      };
      this.#emit({ type: 'backup-done', backup });
      return { backup };
    } catch (error) {
      if (this.#signal?.aborted) {
        const signal = String(this.#signal.reason);
        throw new MigrateError('interrupted', interruptedExitCode(signal), `Interrupted by ${signal} while taking the backup; nothing was changed.`, {
          hint: 'Run the command again.',
          cause: error,
        });
      }
      throw error;
    }
  }

  async down(options: DownOptions & RunOptions & PreflightOptions = {}): Promise<RunResult> {
    const migrations = await this.loadMigrations();
    if (options.dryRun) {
      return this.#withClient(async (client) => {
        const history = await new HistoryStore(client, this.#settings.migrationsTable).read();
        const plan = planDown(migrations, history, options);
        if (plan.blockers.length > 0) throw blockedError('migrate down', plan.blockers);
        const runnables = await this.#prepare(plan.toRevert, 'down');
        const lint = await this.#preflightOf(client, runnables, 'migrate down', options);
        if (runnables.length > 0) backupGuard(this.#settings, options.noBackup);
        return { ...this.#dryResult('down', plan.toRevert, history), lint };
      });
    }
    return this.#withLock(async (client, store) => {
      const history = await store.read();
      const plan = planDown(migrations, history, options);
      if (plan.blockers.length > 0) throw blockedError('migrate down', plan.blockers);
      const runnables = await this.#prepare(plan.toRevert, 'down');
      const lint = await this.#preflightOf(client, runnables, 'migrate down', options);
      this.#emit({ type: 'lint', summary: lint });
      const backup = runnables.length > 0 ? await this.#backupFirst(history, options.noBackup) : {};
      return { ...(await this.#run(client, store, 'down', runnables, history)), ...backup, lint };
    });
  }

  /**
   * The preflight of runnables in the order and direction they run. `reapplied`: versions whose up file ran
   * before and is run again right after its rollback (redo): reported, not refused.
   */
  #preflightOf(client: Client, runnables: readonly Runnable[], command: string, options: PreflightOptions, reapplied?: (r: Runnable) => boolean): Promise<LintSummary> {
    const files: PreflightFile[] = runnables.map((r) => ({
      file: r.file,
      version: r.migration.versionNumber,
      undoes: r.file === r.migration.up ? undefined : r.migration.up,
      exempt: reapplied?.(r) ? 're-applied by redo: it was applied until the rollback just before it' : undefined,
    }));
    return preflight(client, this.#settings, files, { ...options, command });
  }

  /** Rolls back the newest applied migration and applies it again, under one lock. */
  async redo(options: PreflightOptions & RunOptions = {}): Promise<{ down: RunResult; up: RunResult }> {
    const migrations = await this.loadMigrations();
    return this.#withLock(async (client, store) => {
      const history = await store.read();
      const downPlan = planDown(migrations, history, { step: 1 });
      if (downPlan.blockers.length > 0) throw blockedError('migrate redo', downPlan.blockers);
      const target = downPlan.toRevert[0];
      if (!target) throw usageError('nothing-to-redo', 'There is no applied migration to redo.');
      const upPlan = planUp(migrations, history.filter((r) => BigInt(r.version) !== target.versionNumber), {
        to: target.version,
      });
      const blockers = upPlan.blockers.filter((b) => b.state !== 'out-of-order');
      if (blockers.length > 0) throw blockedError('migrate redo', blockers);
      const downRunnables = await this.#prepare([target], 'down');
      const upRunnables = await this.#prepare([target], 'up');
      const lint = await this.#preflightOf(client, [...downRunnables, ...upRunnables], 'migrate redo', options, (r) => upRunnables.includes(r));
      this.#emit({ type: 'lint', summary: lint });
      if (options.dryRun) {
        backupGuard(this.#settings, options.noBackup);
        return { down: { ...this.#dryResult('down', [target], history), lint }, up: this.#dryResult('up', [target], history) };
      }
      const backup = await this.#backupFirst(history, options.noBackup);
      const down = { ...(await this.#run(client, store, 'down', downRunnables, history)), ...backup, lint };
      const up = await this.#run(client, store, 'up', upRunnables, await store.read());
      return { down, up };
    });
  }

  /** Runs `fn` on one connection holding the runner lock: for changes to the history alone (repair, baseline). */
  withRunnerLock<T>(fn: (client: Client, store: HistoryStore) => Promise<T>): Promise<T> {
    return this.#withLock(fn);
  }

  /** Runs `fn` on one connection without the runner lock: for read-only checks (verify). */
  withConnection<T>(fn: (client: Client) => Promise<T>): Promise<T> {
    return this.#withClient(fn);
  }

  /** Runs seeds/NAME.sql in one transaction. Refused when MIGRATE_ENV=production unless `force`. */
  async seed(name: string, options: { force?: boolean } = {}): Promise<{ name: string; file: string; executionMs: number }> {
    if (this.#settings.migrateEnv === 'production' && !options.force) {
      throw usageError('seed-in-production', `Refusing to run seed "${name}": MIGRATE_ENV is production.`, {
        hint: 'Seeds are for development and test data. If you really mean it, add --force.',
      });
    }
    if (!/^[\w.-]+$/.test(name)) throw usageError('bad-seed-name', `"${name}" is not a seed name; use the file name without .sql.`);
    const { join } = await import('node:path');
    const path = join(this.#settings.seedsDir, `${name}.sql`);
    let file: SqlFile;
    try {
      file = await readSqlFile(path, this.#settings.cwd);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        const seeds = await listSeeds(this.#settings.seedsDir);
        throw usageError('unknown-seed', `There is no seed named "${name}" (looked for ${path}).`, {
          hint: seeds.length ? `Known seeds: ${seeds.join(', ')}.` : 'The seeds folder has no .sql files.',
        });
      }
      throw error;
    }
    const ref: MigrationRef = { version: '', name, file: file.displayPath };
    return this.#withLock(async (client, store) => {
      const lint = await preflight(client, this.#settings, [{ file, version: undefined }], { command: `migrate seed ${name}` });
      this.#emit({ type: 'lint', summary: lint });
      await store.ensure();
      const started = performance.now();
      await client.query('begin');
      try {
        await this.#setLocalTimeouts(client, 'seed');
        if (!file.empty) await this.#runText(client, file.text, 0, 0, file.text.length);
        await client.query('commit');
      } catch (error) {
        await client.query('rollback').catch(() => {});
        const failure = await this.#failureOf(error, file, undefined);
        if (failure) {
          throw new MigrateError('seed-failed', EXIT.failed, `Seed ${file.displayPath} failed at ${failure.file}:${failure.line}:${failure.column}: ${failure.message}`, {
            hint: 'Nothing of the seed remains (it ran in one transaction). Fix the file and run it again.',
            details: { error: failure },
          });
        }
        throw error;
      }
      return { name, file: file.displayPath, executionMs: Math.round(performance.now() - started) };
    });
  }

  // ---- internals -------------------------------------------------------------------------------------------

  async #withClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
    const client = await connect(this.#params);
    try {
      return await fn(client);
    } catch (error) {
      if (isConnectionLost(error)) throw connectionLostError(error, this.#params);
      throw error;
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** One connection and the runner lock on it; the lock is released in finally. */
  async #withLock<T>(fn: (client: Client, store: HistoryStore) => Promise<T>): Promise<T> {
    return this.#withClient((client) => this.#locked(client, () => fn(client, new HistoryStore(client, this.#settings.migrationsTable))));
  }

  /** Runs `fn` holding the runner lock on `client`'s session; released in finally, even on a signal. */
  async #locked<T>(client: Client, fn: () => Promise<T>): Promise<T> {
    const locker = new Locker(client, lockKey(this.#params.database, this.#settings.migrationsTable));
    const started = Date.now();
    let waited = false;
    await locker.acquire(
      this.#lockWaitMs,
      (holder) => {
        waited = true;
        this.#emit({ type: 'lock-waiting', holder });
      },
      this.#signal,
    );
    if (waited) this.#emit({ type: 'lock-acquired', waitedMs: Date.now() - started });
    try {
      return await fn();
    } finally {
      // A lost connection releases it on the server's side.
      await locker.release().catch(() => {});
    }
  }

  async #prepare(migrations: readonly Migration[], direction: Direction): Promise<Runnable[]> {
    const runnables: Runnable[] = [];
    const problems: string[] = [];
    for (const migration of migrations) {
      const file = direction === 'up' ? migration.up : await readDown(migration, this.#settings.cwd);
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

  #dryResult(direction: Direction, migrations: readonly Migration[], history: readonly HistoryRow[], dryRun = true): RunResult {
    const refs = migrations.map((m) => refOf(m, direction));
    const before = history.at(-1)?.version;
    return {
      direction,
      dryRun,
      applied: [],
      failed: undefined,
      notRun: refs,
      versionBefore: before,
      versionAfter: before,
      backup: undefined,
      backupSkipped: undefined,
    };
  }

  async #run(client: Client, store: HistoryStore, direction: Direction, runnables: readonly Runnable[], history: readonly HistoryRow[]): Promise<RunResult> {
    const versionBefore = history.at(-1)?.version;
    const applied: AppliedMigration[] = [];
    // Created only now, once everything has been validated and there is work to do.
    if (runnables.length > 0) await store.ensure();
    this.#emit({ type: 'plan', direction, migrations: runnables.map((r) => r.ref) });
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
      if (this.#signal?.aborted) {
        const r = result(undefined, i);
        throw new MigrationFailedError('interrupted', interruptedExitCode(String(this.#signal.reason)), `Interrupted by ${String(this.#signal.reason)} before ${label(runnable.ref)}; nothing of it ran.`, r);
      }
      this.#emit({ type: 'migration-start', direction, migration: runnable.ref, statements: runnable.statements?.length ?? 0 });
      try {
        const executionMs = runnable.file.directives.noTransaction
          ? await this.#runOutsideTransaction(client, store, direction, runnable)
          : await this.#runInTransaction(client, store, direction, runnable);
        const done = { ...runnable.ref, executionMs };
        applied.push(done);
        this.#emit({ type: 'migration-done', direction, migration: done });
      } catch (error) {
        throw this.#withInvalidIndexes(await this.#runError(error, runnable, result, i), error);
      }
    }
    const after = await store.read();
    return { ...result(undefined, runnables.length), versionAfter: after.at(-1)?.version };
  }

  async #runError(error: unknown, runnable: Runnable, result: (failed: FailedMigration | undefined, from: number) => RunResult, index: number): Promise<MigrateError> {
    const partial = (error as { statementsRun?: FailedMigration['statementsRun'] }).statementsRun;
    const dirty = runnable.file.directives.noTransaction && !(error instanceof MigrateError && error.code === 'transaction-ended');
    const sqlFailure = await this.#failureOf(error, runnable.file, runnable.statements);
    const failed: FailedMigration = { ...runnable.ref, error: sqlFailure, ...(partial ? { statementsRun: partial, dirty } : {}) };
    const r = result(failed, index + 1);
    const what = label(runnable.ref);
    const cancelled = (error as { tidemarkCancel?: string }).tidemarkCancel;
    // A no-transaction migration is not rolled back: what ran stays, and its row is dirty.
    const outcome = partial ? 'the statements before it stay applied and it is marked dirty' : 'it was rolled back';
    const dirtyHint = `Check the database by hand, then: migrate repair ${runnable.ref.version}`;
    if (cancelled === 'signal') {
      const signal = String(this.#signal?.reason ?? 'SIGINT');
      return new MigrationFailedError('interrupted', interruptedExitCode(signal), `Interrupted by ${signal} during ${what}; ${outcome}.`, r, partial ? dirtyHint : 'Run the command again to continue.', error);
    }
    if (cancelled === 'timeout') {
      return new MigrationFailedError('migration-timeout', EXIT.unavailable, `${what} ran longer than MIGRATION_TIMEOUT (${this.#settings.migrationTimeoutSeconds} s) and was cancelled; ${outcome}.`, r, partial ? `${dirtyHint}. Raise MIGRATION_TIMEOUT for the next attempt.` : 'Raise MIGRATION_TIMEOUT, or split the migration (e.g. a batched backfill).', error);
    }
    if (isConnectionLost(error)) {
      const lost = connectionLostError(error, this.#params);
      return new MigrationFailedError(lost.code, EXIT.unavailable, `${lost.message} ${what} did not complete.`, r, lost.hint, error);
    }
    if (error instanceof MigrateError && !sqlFailure) {
      return new MigrationFailedError(error.code, error.exitCode, error.message, r, error.hint, error);
    }
    const f = sqlFailure!;
    const code = f.sqlstate === LOCK_NOT_AVAILABLE ? 'lock-timeout' : f.sqlstate === QUERY_CANCELED ? 'statement-timeout' : 'migration-failed';
    const exitCode = code === 'migration-failed' ? EXIT.failed : EXIT.unavailable;
    const hint =
      code === 'lock-timeout'
        ? partial
          ? `Another session held a lock longer than MAX_LOCK_WAIT (${this.#settings.maxLockWaitSeconds} s); a no-transaction migration is not retried. ${dirtyHint}`
          : `Another session held a lock longer than MAX_LOCK_WAIT (${this.#settings.maxLockWaitSeconds} s) on each of ${this.#settings.lockRetries + 1} attempts. Find it in pg_stat_activity, or retry at a quieter time.`
        : code === 'statement-timeout'
          ? `A statement ran longer than DB_STATEMENT_TIMEOUT (${this.#settings.statementTimeoutMs} ms). Raise it for this run, or make the statement cheaper.`
          : partial
            ? `It ran outside a transaction: the statements before it stay applied and ${what} is marked dirty. Fix the database by hand, then: migrate repair ${runnable.ref.version}`
            : `Nothing of ${what} remains (its transaction was rolled back). Fix the file, then run migrate ${runnable.ref.file && r.direction === 'down' ? 'down' : 'up'} again.`;
    return new MigrationFailedError(code, exitCode, `${what} failed at ${f.file}:${f.line}:${f.column}: ${f.message}`, r, hint, error);
  }

  /** A failed CREATE INDEX / REINDEX CONCURRENTLY leaves an INVALID index: the error names it and how to drop it. */
  #withInvalidIndexes(failure: MigrateError, error: unknown): MigrateError {
    const indexes = (error as { invalidIndexes?: InvalidIndex[] }).invalidIndexes;
    if (!indexes || indexes.length === 0 || !(failure instanceof MigrationFailedError)) return failure;
    const names = indexes.map((i) => `${i.schema}.${i.name}`).join(', ');
    const one = indexes.length === 1;
    const message = `${failure.message}\nIt left ${one ? 'an INVALID index' : `${indexes.length} INVALID indexes`} behind: ${names} (maintained on every write, never used by queries).`;
    // The human renderer shows the hint, not the message, under an SQL failure: the hint names the index too.
    const hint = `Drop the INVALID index${one ? '' : 'es'} it left, ${names}, first (a rerun with IF NOT EXISTS would keep ${one ? 'it' : 'them'}): ${indexes.map((i) => i.dropStatement).join(' ')} Then: ${failure.hint ?? ''}`;
    return new MigrationFailedError(failure.code, failure.exitCode, message, failure.result, hint.trim(), error);
  }

  async #setLocalTimeouts(client: Client, marker: string): Promise<void> {
    // set_config(..., true) is SET LOCAL: the values end with the transaction and never leak to the session.
    // The marker lets us notice a file that ended our transaction with its own COMMIT or ROLLBACK.
    await client.query(
      `select set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true), set_config('tidemark.migration', $3, true)`,
      [`${this.#settings.maxLockWaitSeconds}s`, `${this.#settings.statementTimeoutMs}`, marker],
    );
  }

  /**
   * One round trip per migration, like a psql script: `begin; set local ...;` + the file + the tracking row +
   * `commit` go as one simple query. PostgreSQL parses the whole string before running any of it, stops at the
   * first error (we then roll back), and reports positions relative to the string: we subtract the prefix.
   * The row is written only if the transaction-local marker is still set, so a file that ended our
   * transaction itself (its own COMMIT or ROLLBACK) is noticed instead of recorded.
   */
  async #runInTransaction(client: Client, store: HistoryStore, direction: Direction, runnable: Runnable): Promise<number> {
    const { migration, ref, file } = runnable;
    const s = this.#settings;
    const prefix =
      `begin; set local lock_timeout = ${quoteLiteral(`${s.maxLockWaitSeconds}s`)}; ` +
      `set local statement_timeout = ${quoteLiteral(String(s.statementTimeoutMs))}; ` +
      `set local tidemark.migration = ${quoteLiteral(migration.version)};\n`;
    const record =
      direction === 'up'
        ? store.insertAppliedSql({ version: migration.version, name: migration.name, checksum: migration.checksum, appliedBy: this.#appliedBy }, 'tidemark.migration')
        : store.deleteSql(migration.version, 'tidemark.migration');
    // The newline ends a trailing line comment; the `;` ends a last statement written without one.
    const body = file.empty ? '' : `${file.text}\n;\n`;
    const sql = `${prefix}${body}${record};\ncommit;`;
    for (let attempt = 1; ; attempt += 1) {
      const started = performance.now();
      try {
        const results = await this.#runText(client, sql, PREFIX_STATEMENTS, prefix.length, file.text.length);
        const recorded = results.at(-2);
        if (!recorded || recorded.rowCount !== 1) {
          throw new MigrateError('transaction-ended', EXIT.failed, `${label(ref)} ended tidemark's transaction itself (it contains COMMIT, ROLLBACK or END); the statements before that point were committed and the migration is not recorded.`, {
            hint: 'Remove transaction control from the file (tidemark wraps each migration in a transaction), or mark it -- migrate:no-transaction. Check the database by hand before running again.',
          });
        }
        const serverMs = (recorded.rows[0] as { execution_ms?: number } | undefined)?.execution_ms;
        return serverMs ?? Math.round(performance.now() - started);
      } catch (error) {
        await client.query('rollback').catch(() => {});
        const sqlstate = (error as { code?: string }).code;
        const cancelled = (error as { tidemarkCancel?: string }).tidemarkCancel;
        if (sqlstate === LOCK_NOT_AVAILABLE && !cancelled && attempt <= this.#settings.lockRetries) {
          const waitMs = Math.min(1000 * 2 ** (attempt - 1), 30_000);
          this.#emit({ type: 'migration-retry', migration: ref, attempt, waitMs, reason: (error as Error).message });
          await sleep(waitMs);
          continue;
        }
        throw error;
      }
    }
  }

  /**
   * Runs a generated wrapper around a file's text under MIGRATION_TIMEOUT and the abort signal, counting
   * CommandComplete messages so that a failure names the file's own statement. `prefixStatements` and
   * `prefixLength` say what of the text is ours before the file (an error position there is not the file's).
   */
  async #runText(client: Client, sql: string, prefixStatements: number, prefixLength: number, fileLength: number): Promise<pg.QueryResult[]> {
    return this.#guarded(client, async (cancelReason) => {
      const connection = (client as unknown as { connection: NodeJS.EventEmitter }).connection;
      let completed = 0;
      const onComplete = () => {
        completed += 1;
      };
      connection.on('commandComplete', onComplete);
      try {
        const result = (await client.query(sql)) as unknown as pg.QueryResult | pg.QueryResult[];
        return Array.isArray(result) ? result : [result];
      } catch (error) {
        const e = error as { position?: string };
        const position = e.position === undefined ? undefined : Number(e.position) - prefixLength;
        throw Object.assign(error as Error, {
          statementIndex: Math.max(0, completed - prefixStatements),
          tidemarkCancel: cancelReason(),
          whole: true,
          position: position !== undefined && position > 0 && position <= fileLength ? String(position) : undefined,
        });
      } finally {
        connection.off('commandComplete', onComplete);
      }
    });
  }

  /** Runs `fn` with MIGRATION_TIMEOUT and the abort signal wired to cancel the backend's running statement. */
  async #guarded<T>(client: Client, fn: (cancelReason: () => string | undefined) => Promise<T>): Promise<T> {
    let reason: string | undefined;
    const pid = (client as unknown as { processID: number }).processID;
    const cancel = (why: string) => {
      if (reason) return;
      reason = why;
      void this.#cancelBackend(pid);
    };
    const timeoutMs = this.#settings.migrationTimeoutSeconds * 1000;
    const timer = timeoutMs > 0 ? setTimeout(() => cancel('timeout'), timeoutMs) : undefined;
    const onAbort = () => cancel('signal');
    this.#signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (this.#signal?.aborted) {
        throw Object.assign(new Error(`cancelled (${String(this.#signal.reason)})`), { tidemarkCancel: 'signal', statementIndex: 0 });
      }
      return await fn(() => reason);
    } finally {
      if (timer) clearTimeout(timer);
      this.#signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * `-- migrate:no-transaction`: the row is written dirty first, each statement runs on its own (autocommit),
   * and the dirty mark is cleared after the last one. A failure leaves it dirty for `migrate repair`.
   */
  async #runOutsideTransaction(client: Client, store: HistoryStore, direction: Direction, runnable: Runnable): Promise<number> {
    const { migration, ref } = runnable;
    const started = performance.now();
    if (direction === 'up') {
      await store.insertApplied({ version: migration.version, name: migration.name, checksum: migration.checksum, executionMs: 0, appliedBy: this.#appliedBy, dirty: true });
    } else {
      await store.markDirty(migration.version);
    }
    // Session-level timeouts for the duration of this migration, reset afterwards.
    await client.query(`select set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)`, [
      `${this.#settings.maxLockWaitSeconds}s`,
      `${this.#settings.statementTimeoutMs}`,
    ]);
    const statementsRun: { line: number; text: string }[] = [];
    try {
      await this.#runStatements(client, ref, runnable.statements ?? [], statementsRun);
    } catch (error) {
      (error as { statementsRun?: unknown }).statementsRun = statementsRun;
      const failedAt = runnable.statements?.[(error as { statementIndex?: number }).statementIndex ?? -1];
      if (failedAt && !isConnectionLost(error)) {
        const { invalidIndexesAfter } = await import('./invalid-index.js');
        (error as { invalidIndexes?: unknown }).invalidIndexes = await invalidIndexesAfter(client, failedAt.text);
      }
      throw error;
    } finally {
      await client.query('reset lock_timeout; reset statement_timeout').catch(() => {});
    }
    const executionMs = performance.now() - started;
    if (direction === 'up') await store.markClean(migration.version, executionMs);
    else await store.delete(migration.version);
    return Math.round(executionMs);
  }

  /** Runs a no-transaction file's statements one by one under MIGRATION_TIMEOUT and the abort signal. */
  async #runStatements(client: Client, ref: MigrationRef, statements: readonly Statement[], ran: { line: number; text: string }[]): Promise<void> {
    await this.#guarded(client, async (cancelReason) => {
      for (let i = 0; i < statements.length; i += 1) {
        const statement = statements[i]!;
        const cancelled = cancelReason();
        if (cancelled) throw Object.assign(new Error(`cancelled (${cancelled})`), { tidemarkCancel: cancelled, statementIndex: i });
        this.#emit({ type: 'statement-start', migration: ref, index: i + 1, line: statement.line });
        try {
          await client.query(statement.text);
        } catch (error) {
          throw Object.assign(error as Error, { statementIndex: i, tidemarkCancel: cancelReason() });
        }
        ran.push({ line: statement.line, text: statement.text });
      }
    });
  }

  /** Cancels the running statement of `pid` from a second connection (the monitor). */
  async #cancelBackend(pid: number): Promise<void> {
    try {
      const monitor = await connect(this.#params);
      try {
        await monitor.query('select pg_cancel_backend($1)', [pid]);
      } finally {
        await monitor.end().catch(() => {});
      }
    } catch {
      // The server is gone or refuses: the statement's own timeouts still apply.
    }
  }

  /** The user's file, line and column of an SQL error; undefined for errors that are not PostgreSQL's. */
  async #failureOf(error: unknown, file: SqlFile, statements: readonly Statement[] | undefined): Promise<SqlFailure | undefined> {
    const e = error as { code?: string; position?: string; message?: string; detail?: string; hint?: string; where?: string; statementIndex?: number; severity?: string; whole?: boolean };
    if (e.statementIndex === undefined || (e.severity === undefined && !e.code)) return undefined;
    if (error instanceof MigrateError) return undefined;
    if (e.whole) {
      // The file went whole: split it now (the only time a transactional run loads the parser) to name the
      // statement. A file the parser rejects still gets PostgreSQL's position, which is relative to the file.
      const split = await statementsOf(file).catch(() => undefined);
      const statement = split?.[e.statementIndex];
      const wholeFile: Statement = { text: file.text, start: 0, line: 1, column: 1 };
      return locateFailure(file, e.position || !statement ? wholeFile : statement, e.statementIndex, split?.length ?? 0, e);
    }
    const statement = statements?.[e.statementIndex];
    if (!statement) return undefined;
    return locateFailure(file, statement, e.statementIndex, statements!.length, e);
  }
}

function label(ref: MigrationRef): string {
  return `${ref.version}_${ref.name}`;
}

/** Maps PostgreSQL's error position (characters, relative to the statement sent) to the file's line:col. */
export function locateFailure(
  file: SqlFile,
  statement: Statement,
  index: number,
  count: number,
  e: { code?: string; position?: string; message?: string; detail?: string; hint?: string; where?: string },
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
