/**
 * Restoring a backup file into a database, and proving the result.
 *
 * Into a new database (the normal case): tidemark creates it from template0 (pg_restore's advice: template1
 * may carry local additions that collide with the dump), restores, compares the restored tables with the
 * archive's TABLE DATA entries, and reads the restored tracking table's latest version. A failed restore drops
 * the database it created. An existing database is used only when it is empty.
 *
 * Over an existing non-empty database (`force`, which the CLI grants only after a typed confirmation or
 * --yes): the file is restored into a scratch database first and checked there; only then are the two
 * swapped by renaming, and the old one is kept under `<name>_before_restore_<stamp>`. pg_restore --clean over
 * the live database was rejected: it leaves every object the dump does not know (a table a later migration
 * created), and a failure half-way leaves a mix of both.
 */
import { promises as fsp } from 'node:fs';
import type pg from 'pg';
import type { TableRef } from '../config/settings.js';
import { libpqChildEnv, withDatabase, type ConnectionParams } from '../db/params.js';
import { HistoryStore } from '../db/history.js';
import { quoteIdent } from '../db/quote.js';
import { MigrateError, usageError } from '../errors.js';
import { ArchiveDefect, expectedLabel, parseTableDataLines, scanArchive, UnknownArchiveVersion } from './archive.js';
import { utcStamp } from './naming.js';
import { describeExit, runProgram } from './process.js';
import { closeQuietly, openClient } from './session.js';
import { tablesWithData } from './tables.js';
import type { BackupEvent } from './take.js';
import { serverVersion, toolsFor, type PgTools } from './tools.js';

export interface RestoreOptions {
  /** The backup file (custom format). */
  readonly file: string;
  /** The configured connection; `into` is a database on the same server. */
  readonly params: ConnectionParams;
  /** Target database name. */
  readonly into: string;
  /** Restore over an existing non-empty database (swap; the old one is kept). The caller confirms first. */
  readonly force?: boolean | undefined;
  /** MIGRATIONS_TABLE, read in the restored database to tell its version. */
  readonly trackingTable: TableRef;
  /** Database to connect to for CREATE/ALTER DATABASE; `postgres` by default. */
  readonly maintenanceDatabase?: string | undefined;
  /** pg_restore --jobs (parallel restore); 1 by default. */
  readonly jobs?: number | undefined;
  readonly pgDumpPath?: string | undefined;
  readonly tools?: PgTools | undefined;
  readonly searchPath?: string | undefined;
  readonly installRoots?: readonly string[] | undefined;
  readonly onEvent?: ((event: BackupEvent) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly now?: (() => Date) | undefined;
}

export interface RestoreResult {
  readonly database: string;
  /** True when tidemark created the target database. */
  readonly created: boolean;
  /** With force: the name the previous database now has. */
  readonly previousDatabase: string | undefined;
  /** Restored tables with data (schema.name). */
  readonly tables: readonly string[];
  /** Latest version in the restored tracking table; null when it is empty or absent. */
  readonly version: string | null;
  readonly durationMs: number;
}

const MAX_NAME = 63;

/** A database name of at most 63 bytes: `<base>_<suffix>` with the base cut as needed. */
function derivedName(base: string, suffix: string): string {
  let cut = base;
  while (Buffer.byteLength(`${cut}_${suffix}`) > MAX_NAME) cut = cut.slice(0, -1);
  return `${cut}_${suffix}`;
}

/** libpq conninfo value quoting, so a database name is never read as a URL or as key=value pairs. */
function conninfoDbname(name: string): string {
  return `dbname='${name.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

async function adminClient(params: ConnectionParams, maintenance: string | undefined): Promise<pg.Client> {
  try {
    return await openClient(withDatabase(params, maintenance ?? 'postgres'), 'tidemark-restore');
  } catch (error) {
    if (maintenance !== undefined) throw error;
    return openClient(params, 'tidemark-restore');
  }
}

async function databaseExists(admin: pg.Client, name: string): Promise<boolean> {
  const { rows } = await admin.query('select 1 from pg_database where datname = $1', [name]);
  return rows.length > 0;
}

/** Objects a restore would collide with: relations, types, functions outside the system schemas, or schemas other than public. */
async function isEmpty(params: ConnectionParams): Promise<boolean> {
  const client = await openClient(params, 'tidemark-restore');
  try {
    const { rows } = await client.query<{ n: string }>(
      `select (select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
                where n.nspname <> 'information_schema' and n.nspname !~ '^pg_')
            + (select count(*) from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                where n.nspname <> 'information_schema' and n.nspname !~ '^pg_')
            + (select count(*) from pg_namespace n where n.nspname not in ('public', 'information_schema') and n.nspname !~ '^pg_')
            as n`,
    );
    return Number(rows[0]?.n ?? 0) === 0;
  } finally {
    await closeQuietly(client);
  }
}

/**
 * The newest version in a tracking table (numeric order of the leading-digits versions); null when the table
 * is absent or empty. Used for the restored database, and for the version a backup is taken "before".
 */
export function latestTrackedVersion(client: pg.Client, ref: TableRef): Promise<string | null> {
  return new HistoryStore(client, ref).latestVersion();
}

async function dropDatabase(admin: pg.Client, name: string): Promise<void> {
  await admin.query(`drop database if exists ${quoteIdent(name)} with (force)`).catch(() => {});
}

/** Renames `from` to `to` after closing the sessions on `from`; retries when a client reconnects in between. */
async function renameDatabase(admin: pg.Client, from: string, to: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await admin.query(
      'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [from],
    );
    try {
      await admin.query(`alter database ${quoteIdent(from)} rename to ${quoteIdent(to)}`);
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== '55006' || attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

/**
 * Restores `file` into `into` and proves it. Throws MigrateError: `restore-file-not-found` (exit 2),
 * `restore-target-not-empty` (exit 2, without force), `restore-invalid-archive`, `restore-failed`,
 * `restore-mismatch` (exit 1).
 *
 * @example
 *   const result = await restoreBackup({ file, params, into: 'app_copy', trackingTable: settings.migrationsTable });
 *   // result.version: the version the restored database is at
 */
export async function restoreBackup(options: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const emit = options.onEvent ?? (() => {});
  const { file, params, into } = options;
  emit({ type: 'phase', phase: 'check', elapsedMs: 0 });

  try {
    if (!(await fsp.stat(file)).isFile()) throw new Error('not a file');
  } catch {
    throw usageError('restore-file-not-found', `The backup file ${file} does not exist or is not a file.`);
  }
  try {
    await scanArchive(file);
  } catch (error) {
    if (error instanceof ArchiveDefect) {
      throw new MigrateError('restore-invalid-archive', `${file} is not a usable backup: ${error.message}.`, {
        hint: 'Nothing was changed. Use another backup (migrate backup --list shows them).',
        cause: error,
      });
    }
    if (!(error instanceof UnknownArchiveVersion)) throw error;
  }

  const admin = await adminClient(params, options.maintenanceDatabase);
  let scratch: string | undefined;
  let created = false;
  /** The database this call created, dropped again if anything fails. */
  let dropOnFailure: string | undefined;
  try {
    const server = await serverVersion(admin);
    const tools = await toolsFor(server, options);

    const listing = await runProgram(tools.pgRestore.path, ['--list', file], {
      captureStdout: true,
      signal: options.signal,
    });
    if (listing.code !== 0) {
      throw new MigrateError(
        'restore-invalid-archive',
        `pg_restore cannot read ${file}: ${listing.stderr || describeExit(listing)}.`,
        {
          hint: 'Nothing was changed.',
        },
      );
    }
    const expected = parseTableDataLines(listing.stdout).map((t) => t.label);

    let target = into;
    const stamp = utcStamp(options.now?.() ?? new Date());
    if (await databaseExists(admin, into)) {
      if (!(await isEmpty(withDatabase(params, into)))) {
        if (!options.force) {
          throw usageError(
            'restore-target-not-empty',
            `The database "${into}" exists and is not empty; tidemark restores only into a new or empty database.`,
            {
              hint: `Restore into a new name (--into ${into}_restored), or pass --force to replace it (its current content is kept as ${derivedName(into, `before_restore_${stamp}`)}).`,
            },
          );
        }
        scratch = derivedName(into, `restore_${stamp}`);
        target = scratch;
      }
    } else {
      created = true;
    }
    if (target !== into || created) {
      await admin.query(`create database ${quoteIdent(target)} template template0`);
      dropOnFailure = target;
    }

    emit({ type: 'phase', phase: 'restore', elapsedMs: Date.now() - started });
    const args = ['--exit-on-error', '--no-password', `--dbname=${conninfoDbname(target)}`];
    if (options.jobs !== undefined && options.jobs > 1) args.push(`--jobs=${options.jobs}`);
    // An existing (empty) database cannot be dropped on failure, so restore it all-or-nothing instead.
    else if (dropOnFailure === undefined) args.push('--single-transaction');
    args.push(file);
    const run = await runProgram(tools.pgRestore.path, args, {
      env: libpqChildEnv(withDatabase(params, target)),
      signal: options.signal,
      secrets: [params.password],
      onSpawn: (pid) => emit({ type: 'spawn', program: 'pg_restore', pid }),
    });
    if (run.code !== 0) {
      throw new MigrateError(
        'restore-failed',
        `pg_restore failed (${describeExit(run)})${run.stderr ? `: ${run.stderr}` : '.'}`,
        {
          hint: dropOnFailure
            ? 'The database tidemark created for the restore was dropped; nothing else changed.'
            : undefined,
          details: { stderr: run.stderr, database: target },
        },
      );
    }

    emit({ type: 'phase', phase: 'validate', elapsedMs: Date.now() - started });
    const restored = await openClient(withDatabase(params, target), 'tidemark-restore');
    let tables;
    let version;
    try {
      tables = await tablesWithData(restored);
      version = await latestTrackedVersion(restored, options.trackingTable);
    } finally {
      await closeQuietly(restored);
    }
    const got = tables.map((t) => expectedLabel(t.schema, t.name, t.owner)).sort();
    const want = [...expected].sort();
    const missing = want.filter((l) => !got.includes(l));
    const extra = got.filter((l) => !want.includes(l));
    if (missing.length > 0 || extra.length > 0) {
      throw new MigrateError(
        'restore-mismatch',
        `The restored database does not hold the tables of the backup: ${[
          missing.length ? `missing ${missing.join(', ')}` : '',
          extra.length ? `unexpected ${extra.join(', ')}` : '',
        ]
          .filter(Boolean)
          .join('; ')}.`,
        { details: { missing, unexpected: extra } },
      );
    }

    let previousDatabase: string | undefined;
    if (scratch !== undefined) {
      previousDatabase = derivedName(into, `before_restore_${stamp}`);
      await renameDatabase(admin, into, previousDatabase);
      try {
        await renameDatabase(admin, scratch, into);
      } catch (error) {
        // Put the original back under its name before the scratch copy is dropped.
        await renameDatabase(admin, previousDatabase, into).catch(() => {});
        throw error;
      }
    }
    dropOnFailure = undefined;
    return {
      database: into,
      created,
      previousDatabase,
      tables: tables.map((t) => `${t.schema}.${t.name}`),
      version,
      durationMs: Date.now() - started,
    };
  } catch (error) {
    if (dropOnFailure !== undefined) await dropDatabase(admin, dropOnFailure);
    throw error;
  } finally {
    await closeQuietly(admin);
  }
}
