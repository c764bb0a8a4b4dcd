/**
 * Where the database is, in one shape for both the pg driver and the libpq tools (pg_dump, pg_restore, psql).
 * The password lives only here and in the child's environment: never in a message or on a command line.
 */
import type { ClientConfig } from 'pg';

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
  return URL_SHAPE.test(text.trim());
}

/**
 * Reads a postgres:// URL the way libpq does: percent-decoded user, password and database; `host` and `port`
 * may also come from the query (`postgres://app@/db?host=/var/run/postgresql`, which WHATWG URL rejects);
 * sslmode and friends from the query.
 */
export function paramsFromUrl(text: string): ConnectionParams {
  const match = URL_SHAPE.exec(text.trim());
  if (!match) throw new Error('not a postgres:// URL');
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
