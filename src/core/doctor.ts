/**
 * `migrate doctor`: what an init container or a CI step needs, checked one by one before the real run depends
 * on it. Returns data (the CLI renders it) and leaves nothing behind: the tracking table is created inside a
 * transaction that is rolled back, the lock key is random and released, a backup folder it had to create is
 * removed again.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import type { Settings } from '../config/settings.js';
import { connect, type Client } from '../db/connection.js';
import { describeTable, HistoryStore } from '../db/history.js';
import { describeParams, type ConnectionParams } from '../db/params.js';
import { serverVersionNum } from '../db/introspect.js';
import { quoteTable } from '../db/quote.js';
import { inTransaction } from '../db/transaction.js';
import { MigrateError, ValidationError } from '../errors.js';
import { loadMigrations } from '../source/files.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

/** Stable ids, in the order the checks run and are shown. */
export const CHECK_IDS = [
  'settings',
  'migrations',
  'database',
  'tracking-table',
  'advisory-lock',
  'pooler',
  'pg-dump',
  'backup-dir',
] as const;
export type CheckId = (typeof CHECK_IDS)[number];

export interface DoctorCheck {
  readonly id: CheckId;
  readonly status: CheckStatus;
  /** One line: what was found. */
  readonly message: string;
  /** What to do about a failure or a warning. */
  readonly hint?: string | undefined;
}

export interface DoctorReport {
  /** True when no check failed (warnings and skips do not fail). */
  readonly ok: boolean;
  readonly checks: readonly DoctorCheck[];
}

export interface DoctorOptions {
  /** The settings; throws (a MigrateError) when they do not parse. */
  readonly settings: () => Settings;
  /** The database to check (may start the embedded server); throws when none is configured. */
  readonly connection: (settings: Settings) => Promise<ConnectionParams>;
  /** Free bytes in a folder; statfs when omitted. Injectable so a test can simulate a full disk. */
  readonly freeSpace?: ((dir: string) => Promise<number>) | undefined;
  /** PATH for finding pg_dump; the process's when omitted. */
  readonly searchPath?: string | undefined;
  /** Folders holding N/bin/pg_dump; /usr/lib/postgresql when omitted. */
  readonly installRoots?: readonly string[] | undefined;
}

/** One line per check: a multi-line message (a list of problems) is joined with semicolons. */
function oneLine(text: string): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join('; ')
    .replace(/:;/g, ':');
}

function failure(id: CheckId, error: unknown): DoctorCheck {
  if (error instanceof ValidationError) {
    const lead = error.message.split('\n')[0]!.replace(/:$/, '');
    return { id, status: 'fail', message: `${lead}: ${error.problems.join('; ')}`, hint: error.hint };
  }
  if (error instanceof MigrateError) return { id, status: 'fail', message: oneLine(error.message), hint: error.hint };
  const e = error as { message?: string; code?: string };
  return { id, status: 'fail', message: `${oneLine(e.message ?? String(error))}${e.code ? ` (${e.code})` : ''}` };
}

function skipped(ids: readonly CheckId[], why: string): DoctorCheck[] {
  return ids.map((id) => ({ id, status: 'skip', message: `not checked: ${why}` }));
}

/** Runs every check; never throws for a failed check (that is a `fail` line), only for a bug. */
export async function doctor(options: DoctorOptions): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  const done = (): DoctorReport => ({ ok: checks.every((c) => c.status !== 'fail'), checks });

  let settings: Settings;
  try {
    settings = options.settings();
    const parsed = `parsed: MIGRATE_ENV=${settings.migrateEnv}, tracking table ${describeTable(settings.migrationsTable)}, migrations in ${show(settings, settings.migrationsDir)}`;
    const unread = settings.warnings;
    checks.push(
      unread.length === 0
        ? { id: 'settings', status: 'ok', message: parsed }
        : {
            // A typo runs with the default: the one thing doctor is for (config/unknown.ts).
            id: 'settings',
            status: 'warn',
            message: `${parsed}; not read: ${unread.map((w) => (w.suggestion ? `${w.variable} (${w.suggestion}?)` : w.variable)).join(', ')}`,
            hint: 'A variable tidemark does not read is ignored: fix its name (the warnings above say what each probably means) or remove it.',
          },
    );
  } catch (error) {
    checks.push(failure('settings', error));
    checks.push(...skipped(CHECK_IDS.slice(1), 'the settings did not parse'));
    return done();
  }

  checks.push(await checkMigrations(settings));

  let params: ConnectionParams;
  let client: Client;
  try {
    params = await options.connection(settings);
    client = await connect(params);
  } catch (error) {
    checks.push(failure('database', error));
    checks.push(
      ...skipped(['tracking-table', 'advisory-lock', 'pooler', 'pg-dump', 'backup-dir'], 'no database connection'),
    );
    return done();
  }
  try {
    const { rows } = await client.query<{ version: string; usr: string }>(
      "select split_part(version(), ' on ', 1) as version, current_user as usr",
    );
    const server = rows[0]!;
    const serverNum = await serverVersionNum(client);
    checks.push({
      id: 'database',
      status: 'ok',
      message: `${server.version} answers at ${describeParams(params)} (role ${server.usr})`,
    });
    checks.push(await checkTrackingTable(client, settings));
    checks.push(await checkAdvisoryLock(client));
    checks.push(await checkPooler(client, params));
    checks.push(await checkPgDump(settings, serverNum, options));
    checks.push(await checkBackupDir(client, settings, options));
  } finally {
    await client.end().catch(() => {});
  }
  return done();
}

/** A folder as the user wrote it: relative to the working directory when inside it. */
function show(settings: Settings, path: string): string {
  const rel = relative(settings.cwd, path);
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? path : `./${rel}`;
}

async function checkMigrations(settings: Settings): Promise<DoctorCheck> {
  try {
    const migrations = await loadMigrations({
      migrationsDir: settings.migrationsDir,
      rollbackDir: settings.rollbackDir,
      cwd: settings.cwd,
    });
    const newest = migrations.at(-1);
    return {
      id: 'migrations',
      status: 'ok',
      message: `${migrations.length} migration${migrations.length === 1 ? '' : 's'} load from ${show(settings, settings.migrationsDir)}${newest ? ` (newest ${newest.version}_${newest.name})` : ''}`,
    };
  } catch (error) {
    return failure('migrations', error);
  }
}

/**
 * The runner creates the tracking table on first use, and writes it on every run. An existing table: its
 * shape and the role's privileges on it. A missing one: created in a transaction that is rolled back, which
 * proves the CREATE (schema and table) would succeed without leaving anything behind.
 */
async function checkTrackingTable(client: Client, settings: Settings): Promise<DoctorCheck> {
  const store = new HistoryStore(client, settings.migrationsTable);
  const name = describeTable(settings.migrationsTable);
  try {
    if (await store.exists()) {
      const { rows } = await client.query<{ privilege: string; held: boolean }>(
        `select p as privilege, has_table_privilege($1, p) as held from unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE']) as p`,
        [quoteTable(settings.migrationsTable)],
      );
      const missing = rows.filter((r) => !r.held).map((r) => r.privilege);
      if (missing.length > 0) {
        return {
          id: 'tracking-table',
          status: 'fail',
          message: `${name} exists, but the role lacks ${missing.join(', ')} on it`,
          hint: `Grant them: grant select, insert, update, delete on ${name} to <role>; or run migrations as the table's owner.`,
        };
      }
      return { id: 'tracking-table', status: 'ok', message: `${name} exists and the role can read and write it` };
    }
    await inTransaction(
      client,
      async () => {
        await client.query("set local lock_timeout = '5s'");
        await store.ensure();
      },
      { rollback: true },
    );
    return {
      id: 'tracking-table',
      status: 'ok',
      message: `${name} does not exist yet; the role can create it (tried in a transaction, rolled back)`,
    };
  } catch (thrown) {
    // ensure() words a missing privilege for a run; the check says it its own way, from PostgreSQL's error.
    const error =
      thrown instanceof MigrateError && thrown.code === 'tracking-table-denied' ? (thrown.cause ?? thrown) : thrown;
    const check = failure('tracking-table', error);
    if ((error as { code?: string }).code === '42501') {
      return {
        ...check,
        message: `the role cannot create ${name}: ${check.message}`,
        hint: `Grant CREATE on schema ${settings.migrationsTable.schema} to the role (and CREATE on the database if the schema does not exist), or create the table once as its owner (migrate up does).`,
      };
    }
    return check;
  }
}

/** A random key each run: a lock leaked through a pooler (below) must not collide with a later check's. */
function randomKey(): bigint {
  return randomBytes(8).readBigInt64BE(0);
}

function keyParts(key: bigint): [number, number] {
  const unsigned = BigInt.asUintN(64, key);
  return [Number(unsigned >> 32n), Number(unsigned & 0xffffffffn)];
}

/** The runner serialises on a session advisory lock: can this role take and release one? */
async function checkAdvisoryLock(client: Client): Promise<DoctorCheck> {
  const key = randomKey().toString();
  try {
    const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1::bigint) as ok', [key]);
    if (rows[0]?.ok !== true) {
      return {
        id: 'advisory-lock',
        status: 'fail',
        message: 'pg_try_advisory_lock returned false for a fresh random key',
        hint: 'Check max_locks_per_transaction and whether advisory locks are restricted on this server.',
      };
    }
    await client.query('select pg_advisory_unlock($1::bigint)', [key]);
    return { id: 'advisory-lock', status: 'ok', message: 'a session advisory lock can be taken and released' };
  } catch (error) {
    return failure('advisory-lock', error);
  }
}

/**
 * A pooler in transaction mode (PgBouncer's pool_mode=transaction, and most managed "pooled" endpoints) hands
 * each transaction to whichever server connection is free, so a session advisory lock is taken on one backend
 * and the next statement may run on another: the runner lock then protects nothing. Three signs, any of which
 * proves it: a second client lands on the backend the first one just used (a direct connection is one backend
 * per client); the first client's next query runs on another backend; or that backend does not hold the lock.
 * A pooler that happens to keep the one client on one backend while nothing else runs can go unseen.
 */
async function checkPooler(client: Client, params: ConnectionParams): Promise<DoctorCheck> {
  const key = randomKey();
  const [high, low] = keyParts(key);
  let other: Client | undefined;
  try {
    const first = await client.query<{ pid: number; ok: boolean }>(
      'select pg_backend_pid() as pid, pg_try_advisory_lock($1::bigint) as ok',
      [key.toString()],
    );
    other = await connect(params);
    const second = await other.query<{ pid: number }>('select pg_backend_pid() as pid');
    const again = await client.query<{ pid: number; held: boolean }>(
      `select pg_backend_pid() as pid,
              exists (select 1 from pg_catalog.pg_locks
                       where locktype = 'advisory' and granted and objsubid = 1 and pid = pg_backend_pid()
                         and classid = $1::bigint::oid and objid = $2::bigint::oid) as held`,
      [high, low],
    );
    await client.query('select pg_advisory_unlock($1::bigint)', [key.toString()]).catch(() => {});
    const pidA = first.rows[0]!.pid;
    const pidB = second.rows[0]!.pid;
    const pidA2 = again.rows[0]!.pid;
    const signs: string[] = [];
    if (pidB === pidA) signs.push(`a second connection ran on the same backend (pid ${pidA})`);
    if (pidA2 !== pidA) signs.push(`two queries on one connection ran on backends ${pidA} and ${pidA2}`);
    else if (!again.rows[0]!.held) signs.push('a session advisory lock taken by one query was gone in the next');
    if (signs.length > 0) {
      return {
        id: 'pooler',
        status: 'fail',
        message: `a pooler in transaction mode is between us and PostgreSQL: ${signs.join('; ')}. Session advisory locks (the runner lock) do not work through it`,
        hint: 'Point DATABASE_URL for migrations at PostgreSQL directly, or at a pool in session mode (PgBouncer pool_mode=session; the direct, non-pooled endpoint of a managed database).',
      };
    }
    return {
      id: 'pooler',
      status: 'ok',
      message: 'no transaction-mode pooler seen: one backend per connection, session locks persist',
    };
  } catch (error) {
    return failure('pooler', error);
  } finally {
    await other?.end().catch(() => {});
  }
}

/** pg_dump found, and of a major that can dump this server. Only a warning while backups are off. */
async function checkPgDump(settings: Settings, serverVersionNum: number, options: DoctorOptions): Promise<DoctorCheck> {
  try {
    const { findPgTools, majorOf } = await import('../backup/tools.js');
    const tools = await findPgTools({
      explicitPath: settings.pgDumpPath,
      serverVersionNum,
      searchPath: options.searchPath,
      ...(options.installRoots ? { installRoots: options.installRoots } : {}),
    });
    return {
      id: 'pg-dump',
      status: 'ok',
      message: `${tools.pgDump.path} (${tools.pgDump.version.text}) can dump a PostgreSQL ${majorOf(serverVersionNum)} server`,
    };
  } catch (error) {
    return softenWhenBackupsOff(failure('pg-dump', error), settings);
  }
}

function softenWhenBackupsOff(check: DoctorCheck, settings: Settings): DoctorCheck {
  if (check.status !== 'fail' || settings.backupBeforeMigrate) return check;
  return {
    ...check,
    status: 'warn',
    message: `${check.message} (only a warning: BACKUP_BEFORE_MIGRATE=false, but migrate backup would fail)`,
  };
}

/**
 * The backup folder: writable (a file is created and removed in it) and larger in free space than the
 * database, the same checks the backup step makes. A folder that does not exist yet is created for the check
 * (as the backup step would) and removed again.
 */
async function checkBackupDir(client: Client, settings: Settings, options: DoctorOptions): Promise<DoctorCheck> {
  const dir = settings.backupDir;
  let created: string | undefined;
  try {
    const existed = await fsp.stat(dir).then(
      () => true,
      () => false,
    );
    if (!existed) created = await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    const { ensureBackupDir, checkRoom, formatBytes } = await import('../backup/room.js');
    await ensureBackupDir(dir);
    const room = await checkRoom(client, dir, options.freeSpace);
    return {
      id: 'backup-dir',
      status: 'ok',
      message: `${show(settings, dir)} ${existed ? 'is writable' : 'does not exist yet and can be created and written'}: ${formatBytes(room.freeBytes)} free for a ${formatBytes(room.databaseBytes)} database`,
    };
  } catch (error) {
    return softenWhenBackupsOff(failure('backup-dir', error), settings);
  } finally {
    if (created !== undefined) await fsp.rm(created, { recursive: true, force: true }).catch(() => {});
  }
}
