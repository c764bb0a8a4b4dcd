/**
 * The whole backup step that `migrate up/down` (before migrating) and `migrate backup` run:
 * take + validate, upload, record in db_backups, prune. Its order is the point: the upload runs before the
 * record so a failed upload leaves the database untouched (no log table created, no row), and pruning runs
 * last, only after a new backup exists everywhere it should.
 */
import type { TableRef } from '../config/settings.js';
import { MigrateError } from '../errors.js';
import { BackupLog } from './log.js';
import { latestTrackedVersion } from './restore.js';
import { applyRetention } from './retention.js';
import { closeQuietly, openClient } from './session.js';
import { takeBackup, type Backup, type TakeBackupOptions } from './take.js';
import { runUpload } from './upload.js';

export interface BackupStepOptions extends TakeBackupOptions {
  /** MIGRATIONS_TABLE; db_backups goes in its schema. */
  readonly trackingTable: TableRef;
  /** BACKUP_RETENTION_DAYS (0 = no age limit). */
  readonly retentionDays: number;
  /** BACKUP_KEEP. */
  readonly keep?: number | undefined;
  /** BACKUP_UPLOAD_COMMAND. */
  readonly uploadCommand?: string | undefined;
  /** Environment of the upload command; the parent's when omitted. */
  readonly uploadEnv?: NodeJS.ProcessEnv | undefined;
}

export interface BackupReport extends Backup {
  /** The upload command's argv, when one ran. */
  readonly uploadedWith: readonly string[] | undefined;
  /** Old backups deleted by retention (file names in the backup folder). */
  readonly pruned: readonly string[];
}

/**
 * Takes, proves, uploads, records and prunes. Throws MigrateError (exit 1, or 3 when the database cannot be
 * reached); on any throw before the upload nothing was written anywhere.
 *
 * @example
 *   const report = await backupDatabase({
 *     params, dir: settings.backupDir, versionBefore: '004', pgDumpPath: settings.pgDumpPath,
 *     trackingTable: settings.migrationsTable, retentionDays: settings.backupRetentionDays,
 *     keep: settings.backupKeep, uploadCommand: settings.backupUploadCommand,
 *     onEvent: (e) => render(e),
 *   });
 */
export async function backupDatabase(options: BackupStepOptions): Promise<BackupReport> {
  const emit = options.onEvent ?? (() => {});
  let client = await openClient(options.params);
  try {
    await new BackupLog(client, options.trackingTable).check();
  } finally {
    await closeQuietly(client);
  }

  const backup = await takeBackup(options);
  const since = Date.now() - backup.durationMs;

  let uploadedWith: readonly string[] | undefined;
  if (options.uploadCommand !== undefined) {
    emit({ type: 'phase', phase: 'upload', elapsedMs: Date.now() - since });
    uploadedWith = (
      await runUpload({
        command: options.uploadCommand,
        file: backup.path,
        env: options.uploadEnv,
        signal: options.signal,
        onSpawn: (pid) => emit({ type: 'spawn', program: 'upload', pid }),
      })
    ).argv;
  }

  emit({ type: 'phase', phase: 'record', elapsedMs: Date.now() - since });
  client = await openClient(options.params);
  try {
    await new BackupLog(client, options.trackingTable).record({ ...backup, durationMs: Date.now() - since });
  } catch (error) {
    if (error instanceof MigrateError) throw error;
    throw new MigrateError(
      'backup-log-failed',
      `The backup ${backup.fileName} is valid but could not be recorded in db_backups: ${(error as Error).message}.`,
      {
        cause: error,
        hint: "The file is kept. Check that the user may create tables in the tracking table's schema.",
      },
    );
  } finally {
    await closeQuietly(client);
  }

  emit({ type: 'phase', phase: 'retention', elapsedMs: Date.now() - since });
  const { deleted } = await applyRetention({
    dir: options.dir,
    database: options.params.database,
    retentionDays: options.retentionDays,
    keep: options.keep,
    protect: backup.fileName,
    now: options.now?.(),
  });
  return { ...backup, uploadedWith, pruned: deleted, durationMs: Date.now() - since };
}

/** The backups recorded in db_backups, newest first ([] when the table does not exist). */
export async function listBackups(
  params: TakeBackupOptions['params'],
  trackingTable: TableRef,
  limit = 100,
): Promise<Awaited<ReturnType<BackupLog['list']>>> {
  const client = await openClient(params);
  try {
    return await new BackupLog(client, trackingTable).list(limit);
  } finally {
    await closeQuietly(client);
  }
}

/** The latest version in the tracking table of the database (null when none): `versionBefore` for `migrate backup`. */
export async function currentVersion(
  params: TakeBackupOptions['params'],
  trackingTable: TableRef,
): Promise<string | null> {
  const client = await openClient(params);
  try {
    return await latestTrackedVersion(client, trackingTable);
  } finally {
    await closeQuietly(client);
  }
}
