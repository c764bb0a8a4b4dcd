/**
 * Where the database is, in one shape for both the pg driver and the libpq tools (pg_dump, pg_restore, psql).
 * The password lives only here and in the child's environment: never in a message or on a command line.
 */
import type { ClientConfig } from 'pg';
import { usageError } from '../errors.js';

export interface ConnectionParams {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | undefined;
  readonly database: string;
  /** libpq sslmode (disable, prefer, require, verify-ca, verify-full) when given. */
  readonly sslmode: string | undefined;
  readonly sslrootcert: string | undefined;
  readonly sslcert: string | undefined;
  readonly sslkey: string | undefined;
}

const DEFAULT_HOST = '/var/run/postgresql';

function osUser(): string {
  return process.env.USER ?? process.env.LOGNAME ?? 'postgres';
}

const URL_SHAPE = /^postgres(?:ql)?:\/\/(?:([^:@/?]*)(?::([^@/?]*))?@)?(\[[^\]]*\]|[^:/?]*)(?::(\d*))?(?:\/([^?]*))?(?:\?(.*))?$/;

/** True when `text` is a postgres:// or postgresql:// URL that paramsFromUrl can read. */
export function isPostgresUrl(text: string): boolean {
  return urlProblem(text) === undefined;
}

/** libpq's sslmode values; anything else is refused by libpq ("invalid sslmode value"), and by us. */
export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;

const isPort = (port: string) => /^\d+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535;
const isSslMode = (mode: string) => (SSL_MODES as readonly string[]).includes(mode);
const PORT_FORM = 'which is not a port number (1-65535)';
const SSLMODE_FORM = `which is not one of ${SSL_MODES.join(', ')}`;

/**
 * What is wrong with a DATABASE_URL, as a clause ("has port ..."), or undefined when paramsFromUrl reads it.
 * Never quotes the user, password or host: an unencoded `@` or `:` puts pieces of the password there.
 */
export function urlProblem(text: string): string | undefined {
  const match = URL_SHAPE.exec(text.trim());
  if (!match) {
    if (/^postgres(?:ql)?:\/\/[^/?]*@[^/?]*@/.test(text.trim())) return AT_PROBLEM;
    return 'is not a PostgreSQL URL; use postgres://user:password@host:5432/database';
  }
  const [, , , rawHost = '', rawPort, , rawQuery = ''] = match;
  // postgres://u:p@ss@host/db: the regex stops the password at the first @ and the rest looks like a host.
  if (rawHost.includes('@')) return AT_PROBLEM;
  const query = new URLSearchParams(rawQuery);
  const port = rawPort || query.get('port');
  if (port && !isPort(port)) return `has port ${JSON.stringify(port)}, ${PORT_FORM}`;
  const sslmode = query.get('sslmode');
  if (sslmode !== null && !isSslMode(sslmode)) return `has sslmode=${JSON.stringify(sslmode)}, ${SSLMODE_FORM}`;
  return undefined;
}

const AT_PROBLEM = 'has more than one @ before the host (the password or user name contains an unencoded @); write it as %40, e.g. postgres://app:s3%40cret@db:5432/app';

/**
 * Reads a postgres:// URL the way libpq does: percent-decoded user, password and database; `host` and `port`
 * may also come from the query (`postgres://app@/db?host=/var/run/postgresql`, which WHATWG URL rejects);
 * sslmode and friends from the query.
 */
export function paramsFromUrl(text: string): ConnectionParams {
  const problem = urlProblem(text);
  if (problem) throw usageError('bad-database-url', `DATABASE_URL ${problem}.`, { hint: 'Fix the URL (the message does not show it: it holds the password).' });
  const match = URL_SHAPE.exec(text.trim())!;
  const [, rawUser = '', rawPassword, rawHost = '', rawPort, rawDatabase = '', rawQuery = ''] = match;
  const query = new URLSearchParams(rawQuery);
  const decode = (value: string) => {
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  };
  const user = rawUser ? decode(rawUser) : (query.get('user') ?? osUser());
  const hostname = decode(rawHost.replace(/^\[(.*)\]$/, '$1'));
  const port = rawPort || query.get('port');
  return {
    host: hostname || (query.get('host') ?? DEFAULT_HOST),
    port: port ? Number(port) : 5432,
    user,
    password: rawPassword ? decode(rawPassword) : (query.get('password') ?? undefined),
    database: rawDatabase ? decode(rawDatabase) : (query.get('dbname') ?? user),
    sslmode: query.get('sslmode') ?? undefined,
    sslrootcert: query.get('sslrootcert') ?? undefined,
    sslcert: query.get('sslcert') ?? undefined,
    sslkey: query.get('sslkey') ?? undefined,
  };
}

export function paramsFromLibpq(vars: Readonly<Record<string, string>>): ConnectionParams {
  if (vars.PGPORT !== undefined && !isPort(vars.PGPORT)) throw usageError('bad-database-url', `PGPORT=${JSON.stringify(vars.PGPORT)}, ${PORT_FORM}.`);
  if (vars.PGSSLMODE !== undefined && !isSslMode(vars.PGSSLMODE)) throw usageError('bad-database-url', `PGSSLMODE=${JSON.stringify(vars.PGSSLMODE)}, ${SSLMODE_FORM}.`);
  const user = vars.PGUSER ?? osUser();
  return {
    host: vars.PGHOST ?? DEFAULT_HOST,
    port: vars.PGPORT ? Number(vars.PGPORT) : 5432,
    user,
    password: vars.PGPASSWORD,
    database: vars.PGDATABASE ?? user,
    sslmode: vars.PGSSLMODE,
    sslrootcert: vars.PGSSLROOTCERT,
    sslcert: vars.PGSSLCERT,
    sslkey: vars.PGSSLKEY,
  };
}

/** The same server, another database (restore targets, test-rollback scratch databases). */
export function withDatabase(params: ConnectionParams, database: string): ConnectionParams {
  return { ...params, database };
}

/** A URL for display: the password replaced by ***. */
export function describeParams(params: ConnectionParams): string {
  const auth = params.password === undefined ? encodeURIComponent(params.user) : `${encodeURIComponent(params.user)}:***`;
  const host = params.host.startsWith('/') ? `[socket ${params.host}]` : params.host;
  return `postgres://${auth}@${host}:${params.port}/${params.database}`;
}

/** Replaces the password of any postgres URL inside `text` with ***. For messages that quote a URL. */
export function maskPasswords(text: string, ...secrets: (string | undefined)[]): string {
  let out = text.replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)([^@\s]*)@/g, '$1***@');
  for (const secret of secrets) {
    if (secret && secret.length > 0) out = out.split(secret).join('***');
  }
  return out;
}

function sslConfig(params: ConnectionParams): ClientConfig['ssl'] {
  switch (params.sslmode) {
    case undefined:
    case 'disable':
    case 'allow':
    case 'prefer':
      return false;
    case 'require':
      // libpq's require: encrypt, do not verify (verify-ca / verify-full do).
      return { rejectUnauthorized: false };
    default:
      return { rejectUnauthorized: true };
  }
}

export function pgClientConfig(params: ConnectionParams, applicationName = 'tidemark'): ClientConfig {
  return {
    host: params.host,
    port: params.port,
    user: params.user,
    ...(params.password === undefined ? {} : { password: params.password }),
    database: params.database,
    ssl: sslConfig(params),
    application_name: applicationName,
    connectionTimeoutMillis: 10_000,
    // The kernel probes an idle connection after 10 s, so a peer that vanished (a node that died, a NAT that
    // forgot us) is noticed without traffic. It costs nothing while the connection works. A path that still
    // answers probes but no longer carries data (a frozen proxy) is the client deadline's job (db/connection).
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
}

/**
 * Environment for a libpq child process (pg_dump, pg_restore, psql): the connection goes here, not in argv,
 * so the password never shows in `ps` or /proc/PID/cmdline.
 */
export function libpqChildEnv(params: ConnectionParams, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const key of Object.keys(env)) if (key.startsWith('PG')) delete env[key];
  env.PGHOST = params.host;
  env.PGPORT = String(params.port);
  env.PGUSER = params.user;
  env.PGDATABASE = params.database;
  env.PGAPPNAME = 'tidemark';
  if (params.password !== undefined) env.PGPASSWORD = params.password;
  if (params.sslmode !== undefined) env.PGSSLMODE = params.sslmode;
  if (params.sslrootcert !== undefined) env.PGSSLROOTCERT = params.sslrootcert;
  if (params.sslcert !== undefined) env.PGSSLCERT = params.sslcert;
  if (params.sslkey !== undefined) env.PGSSLKEY = params.sslkey;
  return env;
}
