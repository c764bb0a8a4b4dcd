/**
 * Migration files on disk -> Migration[]. Every problem in the folders is collected and reported at once
 * (exit 2, nothing run): a name that does not parse, a duplicate version, a rollback without its up, a bad directive.
 */
import { hash } from 'node:crypto';
import { dirname, isAbsolute, relative, sep } from 'node:path';
import { ValidationError, usageError } from '../errors.js';
import { scanHeader } from './directives.js';
import { listSqlEntries, NotUtf8Error, readProblem, readUtf8Sync } from './read.js';
import type { Migration, SqlFile } from './types.js';

export interface SourceLocations {
  readonly migrationsDir: string;
  readonly rollbackDir: string;
  /** Paths in messages are shown relative to this folder. */
  readonly cwd: string;
}

interface ParsedName {
  readonly version: string;
  readonly name: string;
  readonly kind: 'up' | 'down';
}

/**
 * A name that says which way it runs: `.up`/`_up`, or `.down`, `_down`, `.rollback`, `_rollback`, `.undo`,
 * `_undo`, in any case. A file whose name says down is never taken for an up (issue 10: `003_x_down.sql` in
 * the migrations folder once ran forward and dropped a table).
 *
 * A version, `_`, the name, then optionally a direction word after `.` or `_`, then `.sql`. The name is lazy, so
 * a direction word is taken whenever one ends the name (`001_x_up_up.sql`: name `x_up`, up); the name may hold
 * such a word elsewhere (`001_backup.sql` is the plain up `backup`). One pass per file of every `up` (it once
 * took two expressions, tried in turn: test/source/files.test.ts keeps them as the reference).
 */
const EITHER = /^(\d+)_(.+?)(?:[._](up|down|rollback|undo))?\.sql$/i;

/**
 * Parses a migration file name. In the migrations folder: `001_name.sql`, `001_name.up.sql` and
 * `001_name_up.sql` are ups; a name ending in a down word (`001_name.down.sql`, `001_name_rollback.sql`,
 * `001_name_undo.sql`, any case) is a down, paired with the up of its version. In the rollback folder every
 * file is a down. Returns undefined when the name does not parse.
 */
export function parseMigrationFileName(fileName: string, folder: 'migrations' | 'rollback'): ParsedName | undefined {
  const match = EITHER.exec(fileName);
  if (!match) return undefined;
  // Indexes, not destructuring: destructuring an array allocates an iterator result per element in code
  // that runs cold.
  const direction = match[3];
  const down = folder === 'rollback' || (direction !== undefined && direction.toLowerCase() !== 'up');
  return { version: match[1]!, name: match[2]!, kind: down ? 'down' : 'up' };
}

/** sha256 of the text with a BOM removed and CRLF normalised to LF: a checkout on Windows is not drift. */
export function checksumOf(text: string): string {
  const body = stripBom(text);
  return sha256Hex(body.includes('\r') ? body.replace(/\r\n/g, '\n') : body);
}

// crypto.hash (Node >= 20.12, hence engines) is one call with no Hash object: it matters for the thousand
// files every `up` reads.
function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}

export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

async function listSqlFiles(
  dir: string,
  problems?: string[],
  show: (path: string) => string = (p) => p,
): Promise<string[] | undefined> {
  const listing = await listSqlEntries(dir, show);
  if (listing) problems?.push(...listing.problems);
  return listing?.names;
}

/**
 * Folders inside a migrations folder whose name reads like a migration (`001_init`): another tool's layout (a
 * folder per migration, as Prisma and others lay them out), reported, not skipped in silence. Folders named
 * `*.sql` are the listing's own problem (source/read.ts).
 */
const MIGRATION_LIKE_DIR = /^\d+_/;

/**
 * The text of a migration file, or undefined with a problem pushed when it cannot be read or is not UTF-8:
 * every unreadable file is reported with the others, by name, and nothing runs.
 */
function readText(path: string, displayPath: string, problems: string[]): string | undefined {
  try {
    return readUtf8Sync(path);
  } catch (error) {
    if (error instanceof NotUtf8Error) problems.push(`${displayPath}:${error.message}`);
    else problems.push(`${displayPath}: ${readProblem(error)}`);
    return undefined;
  }
}

/**
 * Reads one SQL file; problems with its directives are pushed to `problems`. `displayPath` when the caller knows
 * it already (a rollback's was worked out with its folder's when the files were listed): path.relative costs
 * ~5 µs a call, 5 ms of `down --all`'s thousand rollbacks.
 */
export async function readSqlFile(
  path: string,
  cwd: string,
  problems?: string[],
  displayPath: string = displayPaths(cwd)(path),
): Promise<SqlFile> {
  let text: string;
  try {
    text = readUtf8Sync(path);
  } catch (error) {
    // A missing file is the caller's to explain (an unknown seed, a lint argument); the rest are exit 2 here.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw error;
    const problem =
      error instanceof NotUtf8Error ? `${displayPath}:${error.message}` : `${displayPath}: ${readProblem(error)}`;
    throw usageError('unreadable-file', `Cannot use ${problem}.`, { cause: error });
  }
  return sqlFileOf(path, text, displayPath, problems);
}

/**
 * `path` relative to `cwd`, for messages. path.relative costs ~9 µs a call, ~9 ms for a thousand files on every
 * `up`: it is computed once per folder and the file name appended.
 */
export function displayPaths(cwd: string): (path: string) => string {
  const folders = new Map<string, string>();
  // String slicing, not dirname/basename/join: each of those normalises the path again, and together they were
  // the largest part of reading a thousand migration files.
  return (path) => {
    const cut = path.lastIndexOf(sep);
    const dir = cut > 0 ? path.slice(0, cut) : dirname(path);
    let shown = folders.get(dir);
    if (shown === undefined) {
      shown = relative(cwd, dir);
      folders.set(dir, shown);
    }
    const base = path.slice(cut + 1);
    return shown === '' ? base : `${shown}${sep}${base}`;
  };
}

/** A SqlFile of `raw` text: BOM removed, header directives read; directive problems are pushed to `problems`. */
export function sqlFileOf(path: string, raw: string, displayPath: string, problems?: string[]): SqlFile {
  const text = stripBom(raw);
  const header = scanHeader(text);
  for (let i = 0; i < header.problems.length; i += 1) problems?.push(`${displayPath} ${header.problems[i]!}`);
  return { path, displayPath, text, empty: header.empty, directives: header.directives };
}

const READ_BATCH = 100;

/**
 * One version's files. The first up and down are fields: a second of either (a problem, reported) is rare,
 * and two arrays per version were two allocations for each of the thousand versions of every `up`.
 */
interface Entry {
  version: string;
  versionNumber: bigint;
  name: string;
  up: string | undefined;
  down: string | undefined;
  moreUps: string[] | undefined;
  moreDowns: string[] | undefined;
}

/** The digits of a version without leading zeros (`001` and `1` are one version): a cheap key, unlike BigInt. */
function versionKey(version: string): string {
  let i = 0;
  while (i < version.length - 1 && version.charCodeAt(i) === 48) i += 1;
  return i === 0 ? version : version.slice(i);
}

/** Every path of one kind in an entry, the first one first. */
function pathsOf(first: string | undefined, more: string[] | undefined): string[] {
  return first === undefined ? [] : more === undefined ? [first] : [first, ...more];
}

/**
 * Discovers and reads every migration. Ups are read (they are checksummed); downs are only listed.
 * A missing migrations folder is an error; a missing rollback folder is not (golang-migrate layout).
 *
 * Every `up` of every pod start runs this over the whole history, in code that runs once and is never
 * optimized: the loops are indexed (a for-of allocates an iterator result per element there), a version
 * becomes a BigInt once, and a path's displayed form is its folder's, computed once, and its name.
 */
export async function loadMigrations(locations: SourceLocations): Promise<Migration[]> {
  const { migrationsDir, rollbackDir, cwd } = locations;
  const show = displayPaths(cwd);
  const problems: string[] = [];
  // Both folders are listed at once (each listing is a request to libuv's threads, which the main thread only
  // waits for); a missing migrations folder is still reported before anything about the rollback folder.
  const rollbackListed =
    rollbackDir === migrationsDir
      ? undefined
      : listSqlEntries(rollbackDir, show).then(
          (listed) => ({ listed }),
          (error: unknown) => ({ listed: undefined, error }),
        );
  const listing = await listSqlEntries(migrationsDir, show);
  if (listing === undefined) {
    // `./migrations`, not `migrations`: "The migrations folder migrations does not exist" read as a stutter.
    const shown = show(migrationsDir);
    const named = isAbsolute(shown) || shown.startsWith('.') ? shown : `.${sep}${shown}`;
    throw usageError('no-migrations-dir', `The migrations folder ${named} does not exist.`, {
      hint: 'Create it (migrate create NAME does), or point to it with --migrations-dir or MIGRATIONS_DIR.',
    });
  }
  const rollback = await rollbackListed;
  if (rollback && 'error' in rollback) throw rollback.error;
  const rollbackListing = rollback?.listed;
  problems.push(...listing.problems);
  if (rollbackListing) problems.push(...rollbackListing.problems);
  const rollbackFiles = rollbackListing?.names.sort() ?? [];

  for (const folder of listing.folders) {
    if (!MIGRATION_LIKE_DIR.test(folder)) continue;
    problems.push(
      `${show(`${migrationsDir}${sep}${folder}`)}: a folder named like a migration; tidemark runs only .sql files in ${show(migrationsDir) || '.'} itself (VERSION_name.sql), so it would be skipped. Move its SQL into a file, or rename the folder`,
    );
  }
  const byVersion = new Map<string, Entry>();
  const entries: Entry[] = [];
  const add = (dir: string, fileName: string, folder: 'migrations' | 'rollback') => {
    const parsed = parseMigrationFileName(fileName, folder);
    const path = `${dir}${sep}${fileName}`; // not path.join: ~2 µs a call, thousands of calls
    if (!parsed) {
      problems.push(
        `${show(path)}: the name does not parse; use VERSION_name.sql (VERSION = digits, e.g. 001_create_users.sql${
          folder === 'rollback' ? ' or 001_create_users_rollback.sql' : ' or 001_create_users.up.sql'
        })`,
      );
      return;
    }
    const key = versionKey(parsed.version);
    const up = parsed.kind === 'up';
    const entry = byVersion.get(key);
    if (!entry) {
      const created: Entry = {
        version: parsed.version,
        versionNumber: BigInt(key),
        name: parsed.name,
        up: up ? path : undefined,
        down: up ? undefined : path,
        moreUps: undefined,
        moreDowns: undefined,
      };
      byVersion.set(key, created);
      entries.push(created);
    } else if (up) {
      if (entry.up === undefined) entry.up = path;
      else (entry.moreUps ??= []).push(path);
      entry.version = parsed.version;
      entry.name = parsed.name;
    } else if (entry.down === undefined) {
      entry.down = path;
    } else {
      (entry.moreDowns ??= []).push(path);
    }
  };
  // Names in code-unit order first (a native sort, no JavaScript per comparison): with versions of one width,
  // the usual layout, that is version order, so the entries come out sorted and the sort by number below only
  // confirms it (n - 1 comparisons, each a call into code that runs cold, instead of ~n log n). The rollback
  // folder's names are sorted too (above): problems name several files of one version in name order.
  const migrationFiles = listing.names.sort();
  for (let i = 0; i < migrationFiles.length; i += 1) add(migrationsDir, migrationFiles[i]!, 'migrations');
  for (let i = 0; i < rollbackFiles.length; i += 1) add(rollbackDir, rollbackFiles[i]!, 'rollback');

  entries.sort((a, b) => (a.versionNumber < b.versionNumber ? -1 : 1));
  for (let i = 0; i < entries.length; i += 1) {
    const e = entries[i]!;
    if (e.up !== undefined && e.moreUps === undefined && e.moreDowns === undefined) continue;
    const ups = pathsOf(e.up, e.moreUps);
    const downs = pathsOf(e.down, e.moreDowns);
    if (ups.length > 1)
      problems.push(`version ${e.version} is used by several migrations: ${ups.map(show).join(', ')}`);
    if (downs.length > 1)
      problems.push(`version ${e.version} has several rollback files: ${downs.map(show).join(', ')}`);
    if (ups.length === 0)
      problems.push(`${downs.map(show).join(', ')}: a rollback with no migration of version ${e.version}`);
  }

  // Read synchronously: for thousands of small files this is several times faster than fs/promises (no
  // FileHandle, no promise per call), and the no-op `up` of every pod start reads them all.
  // Every READ_BATCH files the event loop gets a turn: a connection being opened meanwhile (the migrator reads
  // the files while it connects and asks for the history) sends and answers its messages in between. The first
  // turn comes before the first file: the listings end on libuv's threads, often as the socket connects, and
  // the startup message must not wait for a hundred files.
  const shownUps = show(`${migrationsDir}${sep}x`).slice(0, -1);
  const shownDowns = show(`${rollbackDir}${sep}x`).slice(0, -1);
  const migrations: Migration[] = [];
  let read = 0;
  for (let i = 0; i < entries.length; i += 1) {
    const e = entries[i]!;
    const upPath = e.up;
    if (upPath === undefined || e.moreUps !== undefined) continue;
    if (read++ % READ_BATCH === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const upShown = shownOf(upPath, migrationsDir, shownUps, show);
    const text = readText(upPath, upShown, problems);
    if (text === undefined) continue;
    const up = sqlFileOf(upPath, text, upShown, problems);
    const downPath = e.down;
    migrations.push({
      version: e.version,
      versionNumber: e.versionNumber,
      name: e.name,
      checksum: checksumOf(up.text),
      up,
      downPath,
      downDisplayPath: downPath === undefined ? undefined : shownOf(downPath, rollbackDir, shownDowns, show),
    });
  }

  if (problems.length > 0) {
    throw new ValidationError(
      'bad-migration-files',
      `Found ${problems.length} problem${problems.length === 1 ? '' : 's'} in the migration files (nothing was run):\n  ${problems.join('\n  ')}`,
      problems,
      { hint: 'Fix the files above and run the command again.' },
    );
  }
  return migrations;
}

/** show(path) for a path in `dir`, whose shown form (with its separator) is `shownDir`, without slicing it again. */
function shownOf(path: string, dir: string, shownDir: string, show: (path: string) => string): string {
  return path.length > dir.length && path.charCodeAt(dir.length) === SEP && path.startsWith(dir)
    ? shownDir + path.slice(dir.length + 1)
    : show(path);
}

const SEP = sep.charCodeAt(0);

/** Reads a migration's rollback file; throws when it has none. */
export async function readDown(migration: Migration, cwd: string): Promise<SqlFile> {
  if (migration.downPath === undefined) {
    throw usageError('missing-rollback', `Migration ${migration.version}_${migration.name} has no rollback file.`, {
      hint: 'Write rollback/' + `${migration.version}_${migration.name}_rollback.sql (an empty file is a valid no-op).`,
    });
  }
  const problems: string[] = [];
  const file = await readSqlFile(migration.downPath, cwd, problems, migration.downDisplayPath);
  if (problems.length > 0) {
    throw new ValidationError(
      'bad-migration-files',
      `Problems in ${file.displayPath}:\n  ${problems.join('\n  ')}`,
      problems,
    );
  }
  return file;
}

/** The seed names in `seedsDir` (file names without .sql), sorted; [] when the folder does not exist. */
export async function listSeeds(seedsDir: string): Promise<string[]> {
  const names = await listSqlFiles(seedsDir);
  return (names ?? []).map((f) => f.slice(0, -4)).sort();
}
