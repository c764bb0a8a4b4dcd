/**
 * The backup folder: created 0700 when absent, proven writable, and big enough. pg_database_size counts
 * indexes and free space that a compressed dump does not hold, so comparing with it is deliberately cautious:
 * a dump that fails half-way on a full disk is worse than a refusal that names both figures.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { ClientBase } from 'pg';
import { MigrateError } from '../errors.js';

/** Free bytes available to this user in `dir`. Injectable so tests can simulate a full disk. */
export type FreeSpaceProbe = (dir: string) => Promise<number>;

export const statfsProbe: FreeSpaceProbe = async (dir) => {
  const info = await fsp.statfs(dir);
  return info.bavail * info.bsize;
};

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function unwritable(dir: string, cause: unknown): MigrateError {
  const why = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
  return new MigrateError('backup-dir-unwritable', `Cannot write backups to ${dir} (${why}).`, {
    hint: 'Point BACKUP_DIR at a folder this user can write, or fix its permissions.',
    cause,
    details: { dir },
  });
}

/**
 * Creates `dir` (0700, parents too) when absent and proves a file can be created in it: permission bits alone
 * do not say (root ignores them, a read-only mount does not show in them).
 */
export async function ensureBackupDir(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    await fsp.access(dir, constants.W_OK | constants.X_OK);
    // pid + random: two backups of one process (or of two containers sharing a pid namespace number) at once
    // must not collide on the probe ('wx' would report EEXIST as an unwritable folder).
    const probe = join(dir, `.tidemark-write-test-${process.pid}-${randomBytes(6).toString('hex')}`);
    const handle = await fsp.open(probe, 'wx', 0o600);
    await handle.close();
    await fsp.unlink(probe);
  } catch (error) {
    throw unwritable(dir, error);
  }
}

export interface RoomCheck {
  readonly databaseBytes: number;
  readonly freeBytes: number;
}

/** Refuses (exit 1, both figures) when the database is larger than the free space of `dir`. */
export async function checkRoom(
  client: ClientBase,
  dir: string,
  probe: FreeSpaceProbe = statfsProbe,
): Promise<RoomCheck> {
  const { rows } = await client.query<{ size: string; db: string }>(
    'select pg_database_size(current_database())::text as size, current_database() as db',
  );
  const databaseBytes = Number(rows[0]?.size ?? 0);
  const freeBytes = await probe(dir);
  if (databaseBytes > freeBytes) {
    throw new MigrateError(
      'backup-no-room',
      `Not enough room for a backup in ${dir}: the database ${rows[0]?.db ?? ''} is ${formatBytes(databaseBytes)}, ${formatBytes(freeBytes)} is free.`,
      {
        hint: 'Free space, point BACKUP_DIR at a larger volume, or lower BACKUP_RETENTION_DAYS / BACKUP_KEEP.',
        details: { dir, databaseBytes, freeBytes },
      },
    );
  }
  return { databaseBytes, freeBytes };
}
