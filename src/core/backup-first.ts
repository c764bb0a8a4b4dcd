/**
 * The backup before a change, under the runner lock (so ten pods take one backup, and nothing changes the
 * schema between the dump and the migration). Off when the configuration has no backup or the caller asks
 * for none, which the result says; refused under the production guard.
 */
import { relative } from 'node:path';
import type { HistoryRow } from '../db/history.js';
import { interruptedError, usageError } from '../errors.js';
import type { RunConfig } from './config.js';
import type { BackupSummary } from './results.js';

export async function backupFirst(
  config: RunConfig,
  history: readonly HistoryRow[],
  noBackup: boolean | undefined,
): Promise<{ backup?: BackupSummary; backupSkipped?: string }> {
  const policy = config.backup?.beforeMigrate ? config.backup : undefined;
  const w = config.words;
  const skipped = noBackup ? w.noBackup : policy ? undefined : config.backupOff;
  if (skipped !== undefined || !policy) {
    if (config.production) {
      throw usageError(
        'backup-required-in-production',
        `Refusing to migrate production without a backup (${skipped ?? w.backupOff}).`,
        {
          hint: `Let tidemark take and validate the backup, or ${w.notProduction}.`,
        },
      );
    }
    return skipped === undefined ? {} : { backupSkipped: skipped };
  }
  const emit = config.onEvent;
  const signal = config.signal;
  emit({ type: 'backup-start' });
  const { backupDatabase } = await import('../backup/index.js');
  try {
    const report = await backupDatabase({
      params: config.connector.params,
      dir: policy.dir,
      versionBefore: history.at(-1)?.version ?? null,
      pgDumpPath: policy.pgDumpPath,
      trackingTable: config.table,
      retentionDays: policy.retentionDays,
      keep: policy.keep,
      uploadCommand: policy.uploadCommand,
      uploadEnv: policy.uploadEnv,
      // pg_dump's ACCESS SHARE locks never queue the application (they conflict only with DDL), so it may wait
      // longer than a migration's short lock attempts.
      lockWaitTimeoutMs:
        config.timeouts.lockWaitSeconds > 0 ? Math.max(config.timeouts.lockWaitSeconds * 1000, 5000) : undefined,
      signal,
      onEvent: (e) => {
        if (e.type === 'progress') emit({ type: 'backup-progress', bytes: e.bytes, elapsedMs: e.elapsedMs });
      },
    });
    const backup: BackupSummary = {
      file: policy.displayRoot === undefined ? report.path : relative(policy.displayRoot, report.path) || report.path,
      sizeBytes: report.sizeBytes,
      sha256: report.sha256,
      durationMs: report.durationMs,
    };
    emit({ type: 'backup-done', backup });
    return { backup };
  } catch (error) {
    if (signal?.aborted) {
      const name = String(signal.reason);
      throw interruptedError(name, `Interrupted by ${name} while taking the backup; nothing was changed.`, {
        hint: 'Run the command again.',
        cause: error,
      });
    }
    throw error;
  }
}
