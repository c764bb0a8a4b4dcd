/**
 * Reading SQL files off disk as they are mounted in the field, and never changing a byte of them.
 *
 * - Kubernetes ConfigMap, Secret and projected volumes are folders of symlinks (`001_x.sql -> ..data/001_x.sql`,
 *   `..data -> ..2024_01_15_10_00_00.123/`): links are followed, the `..`-prefixed bookkeeping entries skipped
 *   (as every dot entry is), and a link that loops or points nowhere is reported by name instead of ignored.
 * - A file that is not valid UTF-8 is refused with the line and column of its first bad byte: decoding it
 *   would replace the byte with U+FFFD and store something the author never wrote (psql and the server
 *   refuse such a file too).
 */
import { isUtf8 } from 'node:buffer';
import { readdir, readFileSync, readlinkSync, statSync, type Dirent } from 'node:fs';
import { usageError } from '../errors.js';

export interface SqlListing {
  /** Names of the entries that are, or link to, regular files ending in .sql. */
  readonly names: string[];
  /** Entries named like SQL files that cannot be read as one: each names the entry and what is wrong. */
  readonly problems: string[];
  /** Names of the other folders in `dir` (not links to folders), for a caller that checks their names. */
  readonly folders: string[];
}

/**
 * The .sql files of `dir` (links followed); undefined when the folder does not exist. `show` turns a path
 * into what messages print.
 */
export async function listSqlEntries(dir: string, show: (path: string) => string): Promise<SqlListing | undefined> {
  let entries: Dirent[];
  try {
    // The callback form: node's promise API loads its own module (and readline's) on first use, ~1 ms of
    // every start that nothing else on a no-op `up` needs.
    entries = await new Promise<Dirent[]>((resolve, reject) =>
      readdir(dir, { withFileTypes: true }, (error, found) => (error ? reject(error) : resolve(found))),
    );
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw usageError('folder-unreadable', `Cannot read the folder ${dir}: ${(error as Error).message}.`, {
      cause: error,
    });
  }
  const names: string[] = [];
  const problems: string[] = [];
  const folders: string[] = [];
  // An indexed loop: a for-of allocates an iterator result per entry in code that runs once (never optimized),
  // for each of the thousand entries every `up` lists.
  for (let i = 0; i < entries.length; i += 1) {
    const entry = entries[i]!;
    const name = entry.name;
    // `.`-prefixed entries include kubelet's `..data` and `..<timestamp>` folders: the files are reached
    // through the links beside them, never through these.
    if (name.startsWith('.')) continue;
    if (!name.endsWith('.sql')) {
      if (entry.isDirectory()) folders.push(name);
      continue;
    }
    if (entry.isFile()) {
      names.push(name);
      continue;
    }
    const path = `${dir}/${name}`;
    if (entry.isDirectory()) {
      problems.push(`${show(path)}: is a folder, not a file (a migration is one .sql file)`);
      continue;
    }
    if (!entry.isSymbolicLink()) {
      problems.push(`${show(path)}: is not a regular file`);
      continue;
    }
    // Only links pay a stat: a plain folder of a thousand files costs nothing more than before.
    try {
      const target = statSync(path);
      if (target.isFile()) names.push(name);
      else if (target.isDirectory()) problems.push(`${show(path)}: is a link to a folder, not to a file`);
      else problems.push(`${show(path)}: is a link to something that is not a regular file`);
    } catch (error) {
      problems.push(`${show(path)}: ${linkProblem(path, error as NodeJS.ErrnoException)}`);
    }
  }
  return { names, problems, folders };
}

function linkProblem(path: string, error: NodeJS.ErrnoException): string {
  let target = '';
  try {
    target = readlinkSync(path);
  } catch {
    // The link vanished meanwhile; the errno below still says what happened.
  }
  switch (error.code) {
    case 'ELOOP':
      return `is a symbolic link that loops (-> ${target}); point it at a file`;
    case 'ENOENT':
      return `is a symbolic link to ${target}, which does not exist (a dangling link); fix or remove it`;
    case 'EACCES':
      return `is a symbolic link to ${target}, which this user may not read (EACCES); fix its permissions`;
    default:
      return `is a symbolic link that cannot be followed (${error.code ?? error.message})`;
  }
}

/** Why a file could not be read, as one clause for a problem list. */
export function readProblem(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  switch (e.code) {
    case 'EACCES':
    case 'EPERM':
      return `cannot be read by this user (${e.code}); fix its permissions (e.g. chmod a+r), or run as its owner`;
    case 'ENOENT':
      return 'disappeared while it was being read';
    case 'EISDIR':
      return 'is a folder, not a file';
    default:
      return `cannot be read (${e.code ?? e.message})`;
  }
}

/** Where the first byte of `bytes` that is not valid UTF-8 sits: 0-based offset, 1-based line and column. */
export function firstInvalidUtf8(bytes: Uint8Array): { offset: number; line: number; column: number } | undefined {
  let line = 1;
  let column = 1; // in characters, counted as we go
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    let length: number;
    let min: number;
    if (b < 0x80) {
      if (b === 0x0a) {
        line += 1;
        column = 1;
        i += 1;
        continue;
      }
      length = 1;
      min = 0;
    } else if (b >= 0xc2 && b <= 0xdf) {
      length = 2;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      min = 0x10000;
    } else {
      return { offset: i, line, column };
    }
    let code = length === 1 ? b : b & (0xff >> (length + 1));
    for (let k = 1; k < length; k += 1) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return { offset: i, line, column };
      code = (code << 6) | (c & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are invalid too.
    if (code < min || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) return { offset: i, line, column };
    i += length;
    column += 1;
  }
  return undefined;
}

/**
 * Reads `path` as UTF-8 text (a BOM is left for the caller to strip). Throws a string problem naming the
 * first bad byte when the bytes are not UTF-8; errno errors pass through.
 *
 * readFileSync(path, 'utf8') is one call into node (open, read, close and the decoding in C++): the thousand
 * files of every `up` pay no JavaScript per system call and no Buffer. Its decoder puts U+FFFD where bytes are
 * not UTF-8, so a text holding U+FFFD is checked again byte by byte: a file may hold the character itself.
 * The options are one object made once (UTF8): given the string 'utf8', node copies its defaults into a new
 * object with a spread on every call, in code that never gets optimized (~3 µs a file, a tenth of the read).
 */
const UTF8 = Object.freeze({ encoding: 'utf8', flag: 'r' } as const);

export function readUtf8Sync(path: string): string {
  const text = readFileSync(path, UTF8);
  if (!text.includes('\uFFFD')) return text;
  const bytes = readFileSync(path);
  // isUtf8 is one SIMD pass.
  if (!isUtf8(bytes)) {
    const bad = firstInvalidUtf8(bytes);
    throw new NotUtf8Error(bad?.line ?? 1, bad?.column ?? 1, bad ? bytes[bad.offset]! : 0);
  }
  return bytes.toString('utf8');
}

export class NotUtf8Error extends Error {
  readonly line: number;
  readonly column: number;
  constructor(line: number, column: number, byte: number) {
    super(
      `${line}:${column}: is not valid UTF-8 (byte 0x${byte.toString(16).padStart(2, '0')}); tidemark runs files byte for byte and will not guess an encoding. ` +
        "Convert it (e.g. iconv -f LATIN1 -t UTF-8), or write the character as an escape (E'\\u00e9')",
    );
    this.line = line;
    this.column = column;
  }
}
