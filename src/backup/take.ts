/**
 * Taking one backup: check the tools and the room, pg_dump -Fc under a temporary name, prove the file, and
 * only then give it its real name. Any failure removes the file and throws (exit 1); nothing else changed.
 *
 * The table list that the archive is checked against is read in the very snapshot pg_dump dumps: tidemark
 * opens a REPEATABLE READ transaction, exports its snapshot and hands it to pg_dump --snapshot, so a table
 * created or dropped by someone else during the dump cannot make a good backup look bad, or the reverse.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { libpqChildEnv, type ConnectionParams } from '../db/params.js';
import { MigrateError } from '../errors.js';
import { ArchiveDefect, parseTableDataLines, scanArchive, sha256File, UnknownArchiveVersion } from './archive.js';
import { describeExit, runProgram, SpawnError, type RunResult } from './process.js';
import { checkRoom, ensureBackupDir, statfsProbe, type FreeSpaceProbe } from './room.js';
import { closeQuietly, openClient } from './session.js';
import { compareTableData, qualified, tablesWithData, type DumpedTable } from './tables.js';
import { assertCanDump, serverVersion, toolsFor, type PgTools } from './tools.js';
import { backupFileName, partialFileName } from './naming.js';

export type BackupPhase = 'check' | 'dump' | 'validate' | 'upload' | 'record' | 'retention' | 'restore';

/** What the backup module reports while it works; the CLI renders it (spinner on a TTY, one line otherwise). */
export type BackupEvent =
  | { readonly type: 'phase'; readonly phase: BackupPhase; readonly elapsedMs: number }
  /** Bytes of the dump file written so far, every progressIntervalMs while pg_dump runs. */
  | { readonly type: 'progress'; readonly bytes: number; readonly elapsedMs: number }
  | { readonly type: 'spawn'; readonly program: string; readonly pid: number };

export interface TakeBackupOptions {
  /** The database to dump. The password reaches pg_dump through its environment only. */
  readonly params: ConnectionParams;
  /** BACKUP_DIR, absolute. Created 0700 when absent. */
  readonly dir: string;
  /** The latest applied version before the change (goes into the file name and the log); null when none. */
  readonly versionBefore: string | null;
  /** PG_DUMP_PATH. Ignored when `tools` is given. */
  readonly pgDumpPath?: string | undefined;
  /** Tools already found by findPgTools (they are still checked against the server). */
  readonly tools?: PgTools | undefined;
  /** Free-space probe of `dir`; statfs by default. */
  readonly freeSpace?: FreeSpaceProbe | undefined;
  readonly onEvent?: ((event: BackupEvent) => void) | undefined;
  /** Aborting kills pg_dump and removes the partial file; the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
  /** pg_dump --lock-wait-timeout: fail instead of waiting behind a long lock. Off when undefined. */
  readonly lockWaitTimeoutMs?: number | undefined;
  readonly progressIntervalMs?: number | undefined;
  /** Clock, for the file name. */
  readonly now?: (() => Date) | undefined;
  /** Where findPgTools searches; tests only. */
  readonly searchPath?: string | undefined;
  readonly installRoots?: readonly string[] | undefined;
}

export interface Backup {
  /** Absolute path of the validated file. */
  readonly path: string;
  readonly fileName: string;
  readonly database: string;
  readonly createdAt: Date;
  readonly versionBefore: string | null;
  readonly sizeBytes: number;
  readonly sha256: string;
  /** The pg_dump version that wrote the file, e.g. "15.4 (Debian 15.4-1.pgdg120+1)". */
  readonly pgDumpVersion: string;
  /** Tables whose data the archive holds (schema.name), as checked. */
  readonly tables: readonly string[];
  readonly dumpMs: number;
  readonly validateMs: number;
  readonly durationMs: number;
}

function invalid(message: string, details: Record<string, unknown>, cause?: unknown): MigrateError {
  return new MigrateError('backup-invalid', `The backup failed validation and was removed: ${message}.`, {
    hint: 'Nothing was changed. Check the disk and the pg_dump binary (PG_DUMP_PATH), then run again.',
    details,
    cause,
  });
}

function listSome(names: readonly string[]): string {
  return names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')} and ${names.length - 5} more`;
}

/** Exports the current snapshot of a REPEATABLE READ transaction; undefined where that is not possible. */
async function exportSnapshot(client: pg.Client): Promise<string | undefined> {
  await client.query('begin isolation level repeatable read read only');
  try {
    // The session idles in its transaction for the whole dump: a role's or database's
    // idle_in_transaction_session_timeout shorter than the dump would end it (pg_dump sets the same for its own).
    const { rows } = await client.query<{ id: string }>(
      `select set_config('idle_in_transaction_session_timeout', '0', true), pg_export_snapshot() as id`,
    );
    return rows[0]?.id;
  } catch {
    // e.g. a standby before PostgreSQL 10: list the tables just before the dump instead (a small race).
    await client.query('rollback');
    return undefined;
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await fsp.open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the file itself was synced by pg_dump.
  }
}

/**
 * Takes and validates one backup. Does not upload, record or prune (see backupDatabase for the whole step).
 *
 * @example
 *   const backup = await takeBackup({ params, dir: settings.backupDir, versionBefore: '004', pgDumpPath: settings.pgDumpPath });
 */
export async function takeBackup(options: TakeBackupOptions): Promise<Backup> {
  const started = Date.now();
  const emit = options.onEvent ?? (() => {});
  const elapsed = () => Date.now() - started;
  const { params, dir } = options;
  emit({ type: 'phase', phase: 'check', elapsedMs: 0 });

  let client: pg.Client | undefined = await openClient(params);
  let partial: string | undefined;
  try {
    const server = await serverVersion(client);
    const tools = await toolsFor(server, options);
    if (options.tools) assertCanDump(tools, server);
    await ensureBackupDir(dir);
    await checkRoom(client, dir, options.freeSpace ?? statfsProbe);

    const requestedAt = options.now?.() ?? new Date();
    const partialName = partialFileName(backupFileName(params.database, requestedAt, options.versionBefore));
    partial = join(dir, partialName);
    // Created here with 0600 so the dump is never readable by others, not even while pg_dump writes it
    // (pg_dump opens an existing file without changing its mode).
    await (await fsp.open(partial, 'wx', 0o600)).close();

    const snapshot = await exportSnapshot(client);
    const tables = await tablesWithData(client);

    emit({ type: 'phase', phase: 'dump', elapsedMs: elapsed() });
    const dumpStarted = Date.now();
    const args = ['--format=custom', `--file=${partial}`, '--no-password'];
    if (snapshot !== undefined) args.push(`--snapshot=${snapshot}`);
    if (options.lockWaitTimeoutMs !== undefined) args.push(`--lock-wait-timeout=${options.lockWaitTimeoutMs}`);
    const file = partial;
    let dumping = true;
    // One stat at a time: under load two overlapping stats can answer out of order, and the size reported
    // would go backwards.
    let statting = false;
    const ticker = setInterval(() => {
      if (statting) return;
      statting = true;
      fsp.stat(file).then(
        (s) => {
          statting = false;
          if (dumping) emit({ type: 'progress', bytes: s.size, elapsedMs: elapsed() });
        },
        () => {
          statting = false;
        },
      );
    }, options.progressIntervalMs ?? 250);
    let dump: RunResult;
    try {
      dump = await runProgram(tools.pgDump.path, args, {
        env: libpqChildEnv(params),
        signal: options.signal,
        secrets: [params.password],
        onSpawn: (pid) => emit({ type: 'spawn', program: 'pg_dump', pid }),
      });
    } catch (error) {
      if (error instanceof SpawnError) {
        throw new MigrateError('backup-dump-failed', `Could not start ${tools.pgDump.path}: ${error.errno}.`, {
          cause: error,
        });
      }
      throw error;
    } finally {
      dumping = false;
      clearInterval(ticker);
      if (snapshot !== undefined) await client.query('commit').catch(() => {});
    }
    const dumpMs = Date.now() - dumpStarted;
    if (dump.code !== 0) {
      throw new MigrateError(
        'backup-dump-failed',
        `pg_dump failed (${describeExit(dump)})${dump.stderr ? `: ${dump.stderr}` : '.'}`,
        {
          hint: "Nothing was changed. The message above is pg_dump's own; fix its cause and run again.",
          details: { pgDump: tools.pgDump.path, exitCode: dump.code, stderr: dump.stderr },
        },
      );
    }
    await closeQuietly(client);
    client = undefined;

    emit({ type: 'phase', phase: 'validate', elapsedMs: elapsed() });
    const validateStarted = Date.now();
    const proof = await validateArchive(tools, file, tables, options.signal);
    const validateMs = Date.now() - validateStarted;

    await fsp.chmod(file, 0o600);
    const { fileName, createdAt } = await claimName(file, dir, params.database, requestedAt, options.versionBefore);
    const finalPath = join(dir, fileName);
    partial = undefined;
    await syncDir(dir);
    return {
      path: finalPath,
      fileName,
      database: params.database,
      createdAt,
      versionBefore: options.versionBefore,
      sizeBytes: proof.sizeBytes,
      sha256: proof.sha256,
      pgDumpVersion: proof.pgDumpVersion ?? tools.pgDump.version.text.replace(/^.*\(PostgreSQL\)\s*/, ''),
      tables: tables.map(qualified),
      dumpMs,
      validateMs,
      durationMs: elapsed(),
    };
  } finally {
    await closeQuietly(client);
    if (partial !== undefined) await fsp.rm(partial, { force: true });
  }
}

/**
 * Gives the validated file its final name without ever replacing another backup: two backups within the
 * same second (same version) would share a name, so the stamp moves on by a second until a name is free.
 * fsp.link() fails with EEXIST atomically where fsp.rename() would silently replace; rename is the fallback on
 * filesystems without hard links.
 */
async function claimName(
  file: string,
  dir: string,
  database: string,
  at: Date,
  versionBefore: string | null,
): Promise<{ fileName: string; createdAt: Date }> {
  for (let shift = 0; ; shift++) {
    const createdAt = new Date(at.getTime() + shift * 1000);
    const fileName = backupFileName(database, createdAt, versionBefore);
    const target = join(dir, fileName);
    try {
      await fsp.link(file, target);
      await fsp.unlink(file);
      return { fileName, createdAt };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && shift < 120) continue;
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EXDEV' || code === 'ENOSYS') {
        const taken = await fsp.stat(target).then(
          () => true,
          () => false,
        );
        if (taken && shift < 120) continue;
        await fsp.rename(file, target);
        return { fileName, createdAt };
      }
      throw error;
    }
  }
}

interface Proof {
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly pgDumpVersion: string | null;
}

/**
 * Proves an archive: pg_restore --list parses it, its TABLE DATA entries are exactly `tables` (by oid and
 * name), and its block structure is complete (scanArchive, which also yields the sha256). The two run side by
 * side: one is pg_restore's work, the other one sequential read.
 */
export async function validateArchive(
  tools: PgTools,
  file: string,
  tables: readonly DumpedTable[],
  signal?: AbortSignal,
): Promise<Proof> {
  const size = (await fsp.stat(file)).size;
  if (size === 0) throw invalid('pg_dump wrote an empty file', { file });

  const listing = runProgram(tools.pgRestore.path, ['--list', file], { captureStdout: true, signal });
  const scanning = scanArchive(file).then(
    (scan) => ({ ok: true as const, scan }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  const [list, scanned] = await Promise.all([listing, scanning]);

  if (list.code !== 0) {
    throw invalid(`pg_restore --list cannot read it (${describeExit(list)}: ${list.stderr || 'no message'})`, {
      file,
      stderr: list.stderr,
    });
  }
  let proof: Proof;
  if (scanned.ok) {
    proof = {
      sizeBytes: scanned.scan.sizeBytes,
      sha256: scanned.scan.sha256,
      pgDumpVersion: scanned.scan.pgDumpVersion,
    };
  } else if (scanned.error instanceof ArchiveDefect) {
    throw invalid(scanned.error.message, { file }, scanned.error);
  } else if (scanned.error instanceof UnknownArchiveVersion) {
    // A newer archive version than scanArchive knows: let pg_restore read every block instead (slower).
    const [full, hash] = await Promise.all([
      runProgram(tools.pgRestore.path, ['--file=/dev/null', file], { signal }),
      sha256File(file),
    ]);
    if (full.code !== 0)
      throw invalid(`pg_restore cannot read all of it (${full.stderr || describeExit(full)})`, { file });
    proof = { ...hash, pgDumpVersion: null };
  } else {
    throw scanned.error;
  }

  const listed = parseTableDataLines(list.stdout);
  const { missing, unexpected } = compareTableData(tables, listed);
  if (missing.length > 0 || unexpected.length > 0) {
    const parts = [];
    if (missing.length > 0) parts.push(`no table data for ${listSome(missing)}`);
    if (unexpected.length > 0) parts.push(`table data for unknown ${listSome(unexpected)}`);
    throw invalid(`it does not match the database's ${tables.length} tables: ${parts.join('; ')}`, {
      file,
      expectedTables: tables.length,
      tableDataEntries: listed.length,
      missing,
      unexpected,
    });
  }
  return proof;
}
