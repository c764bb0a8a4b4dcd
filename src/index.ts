/**
 * tidemark's library API: the same core the CLI uses (the CLI is its first client).
 *
 * The library reads no environment variables and not the working directory: everything comes in through
 * `createMigrator`'s options. Backups, the safety lint and the production guard are off unless asked for.
 *
 * @example
 * import pg from 'pg';
 * import { createMigrator } from 'tidemark';
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * const migrator = createMigrator({ database: pool, migrations: { directory: new URL('./migrations', import.meta.url) } });
 * await migrator.up(); // the pool stays the app's, and usable
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Strategy, TableRef } from './config/settings.js';
import {
  DEFAULT_LOCK_WAIT_MS,
  type BackupPolicy,
  type LintRules,
  type RunConfig,
  type Timeouts,
} from './core/config.js';
import { Migrator } from './core/migrator.js';
import { whoAmI } from './core/repair.js';
import type { EventSink } from './core/results.js';
import { CLI_WORDING, LIBRARY_WORDING } from './core/wording.js';
import { clientConnector, paramsConnector, poolConnector, type Connector } from './db/connector.js';
import { isPostgresUrl, paramsFromUrl, type ConnectionParams } from './db/params.js';
import { waitForDatabase as waitForServer, type WaitNotice } from './db/wait.js';
import { MigrateError, ValidationError, usageError } from './errors.js';
import { oltpLockRetry, type LockRetryPolicy } from './ops/lock-retry.js';
import type { OpsPolicy } from './ops/run-ops.js';
import { bundledSource, listSource, type MigrationDefinition } from './source/memory.js';
import { folderSource, type MigrationSource } from './source/source.js';

export { Migrator, type RunOptions, type StatusReport } from './core/migrator.js';
export { DEFAULT_LOCK_WAIT_MS, type LintRules, type Timeouts } from './core/config.js';
export {
  planDown,
  planUp,
  statusOf,
  type DownOptions,
  type MigrationState,
  type StatusEntry,
  type UpOptions,
} from './core/plan.js';
export type { PreflightOptions, LintSummary, LintRequest, LintReport } from './core/preflight.js';
export { blockingFindings } from './core/preflight.js';
export type { VerifyOptions, VerifyReport, Finding as VerifyFinding } from './core/verify.js';
export type { RepairOptions, RepairPlan, HistoryState } from './core/repair.js';
export type { BaselineOptions, BaselineResult } from './core/baseline.js';
export type { SeedOptions, SeedResult } from './core/seed.js';
export * from './core/results.js';
export type { Finding as LintFinding } from './sql/lint/types.js';
export type { FileLocks } from './sql/locks.js';
export type { BackupEvent, BackupReport, LoggedBackup, RestoreResult } from './backup/index.js';
export type { RepairRow } from './db/repair-log.js';
export type { ResumePoint } from './core/resume.js';
export type { HistoryRow } from './db/history.js';
export type { LockHolder } from './db/lock.js';
export type { ForeignTool } from './db/foreign-history.js';
export { paramsFromLibpq, paramsFromUrl, describeParams, type ConnectionParams } from './db/params.js';
export {
  EXIT,
  ERROR_CODES,
  KNOBS,
  MigrateError,
  ValidationError,
  type Audience,
  type ErrorCode,
  type ExitCode,
  type Knob,
} from './errors.js';
export { checksumOf, parseMigrationFileName } from './source/files.js';
export type { WaitNotice } from './db/wait.js';
export type { MigrationSource } from './source/source.js';
export type { MigrationDefinition } from './source/memory.js';
export type { Migration, SqlFile, Directives } from './source/types.js';
export { exponentialLockRetry, oltpLockRetry, type LockRetryPolicy } from './ops/lock-retry.js';
export type { OpsPolicy } from './ops/run-ops.js';
export type { MonitorSummary, MonitorThresholds, MonitorEvent } from './ops/monitor.js';
export type { Alert, AlertConfig, AlertDelivery, AlertKind } from './ops/alerts.js';
export type { LockBlocker } from './ops/blockers.js';
export type { BackfillSpec, BackfillResult, BackfillEvent, BackfillProgress } from './ops/backfill.js';
export type { Strategy, TableRef } from './config/settings.js';

/**
 * The part of a `pg.Pool` tidemark uses (any pg 8 pool fits). One client is borrowed for a run and given back;
 * the pool is never ended.
 */
export interface PoolLike {
  connect(): Promise<unknown>;
  readonly totalCount: number;
  readonly options: object;
}

/** The part of a connected `pg.Client` tidemark uses. It is used as it is and never ended. */
export interface ClientLike {
  query(text: string): Promise<unknown>;
  connect(): Promise<unknown>;
}

/** The database: an app's pool or connected client, a postgres:// URL, or connection parameters. */
export type DatabaseOption =
  PoolLike | ClientLike | string | (Partial<ConnectionParams> & { readonly database: string });

/**
 * Where migrations come from:
 * - `{ directory, rollbackDirectory? }`: folders (absolute paths or file: URLs; relative ones need `root`);
 * - an array of `{ version, name, up, down?, noTransaction? }`;
 * - `{ files }`: a record of file name -> SQL text bundled with the app, named as in the folders.
 * - any MigrationSource.
 */
export type MigrationsOption =
  | { readonly directory: string | URL; readonly rollbackDirectory?: string | URL | undefined }
  | readonly MigrationDefinition[]
  | { readonly files: Readonly<Record<string, string>> }
  | MigrationSource;

export interface BackupOptions {
  /** Where backup files go (absolute, a file: URL, or relative to `root`). */
  readonly directory: string | URL;
  /** Take one before every up/down/redo that changes something. Default true. */
  readonly beforeMigrate?: boolean | undefined;
  /** Delete backups older than this many days (0 = no age limit). Default 7. */
  readonly retentionDays?: number | undefined;
  /** Keep at most this many newest backups. */
  readonly keep?: number | undefined;
  /** Run with the backup file's path after validation (e.g. `aws s3 cp {file} s3://bucket/`). */
  readonly uploadCommand?: string | undefined;
  /** The upload command's environment; the process's when omitted. */
  readonly uploadEnv?: NodeJS.ProcessEnv | undefined;
  /** The pg_dump to use; else found on PATH or in /usr/lib/postgresql. */
  readonly pgDumpPath?: string | undefined;
}

/** The options of createMigrator other than the production guard; see MigratorOptions. */
export interface MigratorBaseOptions {
  /** Required for everything but `lint({ offline: true })`. */
  readonly database?: DatabaseOption | undefined;
  readonly migrations: MigrationsOption;
  /** The tracking table, `name` or `schema.name`. Default `public.schema_migrations`. */
  readonly table?: string | TableRef | undefined;
  /** Default: lockWaitSeconds 5, statementMs 0 (off), migrationSeconds 1800. */
  readonly timeouts?: Partial<Timeouts> | undefined;
  /**
   * Retries of a migration that hit lock_timeout (default 30: lock_timeout 100 ms growing to 400 ms, or to
   * timeouts.lockWaitSeconds when given, with jittered sleeps between; see oltpLockRetry), or a policy of
   * your own (exponentialLockRetry is the pre-0.2 behaviour).
   */
  readonly lockRetries?: number | LockRetryPolicy | undefined;
  /**
   * Opt in to the lock monitor (a second connection while migrations run: blocked sessions, deadlocks, who
   * blocks a lock attempt) and to alerts. `true`: the defaults (warn at 5 s, no alert channel). Off by default.
   */
  readonly monitor?:
    | boolean
    | { readonly thresholds?: Partial<OpsPolicy['thresholds']>; readonly alerts?: Partial<OpsPolicy['alerts']> }
    | undefined;
  /** How long to wait for another runner's lock, in milliseconds. Default 60000. */
  readonly lockWaitMs?: number | undefined;
  /** `expand_contract`: a plain up() stops before the first `-- migrate:phase contract` migration. */
  readonly strategy?: Strategy | undefined;
  /** Opt in to backups (pg_dump, validated) before each change, and to backup()/restore(). Off by default. */
  readonly backup?: BackupOptions | false | undefined;
  /** Opt in to the safety lint before up(), down(), redo() and seed(): unacknowledged errors stop the run. Off by default. */
  readonly lint?: boolean | undefined;
  /**
   * How the lint judges: `sizeThresholdBytes` (connected, lock/rewrite findings on smaller tables are
   * warnings; default 10 MB), `startAfter` (files at or before this version are reported, not refused),
   * `severity` (rule id -> 'off' | 'warning' | 'error').
   */
  readonly lintRules?: LintRules | undefined;
  /** Where seed(name) finds NAME.sql. */
  readonly seeds?: { readonly directory: string | URL } | undefined;
  /** Relative paths in these options (and lint's file names) are resolved against this folder. */
  readonly root?: string | undefined;
  /** Progress events (lock waits, each migration, backups); the core never prints. */
  readonly onEvent?: EventSink | undefined;
  /** Aborting it cancels the running statement; its migration is rolled back. */
  readonly signal?: AbortSignal | undefined;
  /** `applied_by` of the tracking rows. Default `user@host` of this process. */
  readonly appliedBy?: string | undefined;
  /** Whose names hints use: the library's options (default), or the CLI's flags and variables (the CLI). */
  readonly wording?: 'library' | 'cli' | undefined;
}

/** The library's default cap of one lock attempt, as the CLI's MAX_LOCK_WAIT default. */
const DEFAULT_MAX_LOCK_WAIT_MS = 400;

/**
 * The production guard, opt-in: DDL refused unless `allowDdl`, the lint always runs and blocks, a backup is
 * required, seeds are refused unless forced. The types exclude what contradicts it: with `production` on,
 * `backup` must be configured (not `false`: every change would be refused) and `lint` cannot be `false`.
 */
export type ProductionOptions =
  | { readonly production?: false | undefined }
  | {
      readonly production: true | { readonly allowDdl?: boolean | undefined };
      readonly backup: BackupOptions;
      readonly lint?: true | undefined;
    };

export type MigratorOptions = MigratorBaseOptions & ProductionOptions;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/;

function tableOf(table: MigratorOptions['table'], problems: string[]): TableRef {
  if (table === undefined) return { schema: 'public', table: 'schema_migrations' };
  if (typeof table === 'object') {
    if (!IDENTIFIER.test(table.schema) || !IDENTIFIER.test(table.table))
      problems.push(`table: ${JSON.stringify(table)} is not a table name (letters, digits, _)`);
    return table;
  }
  const parts = table.split('.');
  if (parts.length > 2 || !parts.every((p) => IDENTIFIER.test(p))) {
    problems.push(`table: ${JSON.stringify(table)} is not a table name; use name or schema.name (letters, digits, _)`);
    return { schema: 'public', table: 'schema_migrations' };
  }
  return parts.length === 2 ? { schema: parts[0]!, table: parts[1]! } : { schema: 'public', table: parts[0]! };
}

function folder(value: string | URL, option: string, root: string | undefined, problems: string[]): string {
  if (value instanceof URL || (typeof value === 'string' && value.startsWith('file:'))) return fileURLToPath(value);
  if (isAbsolute(value)) return value;
  if (root !== undefined) return resolve(root, value);
  problems.push(
    `${option}: "${value}" is relative, and the library does not read the working directory; pass an absolute path or a file: URL (new URL('./migrations', import.meta.url)), or set root`,
  );
  return value;
}

function isPool(value: object): value is PoolLike {
  return 'totalCount' in value && typeof (value as PoolLike).connect === 'function';
}

function isClient(value: object): value is ClientLike {
  return typeof (value as ClientLike).query === 'function' && typeof (value as ClientLike).connect === 'function';
}

function connectorOf(database: DatabaseOption | undefined, problems: string[]): Connector {
  if (database === undefined) return noDatabase();
  if (typeof database === 'string') {
    if (!isPostgresUrl(database)) {
      problems.push('database: the string is not a PostgreSQL URL; use postgres://user:password@host:5432/database');
      return noDatabase();
    }
    return paramsConnector(paramsFromUrl(database));
  }
  // Duck-typed: the app's pg may be another copy than the one bundled here, so instanceof would not do.
  if (isPool(database)) return poolConnector(database as never);
  if (isClient(database)) return clientConnector(database as never);
  const p = database as Partial<ConnectionParams> & { database: string };
  if (typeof p.database !== 'string') {
    problems.push(
      'database: give a pg.Pool, a connected pg.Client, a postgres:// URL, or { host, port, user, password, database }',
    );
    return noDatabase();
  }
  const user = p.user ?? 'postgres';
  return paramsConnector({
    host: p.host ?? 'localhost',
    port: p.port ?? 5432,
    user,
    password: p.password,
    database: p.database,
    sslmode: p.sslmode,
    sslrootcert: p.sslrootcert,
    sslcert: p.sslcert,
    sslkey: p.sslkey,
  });
}

/** A migrator made for offline lint only: anything that needs the database says which option is missing. */
function noDatabase(): Connector {
  const missing = () =>
    usageError('no-database', 'This migrator has no database.', {
      hint: 'Pass the database option to createMigrator: a pg.Pool, a pg.Client, a postgres:// URL or connection parameters.',
    });
  return {
    get params(): ConnectionParams {
      throw missing();
    },
    description: '(no database)',
    database: undefined,
    session: () => Promise.reject(missing()),
    side: () => Promise.reject(missing()),
  };
}

/**
 * The migrator as the library hands it out: every MigrateError its methods throw is addressed to the
 * library's user, so its hint names options where the CLI's names flags (error-codes.ts KNOBS). Methods run
 * on the Migrator itself (its #private fields need the real `this`).
 */
function addressedToLibrary(migrator: Migrator): Migrator {
  const address = (error: unknown): never => {
    if (error instanceof MigrateError) error.addressedTo('library');
    throw error;
  };
  return new Proxy(migrator, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        try {
          const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
          return result instanceof Promise ? result.catch(address) : result;
        } catch (error) {
          return address(error);
        }
      };
    },
  });
}

function sourceOf(
  migrations: MigrationsOption,
  root: string | undefined,
  problems: string[],
): { source: MigrationSource; displayRoot: string | undefined } {
  if (Array.isArray(migrations))
    return { source: listSource(migrations as readonly MigrationDefinition[]), displayRoot: root };
  const m = migrations as Exclude<MigrationsOption, readonly MigrationDefinition[]>;
  if ('files' in m) return { source: bundledSource(m.files), displayRoot: root };
  if ('directory' in m) {
    const migrationsDir = folder(m.directory, 'migrations.directory', root, problems);
    const rollbackDir =
      m.rollbackDirectory === undefined
        ? resolve(migrationsDir, '..', 'rollback')
        : folder(m.rollbackDirectory, 'migrations.rollbackDirectory', root, problems);
    // Paths in messages: relative to root, else to the folder that holds the migrations folder.
    const cwd = root ?? resolve(migrationsDir, '..');
    return { source: folderSource({ migrationsDir, rollbackDir, cwd }), displayRoot: cwd };
  }
  if (typeof (m as MigrationSource).load === 'function') return { source: m as MigrationSource, displayRoot: root };
  problems.push(
    'migrations: give { directory }, an array of { version, name, up, down? }, { files: { name: sql } }, or a MigrationSource',
  );
  return { source: listSource([]), displayRoot: root };
}

function seconds(value: number | undefined, option: string, fallback: number, problems: string[]): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0)
    problems.push(`${option}: ${String(value)} must be a number of seconds of at least 0`);
  return value;
}

function count(value: number | undefined, option: string, fallback: number, problems: string[], min = 0): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min)
    problems.push(`${option}: ${String(value)} must be a whole number of at least ${min}`);
  return value;
}

/**
 * Builds a migrator. Nothing connects until a method is called; options are validated here, every problem
 * at once (a ValidationError, code `bad-options`).
 *
 * @example
 * // In a test setup: migrations in memory, a throwaway database.
 * const migrator = createMigrator({
 *   database: 'postgres://postgres@localhost:5432/app_test',
 *   migrations: [{ version: 1, name: 'users', up: 'create table users (id bigint primary key)', down: 'drop table users' }],
 * });
 * await migrator.up();
 */
export function createMigrator(options: MigratorOptions): Migrator {
  const problems: string[] = [];
  const root = options.root;
  if (root !== undefined && !isAbsolute(root)) problems.push(`root: "${root}" must be an absolute path`);
  const words = options.wording === 'cli' ? CLI_WORDING : LIBRARY_WORDING;
  const connector = connectorOf(options.database, problems);
  const { source, displayRoot } = sourceOf(options.migrations, root, problems);
  const table = tableOf(options.table, problems);
  const t = options.timeouts ?? {};
  const timeouts: Timeouts = {
    // Fractions allowed: lock attempts are measured in hundreds of milliseconds (MAX_LOCK_WAIT=0.4).
    lockWaitSeconds: seconds(t.lockWaitSeconds, 'timeouts.lockWaitSeconds', 5, problems),
    statementMs: count(t.statementMs, 'timeouts.statementMs', 0, problems),
    migrationSeconds: count(t.migrationSeconds, 'timeouts.migrationSeconds', 1800, problems),
  };
  const lockRetry =
    typeof options.lockRetries === 'object'
      ? options.lockRetries
      : oltpLockRetry({
          maxLockWaitMs: t.lockWaitSeconds === undefined ? DEFAULT_MAX_LOCK_WAIT_MS : timeouts.lockWaitSeconds * 1000,
          lockRetries: count(options.lockRetries, 'lockRetries', 30, problems),
        });
  const m = options.monitor;
  const ops: OpsPolicy | undefined = m
    ? {
        thresholds: {
          warnBlockedMs: 5000,
          alertBlockedMs: 30_000,
          alertLongRunMs: 600_000,
          ...(m === true ? {} : m.thresholds),
        },
        alerts: { command: undefined, webhookUrl: undefined, timeoutMs: 5000, ...(m === true ? {} : m.alerts) },
      }
    : undefined;
  let backup: BackupPolicy | undefined;
  if (options.backup) {
    const b = options.backup;
    backup = {
      beforeMigrate: b.beforeMigrate ?? true,
      dir: folder(b.directory, 'backup.directory', root, problems),
      retentionDays: count(b.retentionDays, 'backup.retentionDays', 7, problems),
      keep: b.keep === undefined ? undefined : count(b.keep, 'backup.keep', 1, problems, 1),
      uploadCommand: b.uploadCommand,
      pgDumpPath: b.pgDumpPath,
      displayRoot: root ?? displayRoot,
      uploadEnv: b.uploadEnv,
    };
  }
  const production = options.production
    ? { allowDdl: options.production === true ? false : Boolean(options.production.allowDdl) }
    : undefined;
  const seeds = options.seeds
    ? { dir: folder(options.seeds.directory, 'seeds.directory', root, problems), cwd: root ?? displayRoot ?? '/' }
    : undefined;
  const runnerLockWaitMs = count(options.lockWaitMs, 'lockWaitMs', DEFAULT_LOCK_WAIT_MS, problems);
  if (problems.length > 0) {
    throw new ValidationError('bad-options', `Invalid createMigrator options:\n  ${problems.join('\n  ')}`, problems, {
      hint: 'Fix the options above; the README section "Embedding" shows each one.',
    });
  }
  const config: RunConfig = {
    connector,
    source,
    table,
    timeouts,
    lockRetry,
    ops,
    runnerLockWaitMs,
    strategy: options.strategy ?? 'standard',
    backup,
    backupOff: options.backup === false || (backup && !backup.beforeMigrate) ? words.backupOff : undefined,
    lint: options.lint === true,
    lintRules: options.lintRules,
    production,
    seeds,
    root: root ?? displayRoot,
    words,
    onEvent: options.onEvent ?? (() => {}),
    signal: options.signal,
    appliedBy: options.appliedBy ?? whoAmI(),
  };
  const migrator = new Migrator(config);
  return words === CLI_WORDING ? migrator : addressedToLibrary(migrator);
}

export interface WaitForDatabaseOptions {
  /** How long to keep trying; then `db-wait-timeout` (exit code 3). */
  readonly timeoutMs: number;
  /** Ends the wait with `interrupted`. */
  readonly signal?: AbortSignal | undefined;
  /** Called before each pause: what the last attempt said and when the next comes. */
  readonly onWait?: ((notice: WaitNotice) => void) | undefined;
}

/**
 * Resolves once `database` (a postgres:// URL or connection parameters) accepts a connection; what the CLI's
 * `--wait-for-db` does, for an app that starts beside its database. Only what a starting server explains is
 * retried, with capped, jittered backoff; a wrong password, a missing database or a bad URL is thrown at once,
 * since waiting cannot fix it. Its errors are MigrateErrors addressed to the library's user.
 */
export async function waitForDatabase(
  database: string | ConnectionParams,
  options: WaitForDatabaseOptions,
): Promise<void> {
  try {
    const params = typeof database === 'string' ? paramsFromUrl(database) : database;
    await waitForServer(params, { timeoutMs: options.timeoutMs, signal: options.signal, onWait: options.onWait });
  } catch (error) {
    if (error instanceof MigrateError) error.addressedTo('library');
    throw error;
  }
}
