/**
 * Backup file names: `<database>_<UTC yyyymmddThhmmssZ>_<version-before>.dump`. The name is the only thing
 * retention trusts: a file that does not parse as one of ours is never deleted.
 */
import { randomBytes } from 'node:crypto';

/** Written in place of the version when the tracking table is empty or absent. */
export const NO_VERSION = 'none';

const STAMP = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** Database names may hold any character; the file name keeps letters, digits, `.`, `-` and `_` only. */
export function fileSafe(text: string): string {
  const safe = text.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^\.+/, '-');
  return safe === '' ? '-' : safe;
}

export function utcStamp(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

export function backupFileName(database: string, createdAt: Date, versionBefore: string | null): string {
  return `${fileSafe(database)}_${utcStamp(createdAt)}_${fileSafe(versionBefore ?? NO_VERSION)}.dump`;
}

/**
 * The name a dump is written under until it is validated; never matches parseBackupFileName. Unique per run
 * (pid and random), so two runs in the same second never share, or delete, each other's file.
 */
export function partialFileName(
  finalName: string,
  unique = `${process.pid}-${randomBytes(4).toString('hex')}`,
): string {
  return `.${finalName}.${unique}.partial`;
}

/** The final name a partial file was started for; undefined when `name` is not a partial file. */
export function partialTarget(name: string): string | undefined {
  return /^\.(.+\.dump)\.[A-Za-z0-9-]+\.partial$/.exec(name)?.[1];
}

export interface ParsedBackupName {
  readonly database: string;
  readonly createdAt: Date;
  readonly versionBefore: string;
}

/**
 * Parses a name written by backupFileName for `database`; undefined for anything else. The database part is
 * matched exactly (not with a pattern) because database names may contain `_`.
 */
export function parseBackupFileName(name: string, database: string): ParsedBackupName | undefined {
  const prefix = `${fileSafe(database)}_`;
  if (!name.startsWith(prefix) || !name.endsWith('.dump')) return undefined;
  const rest = name.slice(prefix.length, -'.dump'.length);
  const cut = rest.indexOf('_');
  if (cut < 0) return undefined;
  const stamp = STAMP.exec(rest.slice(0, cut));
  const version = rest.slice(cut + 1);
  if (!stamp || !/^[A-Za-z0-9.-][A-Za-z0-9._-]*$/.test(version)) return undefined;
  const [, y, mo, d, h, mi, s] = stamp.map(Number) as [number, number, number, number, number, number, number];
  const createdAt = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  if (Number.isNaN(createdAt.getTime()) || utcStamp(createdAt) !== rest.slice(0, cut)) return undefined;
  return { database, createdAt, versionBefore: version };
}
