/**
 * Deleting old backups after a successful new one. Only files whose name parses as tidemark's own backup of
 * this database are candidates (a hand-made dump or another database's backups are never touched), and the
 * file just taken never is. A `.partial` file of this database is removed only once untouched for an hour:
 * it is what a killed run leaves behind, and it may be gigabytes. Age comes from the UTC stamp in the name, not the mtime, which a
 * copy or a restore from object storage resets.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { parseBackupFileName, partialTarget } from './naming.js';

/** A .partial file untouched this long belongs to a run that died (kill -9, power loss): pg_dump writes continuously. */
export const STALE_PARTIAL_MS = 60 * 60 * 1000;

export interface RetentionOptions {
  readonly dir: string;
  readonly database: string;
  /** BACKUP_RETENTION_DAYS: delete backups older than this many days; 0 = no age limit. */
  readonly retentionDays: number;
  /** BACKUP_KEEP: keep at most this many newest backups (the one just taken included); undefined = no limit. */
  readonly keep?: number | undefined;
  /** The file name of the backup just taken: never deleted. */
  readonly protect: string;
  readonly now?: Date | undefined;
}

export interface RetentionResult {
  readonly deleted: readonly string[];
  readonly kept: readonly string[];
  /** Leftover `.partial` files of this database from runs that died, removed too. */
  readonly stalePartials?: readonly string[];
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Decides which of `names` to delete, without touching the disk. */
export function planRetention(names: readonly string[], options: Omit<RetentionOptions, 'dir'>): RetentionResult {
  const now = (options.now ?? new Date()).getTime();
  const ours = names
    .map((name) => ({ name, parsed: parseBackupFileName(name, options.database) }))
    .filter((f): f is { name: string; parsed: NonNullable<typeof f.parsed> } => f.parsed !== undefined)
    .sort((a, b) => b.parsed.createdAt.getTime() - a.parsed.createdAt.getTime() || (a.name < b.name ? 1 : -1));
  const deleted: string[] = [];
  const kept: string[] = [];
  let rank = 0;
  for (const file of ours) {
    if (file.name === options.protect) {
      kept.push(file.name);
      rank++;
      continue;
    }
    rank++;
    const tooOld = options.retentionDays > 0 && now - file.parsed.createdAt.getTime() > options.retentionDays * DAY_MS;
    const beyondKeep = options.keep !== undefined && rank > options.keep;
    (tooOld || beyondKeep ? deleted : kept).push(file.name);
  }
  return { deleted, kept };
}

export async function applyRetention(options: RetentionOptions): Promise<RetentionResult> {
  const names = await fsp.readdir(options.dir);
  const plan = planRetention(names, options);
  for (const name of plan.deleted) await fsp.rm(join(options.dir, name), { force: true });
  // mtime, not the name's stamp: a running pg_dump keeps touching its file, a dead run's file goes stale.
  const stalePartials: string[] = [];
  for (const name of names) {
    const inner = partialTarget(name);
    if (inner === undefined || parseBackupFileName(inner, options.database) === undefined) continue;
    const info = await fsp.stat(join(options.dir, name)).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > STALE_PARTIAL_MS) {
      await fsp.rm(join(options.dir, name), { force: true });
      stalePartials.push(name);
    }
  }
  return { ...plan, stalePartials };
}
