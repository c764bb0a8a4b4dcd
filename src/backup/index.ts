/**
 * backup/: pg_dump and pg_restore as an adapter (STYLE 8). Everything here takes explicit inputs (connection
 * params, folders, settings values) and reports through events; nothing reads flags or settings or prints.
 *
 *   backupDatabase()  the whole step before up/down and for `migrate backup`: take, prove, upload, record, prune
 *   takeBackup()      take and prove one dump (no upload, record or prune)
 *   restoreBackup()   `migrate restore FILE --into DB [--force]`
 *   listBackups()     `migrate backup --list`
 */
export { backupDatabase, currentVersion, listBackups, type BackupReport, type BackupStepOptions } from './step.js';
export {
  takeBackup,
  validateArchive,
  type Backup,
  type BackupEvent,
  type BackupPhase,
  type TakeBackupOptions,
} from './take.js';
export { restoreBackup, latestTrackedVersion, type RestoreOptions, type RestoreResult } from './restore.js';
export { BackupLog, BACKUP_LOG_TABLE, type BackupRecord, type LoggedBackup } from './log.js';
export { applyRetention, planRetention, type RetentionOptions, type RetentionResult } from './retention.js';
export { runUpload, splitCommand, FILE_PLACEHOLDER, type UploadOptions, type UploadResult } from './upload.js';
export {
  findPgTools,
  assertCanDump,
  serverVersion,
  parseToolVersion,
  clientPackage,
  type FindToolsOptions,
  type PgTool,
  type PgTools,
  type PgVersion,
  type ServerVersion,
} from './tools.js';
export { checkRoom, ensureBackupDir, statfsProbe, formatBytes, type FreeSpaceProbe, type RoomCheck } from './room.js';
export { backupFileName, parseBackupFileName, NO_VERSION, type ParsedBackupName } from './naming.js';
export { scanArchive, ArchiveDefect, type ArchiveScan, type ArchiveEntry } from './archive.js';
