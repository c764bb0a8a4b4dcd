import type { Command } from 'commander';
import type { BackupEvent, BackupReport, LoggedBackup } from '../../index.js';
import type { CommandContext } from '../context.js';
import type { Action } from '../main.js';
import { formatBytes } from '../output.js';
import { parseCount } from './shared.js';

export function define(program: Command, action: Action): void {
  program
    .command('backup')
    .description(
      'take a pg_dump -Fc backup into BACKUP_DIR, validate it, upload and record it (--list: show recorded backups)',
    )
    .option('--list', 'list the backups recorded in db_backups, newest first')
    .option('--limit <n>', 'with --list: at most N backups (default 100)', parseCount)
    .addHelpText(
      'after',
      `
Examples:
  $ migrate backup                  backups/<db>_<UTC stamp>_<version>.dump, validated, mode 0600
  $ migrate backup --list --json
Settings: BACKUP_DIR, BACKUP_RETENTION_DAYS, BACKUP_KEEP, BACKUP_UPLOAD_COMMAND ({file} marks the path), PG_DUMP_PATH.`,
    )
    .action(action(backup));
}

export function backupJson(report: BackupReport): Record<string, unknown> {
  return {
    file: report.path,
    fileName: report.fileName,
    database: report.database,
    createdAt: report.createdAt.toISOString(),
    versionBefore: report.versionBefore,
    sizeBytes: report.sizeBytes,
    sha256: report.sha256,
    pgDumpVersion: report.pgDumpVersion,
    tables: report.tables.length,
    durationMs: report.durationMs,
    uploaded: report.uploadedWith !== undefined,
    pruned: report.pruned,
  };
}

function loggedJson(b: LoggedBackup): Record<string, unknown> {
  return {
    fileName: b.fileName,
    createdAt: b.createdAt.toISOString(),
    sizeBytes: b.sizeBytes,
    sha256: b.sha256,
    database: b.database,
    versionBefore: b.versionBefore,
    pgDumpVersion: b.pgDumpVersion,
    durationMs: b.durationMs,
  };
}

/** Spinner label on a TTY (elapsed time is added by Output), nothing per event otherwise. */
export function backupProgress(ctx: CommandContext): (event: BackupEvent) => void {
  const out = ctx.output;
  return (event) => {
    if (out.mode !== 'tty') return;
    if (event.type === 'progress') out.relabel(`Taking a backup: ${formatBytes(event.bytes)} written`);
    else if (event.type === 'phase' && event.phase === 'validate') out.relabel('Validating the backup');
    else if (event.type === 'phase' && event.phase === 'upload') out.relabel('Uploading the backup');
  };
}

export async function backup(ctx: CommandContext, flags: { list?: boolean; limit?: number }): Promise<number> {
  const migrator = await ctx.migrator();
  const out = ctx.output;
  if (flags.list) {
    const rows = await migrator.listBackups(flags.limit ?? 100);
    if (out.mode === 'json') {
      out.json({ backups: rows.map(loggedJson) });
      return 0;
    }
    if (rows.length === 0) {
      out.line('No backups recorded yet: migrate backup takes one.');
      return 0;
    }
    for (const b of rows) {
      const when = b.createdAt.toISOString().replace('T', ' ').slice(0, 19);
      out.line(
        `${when}  ${b.fileName}  ${formatBytes(b.sizeBytes)}  ${out.c.dim(`sha256 ${b.sha256.slice(0, 12)}  pg_dump ${b.pgDumpVersion}`)}`,
      );
    }
    return 0;
  }

  await out.progress('Taking a backup');
  const report = await migrator.backup({ onEvent: backupProgress(ctx) });
  out.done(
    `backup ${report.path} ${out.c.dim(`(${formatBytes(report.sizeBytes)}, ${(report.durationMs / 1000).toFixed(1)} s, ${report.tables.length} tables, validated${report.uploadedWith ? ', uploaded' : ''})`)}`,
  );
  if (out.mode === 'json') out.json({ backup: backupJson(report) });
  else if (report.pruned.length > 0)
    out.info(`Deleted ${report.pruned.length} old backup${report.pruned.length === 1 ? '' : 's'} (retention).`);
  return 0;
}
