/**
 * Finding pg_dump and pg_restore and proving they can handle the server.
 *
 * Order: the explicit path (PG_DUMP_PATH, a binary or its folder), else `pg_dump` on PATH, else the newest
 * under /usr/lib/postgresql/N/bin (Debian/Ubuntu keep every installed major there). Without an explicit path,
 * the first candidate whose major is >= the server's wins, so an old client on PATH does not hide a newer one
 * that is installed. pg_dump refuses to dump a newer server, and pg_restore cannot read an archive made by a
 * newer pg_dump: both are checked here, before anything runs.
 */
import { constants } from 'node:fs';
import { promises as fsp } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { ClientBase } from 'pg';
import { serverVersionNum } from '../db/introspect.js';
import { MigrateError } from '../errors.js';
import { runProgram, SpawnError } from './process.js';

export const DEFAULT_INSTALL_ROOT = '/usr/lib/postgresql';

export type ToolName = 'pg_dump' | 'pg_restore';

export interface PgVersion {
  /** Comparable like server_version_num: 15.4 -> 150004, 9.6.24 -> 90624. */
  readonly num: number;
  /** The major as PostgreSQL names it: "15", "9.6". */
  readonly major: string;
  /** The whole version line the tool printed, e.g. "pg_dump (PostgreSQL) 15.4 (Debian 15.4-1)". */
  readonly text: string;
}

export interface PgTool {
  readonly name: ToolName;
  readonly path: string;
  readonly version: PgVersion;
}

export interface PgTools {
  readonly pgDump: PgTool;
  readonly pgRestore: PgTool;
}

export interface FindToolsOptions {
  /** PG_DUMP_PATH: the pg_dump binary or the folder holding it. pg_restore is taken from the same folder. */
  readonly explicitPath?: string | undefined;
  /** The server the tools must handle (server_version_num); see serverVersion(). */
  readonly serverVersionNum: number;
  /** The PATH to search; the process's own when omitted. */
  readonly searchPath?: string | undefined;
  /** Folders holding N/bin subfolders; [/usr/lib/postgresql] when omitted. */
  readonly installRoots?: readonly string[];
}

/** The major of a server_version_num or tool version number, as PostgreSQL names it. */
export function majorOf(num: number): string {
  return num >= 100000 ? String(Math.floor(num / 10000)) : `${Math.floor(num / 10000)}.${Math.floor(num / 100) % 100}`;
}

function majorKey(num: number): number {
  return num >= 100000 ? Math.floor(num / 10000) * 100 : Math.floor(num / 100);
}

/** Parses `pg_dump --version` output ("pg_dump (PostgreSQL) 15.4 (Debian ...)", "17devel", "9.6.24"). */
export function parseToolVersion(output: string): PgVersion | undefined {
  const line = output.split('\n').find((l) => /\(PostgreSQL\)/.test(l)) ?? output.split('\n')[0] ?? '';
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(line);
  if (!match) return undefined;
  const a = Number(match[1]);
  const b = Number(match[2] ?? 0);
  const c = Number(match[3] ?? 0);
  const num = a >= 10 ? a * 10000 + b : a * 10000 + b * 100 + c;
  return { num, major: majorOf(num), text: line.trim() };
}

export interface ServerVersion {
  readonly num: number;
  readonly major: string;
}

/** The server's version, from a connection the caller owns. */
export async function serverVersion(client: ClientBase): Promise<ServerVersion> {
  const num = await serverVersionNum(client);
  return { num, major: majorOf(num) };
}

/** The Debian/Ubuntu package that carries the client tools of a major. */
export function clientPackage(major: string): string {
  return `postgresql-client-${major}`;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    const info = await fsp.stat(path);
    if (!info.isFile()) return false;
    await fsp.access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Runs `<path> --version`; undefined when it does not start or prints no version. */
export async function readToolVersion(path: string): Promise<PgVersion | undefined> {
  try {
    const result = await runProgram(path, ['--version'], { captureStdout: true });
    if (result.code !== 0) return undefined;
    return parseToolVersion(result.stdout);
  } catch (error) {
    if (error instanceof SpawnError) return undefined;
    throw error;
  }
}

async function onPath(name: ToolName, searchPath: string | undefined): Promise<string | undefined> {
  for (const dir of (searchPath ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Every `<root>/<N>/bin/<name>`, newest major first. */
async function installed(name: ToolName, roots: readonly string[]): Promise<string[]> {
  const found: { path: string; order: number }[] = [];
  for (const root of roots) {
    let entries: string[];
    try {
      entries = await fsp.readdir(root);
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (!/^\d+(\.\d+)?$/.test(entry)) continue;
      const candidate = join(root, entry, 'bin', name);
      if (await isExecutable(candidate)) found.push({ path: candidate, order: Number(entry) });
    }
  }
  return found.sort((a, b) => b.order - a.order).map((f) => f.path);
}

/** The tool's name as it appears in error codes (pg-dump-too-old). */
function slug(name: ToolName): 'pg-dump' | 'pg-restore' {
  return name === 'pg_dump' ? 'pg-dump' : 'pg-restore';
}

function tooOld(tool: PgTool, server: ServerVersion, explicit: boolean): MigrateError {
  const what =
    tool.name === 'pg_dump'
      ? `pg_dump ${tool.version.major} cannot dump a PostgreSQL ${server.major} server`
      : `pg_restore ${tool.version.major} cannot read an archive written by pg_dump ${server.major}`;
  return new MigrateError(
    `${slug(tool.name)}-too-old` as const,
    `${what}: install ${clientPackage(server.major)} or set PG_DUMP_PATH.`,
    {
      hint: explicit
        ? `PG_DUMP_PATH points at ${tool.path} (${tool.version.text}); point it at a ${tool.name} of major ${server.major} or newer.`
        : `Found ${tool.path} (${tool.version.text}); a ${tool.name} of major ${server.major} or newer is needed.`,
      details: { path: tool.path, toolVersion: tool.version.text, serverMajor: server.major },
    },
  );
}

function notFound(name: ToolName, wantMajor: string, looked: string): MigrateError {
  return new MigrateError(
    `${slug(name)}-not-found` as const,
    `${name} was not found (${looked}): install ${clientPackage(wantMajor)} (Debian/Ubuntu; postgresql${wantMajor} on Fedora/RHEL, postgresql${wantMajor}-client on Alpine, libpq on Homebrew) or set PG_DUMP_PATH.`,
    {
      hint: 'tidemark runs pg_dump before migrating; set BACKUP_BEFORE_MIGRATE=false or pass --no-backup to skip the backup.',
    },
  );
}

async function explicitTool(name: ToolName, given: string): Promise<string> {
  let info;
  try {
    info = await fsp.stat(given);
  } catch {
    throw new MigrateError('pg-dump-path-invalid', `PG_DUMP_PATH=${given} does not exist.`, {
      hint: 'Point PG_DUMP_PATH at the pg_dump binary (or the folder holding pg_dump and pg_restore), or unset it to search PATH.',
    });
  }
  const path = info.isDirectory() ? join(given, name) : given;
  if (!(await isExecutable(path))) {
    throw new MigrateError('pg-dump-path-invalid', `PG_DUMP_PATH=${given}: ${path} is not an executable file.`, {
      hint: 'Point PG_DUMP_PATH at the pg_dump binary (or the folder holding pg_dump and pg_restore), or unset it to search PATH.',
    });
  }
  return path;
}

async function versioned(name: ToolName, path: string): Promise<PgTool> {
  const version = await readToolVersion(path);
  if (version === undefined) {
    throw new MigrateError(
      `${slug(name)}-unusable` as const,
      `${path} did not print a PostgreSQL version for \`${name} --version\`; it cannot be used as ${name}.`,
      { hint: 'Point PG_DUMP_PATH at a real pg_dump, or install the PostgreSQL client tools.' },
    );
  }
  return { name, path, version };
}

/** Picks the first candidate whose major reaches `need`; errors name the newest one seen. */
async function pick(
  name: ToolName,
  candidates: readonly string[],
  need: number,
  server: ServerVersion,
): Promise<PgTool> {
  let newest: PgTool | undefined;
  for (const path of candidates) {
    const version = await readToolVersion(path);
    if (version === undefined) continue;
    const tool = { name, path, version };
    if (majorKey(version.num) >= majorKey(need)) return tool;
    if (newest === undefined || version.num > newest.version.num) newest = tool;
  }
  if (newest !== undefined) throw tooOld(newest, server, false);
  throw notFound(
    name,
    server.major,
    'PG_DUMP_PATH is not set, nothing on PATH, nothing under /usr/lib/postgresql/*/bin',
  );
}

/** Throws `pg-dump-too-old` when tools found earlier (or given by a caller) cannot dump this server. */
export function assertCanDump(tools: PgTools, server: ServerVersion, explicit = false): void {
  if (majorKey(tools.pgDump.version.num) < majorKey(server.num)) throw tooOld(tools.pgDump, server, explicit);
}

/**
 * Finds pg_dump and pg_restore able to handle the server. Throws MigrateError: `pg-dump-not-found` /
 * `pg-restore-not-found` (exit 1) naming the package to install, `pg-dump-too-old` (exit 1),
 * `pg-dump-path-invalid` (exit 2, the setting is wrong).
 *
 * @example
 *   const tools = await findPgTools({ explicitPath: settings.pgDumpPath, serverVersionNum: (await serverVersion(client)).num });
 */
export async function findPgTools(options: FindToolsOptions): Promise<PgTools> {
  const server: ServerVersion = { num: options.serverVersionNum, major: majorOf(options.serverVersionNum) };
  const roots = options.installRoots ?? [DEFAULT_INSTALL_ROOT];
  const searchPath = options.searchPath ?? process.env.PATH;

  let pgDump: PgTool;
  if (options.explicitPath !== undefined) {
    pgDump = await versioned('pg_dump', await explicitTool('pg_dump', options.explicitPath));
    if (majorKey(pgDump.version.num) < majorKey(server.num)) throw tooOld(pgDump, server, true);
  } else {
    const candidates = [await onPath('pg_dump', searchPath), ...(await installed('pg_dump', roots))];
    pgDump = await pick(
      'pg_dump',
      candidates.filter((c): c is string => c !== undefined),
      server.num,
      server,
    );
  }

  // pg_restore from the same folder first: the pair comes from one package. It must read what this pg_dump
  // writes, so its major must be at least pg_dump's.
  const beside = join(pgDump.path, '..', 'pg_restore');
  const restoreCandidates = [
    ...((await isExecutable(beside)) ? [beside] : []),
    await onPath('pg_restore', searchPath),
    ...(await installed('pg_restore', roots)),
  ].filter((c): c is string => c !== undefined);
  let pgRestore: PgTool;
  try {
    pgRestore = await pick('pg_restore', restoreCandidates, pgDump.version.num, {
      num: pgDump.version.num,
      major: pgDump.version.major,
    });
  } catch (error) {
    if (error instanceof MigrateError && error.code === 'pg-restore-not-found') {
      throw notFound(
        'pg_restore',
        pgDump.version.major,
        `not beside ${pgDump.path}, not on PATH, nothing under /usr/lib/postgresql/*/bin`,
      );
    }
    throw error;
  }
  return { pgDump, pgRestore };
}

/** The tools a caller passed, or the ones found for this server (PG_DUMP_PATH first): take and restore share it. */
export function toolsFor(
  server: ServerVersion,
  options: {
    readonly tools?: PgTools | undefined;
    readonly pgDumpPath?: string | undefined;
    readonly searchPath?: string | undefined;
    readonly installRoots?: readonly string[] | undefined;
  },
): Promise<PgTools> {
  if (options.tools) return Promise.resolve(options.tools);
  return findPgTools({
    explicitPath: options.pgDumpPath,
    serverVersionNum: server.num,
    searchPath: options.searchPath,
    ...(options.installRoots ? { installRoots: options.installRoots } : {}),
  });
}
