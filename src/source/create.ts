/** `migrate create NAME`: the next version and a pair of files from a template. */
import { promises as fsp } from 'node:fs';
import { join, relative } from 'node:path';
import { usageError } from '../errors.js';
import { parseMigrationFileName, type SourceLocations } from './files.js';

export interface CreateOptions {
  /** Use a UTC timestamp (yyyymmddhhmmss) as the version instead of the next number. */
  readonly timestamp?: boolean | undefined;
  readonly now?: Date | undefined;
}

export interface CreatedFiles {
  readonly version: string;
  readonly name: string;
  readonly up: string;
  readonly down: string;
}

const DEFAULT_WIDTH = 3;

export function slug(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

export function timestampVersion(now: Date): string {
  return now.toISOString().replace(/\D/g, '').slice(0, 14);
}

/** The next sequential version, keeping the zero padding the folder already uses. */
export function nextVersion(existing: readonly string[]): string {
  if (existing.length === 0) return '1'.padStart(DEFAULT_WIDTH, '0');
  let max = 0n;
  let width = 0;
  for (const v of existing) {
    const n = BigInt(v);
    if (n > max) max = n;
    width = Math.max(width, v.length);
  }
  return (max + 1n).toString().padStart(width, '0');
}

async function names(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch {
    return [];
  }
}

export async function createMigration(
  locations: SourceLocations,
  rawName: string,
  options: CreateOptions = {},
): Promise<CreatedFiles> {
  const name = slug(rawName);
  if (name === '')
    throw usageError(
      'bad-migration-name',
      `"${rawName}" gives an empty file name; use letters and digits, e.g. add_email_to_users.`,
    );
  const upFiles = (await names(locations.migrationsDir)).filter((f) => f.endsWith('.sql'));
  const versions = upFiles
    .map((f) => parseMigrationFileName(f, 'migrations')?.version)
    .filter((v): v is string => v !== undefined);
  const version = options.timestamp ? timestampVersion(options.now ?? new Date()) : nextVersion(versions);
  if (versions.some((v) => BigInt(v) === BigInt(version))) {
    throw usageError(
      'version-taken',
      `Version ${version} is already used in ${relative(locations.cwd, locations.migrationsDir) || '.'}.`,
      {
        hint: 'Wait a second and run it again, or create without --timestamp.',
      },
    );
  }
  // Follow the layout of the newest migration: golang-migrate pairs (.up.sql/.down.sql) or the seed's.
  const newest = upFiles
    .filter((f) => parseMigrationFileName(f, 'migrations')?.kind === 'up')
    .sort((a, b) => {
      const x = BigInt(parseMigrationFileName(a, 'migrations')!.version);
      const y = BigInt(parseMigrationFileName(b, 'migrations')!.version);
      return x < y ? -1 : x > y ? 1 : 0;
    })
    .at(-1);
  const golangLayout = newest?.endsWith('.up.sql') ?? false;
  const up = join(locations.migrationsDir, golangLayout ? `${version}_${name}.up.sql` : `${version}_${name}.sql`);
  const down = golangLayout
    ? join(locations.migrationsDir, `${version}_${name}.down.sql`)
    : join(locations.rollbackDir, `${version}_${name}_rollback.sql`);
  await fsp.mkdir(locations.migrationsDir, { recursive: true });
  await fsp.mkdir(golangLayout ? locations.migrationsDir : locations.rollbackDir, { recursive: true });
  const upText = `-- ${version}_${name}\n-- Runs in one transaction. For CREATE INDEX CONCURRENTLY and friends, put\n-- "-- migrate:no-transaction" on the first line instead.\n\n`;
  const downText = `-- Rollback of ${version}_${name}: undo exactly what the up file does, newest change first.\n\n`;
  await fsp.writeFile(up, upText, { flag: 'wx' });
  await fsp.writeFile(down, downText, { flag: 'wx' });
  return { version, name, up: relative(locations.cwd, up), down: relative(locations.cwd, down) };
}
