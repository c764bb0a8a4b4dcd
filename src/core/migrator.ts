/**
 * The migrator: the façade every command and the library call. Each run goes
 * plan -> preflight -> lock -> backup -> execute -> report:
 *
 *   plan       core/plan (pure): what to run, or why it cannot start
 *   preflight  core/preflight: lint and the production guard, before the lock
 *   lock       core/session: one session holds the runner lock for the whole run
 *   backup     core/backup-first: pg_dump under the lock, when the policy asks for one
 *   execute    core/executor: transactions, no-transaction runs, retries (ops/lock-retry), cancel (ops/cancel)
 *   report     a RunResult, or a MigrationFailedError carrying the partial one (core/failure)
 *
 * It never prints: it returns results, throws MigrateErrors and emits events. Everything it knows comes from
 * one RunConfig (core/config): no environment, no working directory.
 */
import type { HistoryRow } from '../db/history.js';
import { usageError, type MigrateError } from '../errors.js';
import type { Migration } from '../source/types.js';
import type { RepairRow } from '../db/repair-log.js';
import { paramsConnector } from '../db/connector.js';
import { exponentialLockRetry } from '../ops/lock-retry.js';
import { backupFirst } from './backup-first.js';
import { baseline, type BaselineOptions, type BaselineResult } from './baseline.js';
import type { BackupEvent, BackupReport, LoggedBackup, RestoreResult } from '../backup/index.js';
import type { BackupPolicy, RunConfig } from './config.js';
import { Executor, prepare, refOf, type Runnable } from './executor.js';
import {
  backupGuard,
  lintReport,
  lockReport,
  preflight,
  productionGuard,
  upFiles,
  type LintReport,
  type LintRequest,
  type LintSummary,
  type PreflightFile,
  type PreflightOptions,
} from './preflight.js';
import { statementsOf } from './failure.js';
import { resumePointOf, type ResumePoint } from './resume.js';
import {
  isResumable,
  planDown,
  planUp,
  statusOf,
  type Blocker,
  type DownOptions,
  type StatusEntry,
  type UpOptions,
} from './plan.js';
import {
  planRepair,
  readRepairs,
  readState,
  repair,
  type HistoryState,
  type RepairOptions,
  type RepairPlan,
} from './repair.js';
import type { Direction, RunResult } from './results.js';
import type { BackfillResult, BackfillSpec } from '../ops/backfill.js';
import { readSeed, runSeed, type SeedOptions, type SeedResult } from './seed.js';
import { withLockedSession, withSession, type Session, type SessionOptions } from './session.js';
import { verify, type VerifyOptions, type VerifyReport } from './verify.js';
import type { Wording } from './wording.js';

export { DEFAULT_LOCK_WAIT_MS } from './config.js';

/** What `Migrator.stepper` hands out: one migration at a time, on the session it holds (`client`). */
export interface Stepper {
  apply(migration: Migration): Promise<RunResult>;
  revert(migration: Migration): Promise<RunResult>;
  /** The rollback file, from the migrator's source. */
  readDown(migration: Migration): Promise<import('../source/types.js').SqlFile>;
  readonly client: import('../db/connection.js').Client;
}

export interface RunOptions {
  readonly dryRun?: boolean | undefined;
}

export interface StatusReport {
  readonly entries: readonly StatusEntry[];
  readonly tableExists: boolean;
  /** Repairs and baselines recorded so far, oldest first. */
  readonly repairs: readonly RepairRow[];
  /** One per dirty migration: where `up` resumes it (statement k of n), or that it needs a repair. */
  readonly resumePoints: readonly ResumePoint[];
}

function blockedError(what: string, blockers: readonly Blocker[], words: Wording): MigrateError {
  return usageError('run-blocked', `${what} cannot start:\n  ${blockers.map((b) => b.message).join('\n  ')}`, {
    hint: `Nothing was run. ${words.command('status')} shows every migration and its state.`,
    details: {
      blockers: blockers.map((b) => ({ version: b.version, name: b.name, state: b.state, message: b.message })),
    },
  });
}

function dryResult(
  direction: Direction,
  migrations: readonly Migration[],
  history: readonly HistoryRow[],
  dryRun = true,
): RunResult {
  const before = history.at(-1)?.version;
  return {
    direction,
    dryRun,
    applied: [],
    failed: undefined,
    notRun: migrations.map((m) => refOf(m, direction)),
    versionBefore: before,
    versionAfter: before,
    backup: undefined,
    backupSkipped: undefined,
  };
}

function heldBackOf(plan: { heldBack: readonly Migration[] }) {
  return plan.heldBack.length > 0 ? { heldBack: plan.heldBack.map((m) => refOf(m, 'up')) } : {};
}

export class Migrator {
  readonly #config: RunConfig;

  /** Built by createMigrator (src/index.ts) or the CLI's options; not meant to be called with a hand-made config. */
  constructor(config: RunConfig) {
    this.#config = config;
  }

  loadMigrations(): Promise<Migration[]> {
    return this.#config.source.load();
  }

  /** Every known migration and its state, and the repairs recorded so far; creates nothing. */
  async status(): Promise<StatusReport> {
    // read() is optimistic (one query; [] when the table is missing): the catalog look-up of exists() runs
    // only for an empty history. A fresh backend's first catalog queries are the slow part of `status`.
    // The repairs are asked for right behind the history (pg sends the second query as the first one's answer
    // arrives, while the files are still being read): its round trip no longer follows the files. Without a
    // tracking table there is no repair log either (its query then fails, which read() takes as none).
    return this.#withFiles(
      async (session) => {
        const history = session.history.read();
        const repairs = readRepairs(session);
        repairs.catch(() => {}); // awaited below, after the history
        return { history: await history, repairs };
      },
      async (session, migrations, { history, repairs }) => {
        // The repairs' query settles before exists() sends its own: pg answers a failed query at its
        // ErrorResponse but sends the next queued one only at the ReadyForQuery behind it, so the repairs may
        // still wait in pg's queue here, and a query added to a queue that is not empty prints pg's
        // DeprecationWarning (such calls go away in pg 9) on a fresh database's first `status`.
        if (history.length === 0) await repairs.catch(() => undefined); // its error, if any, is thrown below
        const tableExists = history.length > 0 || (await session.history.exists());
        const repaired = await repairs;
        const entries = statusOf(migrations, history);
        return {
          entries,
          tableExists,
          repairs: tableExists ? repaired : [],
          resumePoints: await this.#resumePoints(entries),
        };
      },
    );
  }

  /** Dirty migrations only: a resumable one's file is split (the parser loads then, never for a clean status). */
  async #resumePoints(entries: readonly StatusEntry[]): Promise<ResumePoint[]> {
    const points: ResumePoint[] = [];
    for (const e of entries) {
      if (e.state !== 'dirty') continue;
      const statements =
        isResumable(e) && e.migration ? await statementsOf(e.migration.up).catch(() => undefined) : undefined;
      points.push(resumePointOf(e, statements, this.#config.words));
    }
    return points;
  }

  async up(requested: UpOptions & RunOptions & PreflightOptions = {}): Promise<RunResult> {
    const c = this.#config;
    // MIGRATION_STRATEGY=expand_contract: a plain `up` is the expand phase; contracting is said explicitly.
    const options = {
      ...requested,
      phase: requested.phase ?? (c.strategy === 'expand_contract' ? 'expand' : undefined),
    } as const;
    // Look first without the lock: when nothing is pending (every pod start after the first) the run ends
    // here, without taking or waiting for the runner lock.
    return this.#withFiles(
      (session) => session.history.read(),
      async (session, migrations, seen) => {
        const first = planUp(migrations, seen, options, c.words);
        if (options.dryRun) {
          if (first.blockers.length > 0) throw blockedError(c.words.command('up'), first.blockers, c.words);
          // The same checks as the real run, so the dry run exits with the code the real run would have.
          const lint = await preflight(session.client, c, upFiles(first.toApply), {
            ...options,
            command: 'migrate up',
          });
          if (first.toApply.length > 0) backupGuard(c, options.noBackup);
          const locks =
            first.toApply.length > 0
              ? await lockReport(
                  first.toApply.map((m) => m.up),
                  session.client,
                  undefined,
                  (message) => session.emit({ type: 'notice', message }),
                )
              : [];
          return { ...dryResult('up', first.toApply, seen), locks, ...(lint ? { lint } : {}), ...heldBackOf(first) };
        }
        // A dirty row seen without the lock may be another runner's no-transaction migration in progress:
        // blockers are only final under the lock.
        if (first.toApply.length === 0 && first.blockers.length === 0)
          return { ...dryResult('up', [], seen, false), ...heldBackOf(first) };
        let lint: LintSummary | undefined;
        let linted = false;
        if (first.blockers.length === 0) {
          // Lint and guards run before the lock: they take time and must not hold other runners up.
          lint = await this.#preflight(session, upFiles(first.toApply), 'migrate up', options);
          linted = true;
        }
        return session.locked(async () => {
          // Another runner may have applied some while we waited: plan again under the lock.
          const history = await session.history.read();
          const plan = planUp(migrations, history, options, c.words);
          if (plan.blockers.length > 0) throw blockedError(c.words.command('up'), plan.blockers, c.words);
          if (!linted && plan.toApply.length > 0)
            lint = await this.#preflight(session, upFiles(plan.toApply), 'migrate up', options);
          const runnables = await prepare(c.source, plan.toApply, 'up');
          const backup = runnables.length > 0 ? await backupFirst(c, history, options.noBackup) : {};
          const result = await this.#executor(session).run('up', runnables, history, { fromStart: options.fromStart });
          return { ...result, ...backup, lint, ...heldBackOf(plan) };
        });
      },
    );
  }

  async #preflight(
    session: Session,
    files: readonly PreflightFile[],
    command: string,
    options: PreflightOptions,
  ): Promise<LintSummary | undefined> {
    const lint = await preflight(session.client, this.#config, files, { ...options, command }, (message) =>
      session.emit({ type: 'notice', message }),
    );
    if (lint) this.#config.onEvent({ type: 'lint', summary: lint });
    return lint;
  }

  /**
   * The preflight files of runnables, in the order and direction they run: a rollback file is linted as
   * itself, knowing the up it undoes. `reapplied`: up files that ran until the rollback just before them
   * (redo): reported, not refused.
   */
  #filesOf(runnables: readonly Runnable[], reapplied: readonly Runnable[] = []): PreflightFile[] {
    return runnables.map((r) => ({
      file: r.file,
      version: r.migration.versionNumber,
      undoes: r.file === r.migration.up ? undefined : r.migration.up,
      exempt: reapplied.includes(r)
        ? 're-applied by redo: it was applied until the rollback just before it'
        : undefined,
    }));
  }

  async down(options: DownOptions & RunOptions & PreflightOptions = {}): Promise<RunResult> {
    const migrations = await this.loadMigrations();
    const c = this.#config;
    if (options.dryRun) {
      return this.#session(async (session) => {
        const history = await session.history.read();
        const plan = planDown(migrations, history, options);
        if (plan.blockers.length > 0) throw blockedError(c.words.command('down'), plan.blockers, c.words);
        const runnables = await prepare(c.source, plan.toRevert, 'down');
        const lint = await preflight(session.client, c, this.#filesOf(runnables), {
          ...options,
          command: 'migrate down',
        });
        if (runnables.length > 0) backupGuard(c, options.noBackup);
        return { ...dryResult('down', plan.toRevert, history), ...(lint ? { lint } : {}) };
      });
    }
    return this.#lockedSession(async (session) => {
      const history = await session.history.read();
      const plan = planDown(migrations, history, options);
      if (plan.blockers.length > 0) throw blockedError(c.words.command('down'), plan.blockers, c.words);
      const runnables = await prepare(c.source, plan.toRevert, 'down');
      const lint = await this.#preflight(session, this.#filesOf(runnables), 'migrate down', options);
      const backup = runnables.length > 0 ? await backupFirst(c, history, options.noBackup) : {};
      return { ...(await this.#executor(session).run('down', runnables, history)), ...backup, lint };
    });
  }

  /**
   * One locked session for many single-migration runs, without plan, lint or backup: `migrate test-rollback`
   * applies and rolls back thousands of migrations in its scratch database, and a session per step cost ~3x
   * the migration itself. Each run goes through the same executor as up and down.
   */
  async stepper<T>(fn: (steps: Stepper) => Promise<T>): Promise<T> {
    return this.#lockedSession(async (session) => {
      const executor = this.#executor(session);
      await session.history.ensure();
      // Kept here rather than read before and after every run (two round trips a step); read again after a
      // failure, which may have left a dirty row.
      let history = await session.history.read();
      const run = async (m: Migration, direction: Direction) => {
        try {
          const result = await executor.run(direction, await prepare(this.#config.source, [m], direction), history, {
            stepping: true,
          });
          // Only the version and the dirty mark of these rows are read by the executor.
          history =
            direction === 'up'
              ? [
                  ...history,
                  {
                    version: m.version,
                    name: m.name,
                    checksum: m.checksum,
                    appliedAt: new Date(),
                    executionMs: result.applied[0]?.executionMs ?? 0,
                    appliedBy: '',
                    dirty: false,
                  },
                ]
              : history.filter((r) => r.version !== m.version);
          return result;
        } catch (error) {
          history = await session.history.read().catch(() => history);
          throw error;
        }
      };
      return fn({
        apply: (m) => run(m, 'up'),
        revert: (m) => run(m, 'down'),
        readDown: (m) => this.#config.source.readDown(m),
        client: session.client,
      });
    });
  }

  /**
   * A migrator on another database of the same server (test-rollback's scratch database) with this one's
   * source (the list given, loaded once), table and timeouts, and no backup, lint, production guard, lock
   * retries, expand/contract phase, monitor or events: that database is nobody's production.
   */
  scratch(params: import('../db/params.js').ConnectionParams, migrations: readonly Migration[]): Migrator {
    const c = this.#config;
    return new Migrator({
      ...c,
      connector: paramsConnector(params),
      source: { load: () => Promise.resolve([...migrations]), readDown: (m) => c.source.readDown(m) },
      backup: undefined,
      backupOff: 'test-rollback',
      lint: false,
      production: undefined,
      strategy: 'standard',
      lockRetry: exponentialLockRetry(0),
      // No monitor: nobody else uses the scratch database, and each step is a run that would open its connection.
      ops: undefined,
      onEvent: () => {},
    });
  }

  /** Rolls back the newest applied migration and applies it again, under one lock. */
  async redo(options: PreflightOptions & RunOptions = {}): Promise<{ down: RunResult; up: RunResult }> {
    const migrations = await this.loadMigrations();
    const c = this.#config;
    return this.#lockedSession(async (session) => {
      const history = await session.history.read();
      const downPlan = planDown(migrations, history, { step: 1 });
      if (downPlan.blockers.length > 0) throw blockedError(c.words.command('redo'), downPlan.blockers, c.words);
      const target = downPlan.toRevert[0];
      if (!target) throw usageError('nothing-to-redo', 'There is no applied migration to redo.');
      const upPlan = planUp(
        migrations,
        history.filter((r) => BigInt(r.version) !== target.versionNumber),
        { to: target.version },
        c.words,
      );
      const blockers = upPlan.blockers.filter((b) => b.state !== 'out-of-order');
      if (blockers.length > 0) throw blockedError(c.words.command('redo'), blockers, c.words);
      const downRunnables = await prepare(c.source, [target], 'down');
      const upRunnables = await prepare(c.source, [target], 'up');
      const lint = await this.#preflight(
        session,
        this.#filesOf([...downRunnables, ...upRunnables], upRunnables),
        'migrate redo',
        options,
      );
      if (options.dryRun) {
        backupGuard(c, options.noBackup);
        return { down: { ...dryResult('down', [target], history), lint }, up: dryResult('up', [target], history) };
      }
      const backup = await backupFirst(c, history, options.noBackup);
      const executor = this.#executor(session);
      const down = { ...(await executor.run('down', downRunnables, history)), ...backup, lint };
      const up = await executor.run('up', upRunnables, await session.history.read());
      return { down, up };
    });
  }

  /** Runs seeds/NAME.sql in one transaction under the runner lock. Refused under the production guard unless `force`. */
  async seed(name: string, options: SeedOptions = {}): Promise<SeedResult> {
    const c = this.#config;
    const file = await readSeed(c.seeds, name, c.production !== undefined, options, c.words);
    return this.#lockedSession(async (session) => {
      await this.#preflight(session, [{ file, version: undefined }], `migrate seed ${name}`, {});
      return runSeed(session, this.#executor(session), name, file);
    });
  }

  /**
   * Runs (or resumes) a batched backfill (ops/backfill) on a session of its own; its progress row lives beside
   * the tracking table. No runner lock: migrations may run meanwhile (the backfill takes row locks only).
   */
  async backfill(spec: BackfillSpec): Promise<BackfillResult> {
    const c = this.#config;
    const { runBackfill } = await import('../ops/backfill.js');
    return this.#session((session) =>
      runBackfill(
        session.client,
        {
          connector: c.connector,
          trackingTable: c.table,
          lockRetry: c.lockRetry,
          statementMs: c.timeouts.statementMs,
          ops: c.ops,
          emit: c.onEvent,
          signal: c.signal,
        },
        spec,
      ),
    );
  }

  /** Files, history and repairs as they are now; creates nothing. */
  async state(): Promise<HistoryState> {
    const migrations = await this.loadMigrations();
    return this.#session((session) => readState(session, migrations));
  }

  /** Does the tracking table say exactly what the files say? (`migrate verify`) */
  async verify(options: VerifyOptions = {}): Promise<VerifyReport> {
    const state = await this.state();
    const emptyRollbacks = new Set<string>();
    for (const m of state.migrations) {
      if (m.downPath !== undefined && (await this.#config.source.readDown(m)).empty) emptyRollbacks.add(m.version);
    }
    return verify(state.migrations, state.history, { ...options, emptyRollbacks, words: this.#config.words });
  }

  /** What `repair(version)` would do now, read without the lock (to show before asking); undefined: nothing to do. */
  async previewRepair(version: string, options: RepairOptions = {}): Promise<RepairPlan | undefined> {
    const state = await this.state();
    return planRepair(state.migrations, state.history, version, options);
  }

  /** Carries out `expected` (from previewRepair) under the runner lock; refuses when the state changed since. */
  async repair(expected: RepairPlan, options: RepairOptions = {}): Promise<RepairPlan> {
    const migrations = await this.loadMigrations();
    if (options.rerun) {
      // --rerun arranges for the file to run again at the next up: the production guard refuses its DDL now,
      // before the history changes, as it would refuse that up.
      const m = migrations.find((x) => x.versionNumber === BigInt(expected.version));
      if (m !== undefined)
        await productionGuard(
          this.#config,
          [{ file: m.up, version: m.versionNumber }],
          `migrate repair ${expected.version} --rerun`,
        );
    }
    return this.#session((session) => repair(session, migrations, expected, options));
  }

  /** Adopts a database migrated by other means: records migrations as applied without running them. */
  async baseline(options: BaselineOptions): Promise<BaselineResult> {
    const migrations = await this.loadMigrations();
    return this.#session((session) => baseline(session, migrations, options));
  }

  /**
   * Safety lint and lock report: the named files, else the pending migrations. `offline`: no connection, every
   * migration, the server version assumed (`pgVersion`, default 15).
   */
  async lint(request: LintRequest & { readonly offline?: boolean | undefined } = {}): Promise<LintReport> {
    const c = this.#config;
    const context = { source: c.source, table: c.table, root: c.root, lintRules: c.lintRules };
    if (request.offline) return lintReport(context, undefined, request);
    return this.#session((session) =>
      lintReport(context, session.client, {
        onNote: (message) => session.emit({ type: 'notice', message }),
        ...request,
      }),
    );
  }

  /** Takes, proves, uploads (when configured), records and prunes a backup now, whatever `beforeMigrate` says. */
  async backup(options: { readonly onEvent?: ((event: BackupEvent) => void) | undefined } = {}): Promise<BackupReport> {
    const c = this.#config;
    const policy = this.#backupPolicy();
    const { backupDatabase, currentVersion } = await import('../backup/index.js');
    const params = c.connector.params;
    return backupDatabase({
      params,
      dir: policy.dir,
      versionBefore: await currentVersion(params, c.table),
      pgDumpPath: policy.pgDumpPath,
      trackingTable: c.table,
      retentionDays: policy.retentionDays,
      keep: policy.keep,
      uploadCommand: policy.uploadCommand,
      uploadEnv: policy.uploadEnv,
      signal: c.signal,
      onEvent: options.onEvent,
    });
  }

  /** The backups recorded in db_backups, newest first. */
  async listBackups(limit = 100): Promise<LoggedBackup[]> {
    const { listBackups } = await import('../backup/index.js');
    return listBackups(this.#config.connector.params, this.#config.table, limit);
  }

  /**
   * Restores a backup file into database `into` on the same server; with `force`, over an existing one (the
   * old one is kept under another name). The caller confirms first. A relative `file` is taken from `root`
   * (the CLI's working directory), never from the process's: an embedding app or a test may run elsewhere.
   */
  async restore(options: {
    readonly file: string;
    readonly into: string;
    readonly force?: boolean | undefined;
    readonly jobs?: number | undefined;
  }): Promise<RestoreResult> {
    const c = this.#config;
    const { restoreBackup } = await import('../backup/index.js');
    const { isAbsolute, resolve } = await import('node:path');
    if (!isAbsolute(options.file) && c.root === undefined) {
      throw usageError(
        'restore-file-not-found',
        `The backup file ${options.file} is a relative path, and this migrator has no root folder to resolve it against.`,
        { hint: 'Pass an absolute path, or set root in createMigrator.' },
      );
    }
    return restoreBackup({
      file: c.root === undefined ? options.file : resolve(c.root, options.file),
      params: c.connector.params,
      into: options.into,
      force: options.force,
      jobs: options.jobs,
      trackingTable: c.table,
      pgDumpPath: c.backup?.pgDumpPath,
      signal: c.signal,
    });
  }

  // ---- internals -------------------------------------------------------------------------------------------

  #backupPolicy(): BackupPolicy {
    const policy = this.#config.backup;
    if (!policy) {
      throw usageError(
        'backup-not-configured',
        'There is nowhere to put a backup: this migrator was created without the backup option.',
        {
          hint: "Pass backup: { directory: '/path/to/backups' } to createMigrator.",
        },
      );
    }
    return policy;
  }

  #sessionOptions(): SessionOptions {
    const c = this.#config;
    return {
      connector: c.connector,
      table: c.table,
      emit: c.onEvent,
      signal: c.signal,
      lockWaitMs: c.runnerLockWaitMs,
    };
  }

  #session<T>(fn: (session: Session) => Promise<T>): Promise<T> {
    return withSession(this.#sessionOptions(), fn);
  }

  /**
   * A session with the migrations loaded: the files are read while the connection is made and `first` (the
   * history query) is answered, instead of before (the start-up path of every pod: `up`, `status`). A problem
   * in the files is still what the run reports, without waiting for the database, as when they were read
   * first.
   */
  async #withFiles<F, T>(
    first: (session: Session) => Promise<F>,
    fn: (session: Session, migrations: Migration[], early: F) => Promise<T>,
  ): Promise<T> {
    const files = this.loadMigrations();
    files.catch(() => {}); // awaited below
    const run = this.#session(async (session) => {
      const early = first(session);
      early.catch(() => {}); // awaited below, after the files
      const migrations = await files;
      return fn(session, migrations, await early);
    });
    run.catch(() => {}); // awaited below, unless the files fail first
    try {
      return await Promise.race([run, files.then(() => run)]);
    } catch (error) {
      await files;
      throw error;
    }
  }

  #lockedSession<T>(fn: (session: Session) => Promise<T>): Promise<T> {
    return withLockedSession(this.#sessionOptions(), fn);
  }

  #executor(session: Session): Executor {
    return new Executor(session, this.#config);
  }
}
