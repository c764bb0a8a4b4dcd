/**
 * libpq's password file (~/.pgpass, PGPASSFILE): `hostname:port:database:username:password` lines, `*`
 * matching anything in the first four fields, `\:` and `\\` escaping, `#` comments, the first match winning.
 * As libpq, a file that group or others may read is ignored (it would leak passwords), and `localhost`
 * matches a connection over the default socket directory. tidemark reads it itself because pg's own
 * support is deprecated, reads process.env, and prints a warning on every use.
 */
import { promises as fsp } from 'node:fs';
import type { ConnectionParams } from './params.js';

const DEFAULT_SOCKET_DIR = '/var/run/postgresql';

/** The fields of one line, unescaped; undefined for comments, blank and short lines. */
export function parsePassfileLine(line: string): string[] | undefined {
  if (line.startsWith('#') || line.trim() === '') return undefined;
  const fields: string[] = [];
  let current = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\' && i + 1 < line.length) {
      current += line[++i];
    } else if (c === ':' && fields.length < 4) {
      fields.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  fields.push(current);
  return fields.length === 5 ? fields : undefined;
}

/** The password for `params` in the text of a password file, or undefined. */
export function passwordFromText(
  text: string,
  params: Pick<ConnectionParams, 'host' | 'port' | 'database' | 'user'>,
): string | undefined {
  const host = params.host === '' || params.host === DEFAULT_SOCKET_DIR ? 'localhost' : params.host;
  const wanted = [host, String(params.port), params.database, params.user];
  for (const line of text.split(/\r?\n/)) {
    const fields = parsePassfileLine(line);
    if (fields && wanted.every((value, i) => fields[i] === '*' || fields[i] === value)) return fields[4];
  }
  return undefined;
}

/** Reads `path` as libpq does; undefined when it is missing, not a plain file, or readable by others. */
export async function passwordFromFile(
  path: string,
  params: Pick<ConnectionParams, 'host' | 'port' | 'database' | 'user'>,
): Promise<string | undefined> {
  try {
    const info = await fsp.stat(path);
    if (!info.isFile()) return undefined;
    if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) return undefined;
    return passwordFromText(await fsp.readFile(path, 'utf8'), params);
  } catch {
    return undefined;
  }
}
