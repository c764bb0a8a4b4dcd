/**
 * Where the database is, in one shape for both the pg driver and the libpq tools (pg_dump, pg_restore, psql).
 * The password lives only here and in the child's environment: never in a message or on a command line.
 */
import { userInfo } from 'node:os';
import type { ClientConfig } from 'pg';
import { passwordFromFile } from './passfile.js';
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
  /**
   * libpq's connect_timeout in seconds (PGCONNECT_TIMEOUT, `?connect_timeout=`): 0 or less waits for ever, 1
   * means 2 (libpq's minimum). Unset: tidemark's own 10 s, so a wrong host fails a deploy instead of hanging it.
   */
  readonly connectTimeoutSeconds?: number | undefined;
  /**
   * The password file (PGPASSFILE, `?passfile=`, else ~/.pgpass as the CLI sets it), read as libpq does when
   * no password is given and the server asks for one.
   */
  readonly passfile?: string | undefined;
}

const DEFAULT_HOST = '/var/run/postgresql';

/**
 * libpq's default user: the name of the effective OS user (getpwuid, as libpq's pg_fe_getauthname), not the
 * USER variable; 'postgres' when the uid has no passwd entry (a container run under an arbitrary uid).
 */
function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'postgres';
  }
}

const URL_SHAPE =
  /^postgres(?:ql)?:\/\/(?:([^:@/?]*)(?::([^@/?]*))?@)?(\[[^\]]*\]|[^:/?]*)(?::(\d*))?(?:\/([^?]*))?(?:\?(.*))?$/;

/** True when `text` is a postgres:// or postgresql:// URL that paramsFromUrl can read. */
export function isPostgresUrl(text: string): boolean {
  return urlProblem(text) === undefined;
}

/** libpq's keywords, as a URL's query or the PG* variables give them; undefined where not given. */
type Keywords = Partial<
  Record<
    | 'host'
    | 'port'
    | 'user'
    | 'password'
    | 'dbname'
    | 'sslmode'
    | 'sslrootcert'
    | 'sslcert'
    | 'sslkey'
    | 'connect_timeout'
    | 'passfile',
    string
  >
>;

const VARIABLE_OF: Readonly<Record<keyof Keywords, string>> = {
  host: 'PGHOST',
  port: 'PGPORT',
  user: 'PGUSER',
  password: 'PGPASSWORD',
  dbname: 'PGDATABASE',
  sslmode: 'PGSSLMODE',
  sslrootcert: 'PGSSLROOTCERT',
  sslcert: 'PGSSLCERT',
  sslkey: 'PGSSLKEY',
  connect_timeout: 'PGCONNECT_TIMEOUT',
  passfile: 'PGPASSFILE',
};

function keywordsOfVariables(vars: Readonly<Record<string, string | undefined>>): Keywords {
  const out: Keywords = {};
  for (const [key, name] of Object.entries(VARIABLE_OF) as [keyof Keywords, string][]) {
    const value = vars[name];
    if (value !== undefined && value !== '') out[key] = value;
  }
  return out;
}

/**
 * Refuses a PGPORT or PGSSLMODE that would be used (the URL does not give its own) and libpq would refuse;
 * the message names the variable.
 */
function checkVariables(fromVars: Keywords, fromUrl: Keywords): Keywords {
  if (fromUrl.port === undefined && fromVars.port !== undefined && !isPort(fromVars.port)) {
    throw usageError('bad-database-url', `PGPORT=${JSON.stringify(fromVars.port)}, ${PORT_FORM}.`);
  }
  if (fromUrl.sslmode === undefined && fromVars.sslmode !== undefined && !isSslMode(fromVars.sslmode)) {
    throw usageError('bad-database-url', `PGSSLMODE=${JSON.stringify(fromVars.sslmode)}, ${SSLMODE_FORM}.`);
  }
  return fromVars;
}

/** Built-in defaults last, as libpq: the database defaults to the user, the user to the OS user. */
function resolveKeywords(k: Keywords): ConnectionParams {
  const user = k.user ?? osUser();
  const timeout = k.connect_timeout === undefined ? undefined : Number.parseInt(k.connect_timeout, 10);
  return {
    host: k.host ?? DEFAULT_HOST,
    port: k.port ? Number(k.port) : 5432,
    user,
    password: k.password,
    database: k.dbname ?? user,
    sslmode: k.sslmode,
    sslrootcert: k.sslrootcert,
    sslcert: k.sslcert,
    sslkey: k.sslkey,
    connectTimeoutSeconds: timeout === undefined || Number.isNaN(timeout) ? undefined : timeout,
    passfile: k.passfile,
  };
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
    // postgres://app:ab/cd@db/app: a generated password (base64) often holds a / that ends the host part early.
    const userinfo = /^postgres(?:ql)?:\/\/(.*)@/.exec(text.trim())?.[1];
    if (userinfo !== undefined && /[/?]/.test(userinfo)) return RESERVED_PROBLEM;
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

const RESERVED_PROBLEM =
  'is not a PostgreSQL URL: the password or user name contains an unencoded / or ?; write / as %2F and ? as %3F, e.g. postgres://app:s3%2Fcret@db:5432/app';
const AT_PROBLEM =
  'has more than one @ before the host (the password or user name contains an unencoded @); write it as %40, e.g. postgres://app:s3%40cret@db:5432/app';

/**
 * Reads a postgres:// URL the way libpq does: percent-decoded user, password and database; `host` and `port`
 * may also come from the query (`postgres://app@/db?host=/var/run/postgresql`, which WHATWG URL rejects);
 * sslmode, connect_timeout, passfile and friends from the query. `vars` (the PG* variables) fill what the
 * URL leaves out, as they do for psql and pg_dump.
 */
export function paramsFromUrl(text: string, vars: Readonly<Record<string, string | undefined>> = {}): ConnectionParams {
  const problem = urlProblem(text);
  if (problem)
    throw usageError('bad-database-url', `DATABASE_URL ${problem}.`, {
      hint: 'Fix the URL (the message does not show it: it holds the password).',
    });
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
  const fromUrl: Keywords = {};
  for (const key of Object.keys(VARIABLE_OF) as (keyof Keywords)[]) {
    const value = query.get(key);
    if (value !== null && value !== '') fromUrl[key] = value;
  }
  const hostname = decode(rawHost.replace(/^\[(.*)\]$/, '$1'));
  if (rawUser) fromUrl.user = decode(rawUser);
  if (rawPassword) fromUrl.password = decode(rawPassword);
  if (hostname) fromUrl.host = hostname;
  if (rawPort) fromUrl.port = rawPort;
  if (rawDatabase) fromUrl.dbname = decode(rawDatabase);
  return resolveKeywords({ ...checkVariables(keywordsOfVariables(vars), fromUrl), ...fromUrl });
}

/** Connection parameters from libpq's PG* variables alone (no DATABASE_URL). */
export function paramsFromLibpq(vars: Readonly<Record<string, string | undefined>>): ConnectionParams {
  return resolveKeywords(checkVariables(keywordsOfVariables(vars), {}));
}

/** The same server, another database (restore targets, test-rollback scratch databases). */
export function withDatabase(params: ConnectionParams, database: string): ConnectionParams {
  return { ...params, database };
}

/** A URL for display: the password replaced by ***. */
export function describeParams(params: ConnectionParams): string {
  const auth =
    params.password === undefined ? encodeURIComponent(params.user) : `${encodeURIComponent(params.user)}:***`;
  const host = params.host.startsWith('/') ? `[socket ${params.host}]` : params.host;
  return `postgres://${auth}@${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${params.port}/${params.database}`;
}

/** `host:port` for messages, an IPv6 address in brackets (`[::1]:5432`, as in a URL). */
export function hostAndPort(params: Pick<ConnectionParams, 'host' | 'port'>): string {
  return `${params.host.includes(':') ? `[${params.host}]` : params.host}:${params.port}`;
}

/**
 * Replaces the password of any postgres URL inside `text` with ***, and each of `secrets` where it stands as
 * a word of its own. Not inside a longer word: with the password `p`, "Connection terminated unexpectedly"
 * came out as "unex***ectedly", which garbled the message and showed where the password's letters were.
 */
export function maskPasswords(text: string, ...secrets: (string | undefined)[]): string {
  let out = text.replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)([^@\s]*)@/g, '$1***@');
  for (const secret of secrets) {
    if (!secret) continue;
    const escaped = secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    out = out.replace(new RegExp(`(?<![\\p{L}\\p{N}_])${escaped}(?![\\p{L}\\p{N}_])`, 'gu'), '***');
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

/**
 * pg's password callback. pg's types ask for a string, but pg treats undefined as "no password" (the server
 * then refuses the login, as libpq does when no password is supplied), which is what a file without a
 * matching line must mean.
 */
function passwordLookup(passfile: string, params: ConnectionParams): () => Promise<string> {
  return () => passwordFromFile(passfile, params) as Promise<string>;
}

/** No password: a function, because pg would take a missing or empty one from PGPASSWORD or ~/.pgpass. */
const NO_PASSWORD = (() => Promise.resolve(undefined)) as unknown as () => Promise<string>;

/** tidemark's connect timeout when none is given (libpq's default would wait for ever). */
export const DEFAULT_CONNECT_TIMEOUT_SECONDS = 10;

/** The connect timeout in seconds as libpq applies connect_timeout: 0 (none) when <= 0, at least 2. */
export function connectTimeoutOf(params: ConnectionParams): number {
  const given = params.connectTimeoutSeconds;
  if (given === undefined) return DEFAULT_CONNECT_TIMEOUT_SECONDS;
  return given <= 0 ? 0 : Math.max(given, 2);
}

export function pgClientConfig(params: ConnectionParams, applicationName = 'tidemark'): ClientConfig {
  const passfile = params.passfile;
  return {
    host: params.host,
    port: params.port,
    user: params.user,
    // Without a password, the password file is read only when the server asks for one, as libpq does. pg
    // reads PGPASSWORD when the password is missing or empty: every case gives it one (see connect()).
    password:
      params.password !== undefined && params.password !== ''
        ? params.password
        : passfile !== undefined
          ? passwordLookup(passfile, params)
          : params.password === ''
            ? () => Promise.resolve('')
            : NO_PASSWORD,
    database: params.database,
    ssl: sslConfig(params),
    application_name: applicationName,
    // Stated so that pg does not take them from PGCLIENTENCODING / PGSSLNEGOTIATION (see connect()).
    client_encoding: 'UTF8',
    sslnegotiation: 'postgres',
    connectionTimeoutMillis: connectTimeoutOf(params) * 1000,
    // The kernel probes an idle connection after 10 s, so a peer that vanished (a node that died, a NAT that
    // forgot us) is noticed without traffic. It costs nothing while the connection works. A path that still
    // answers probes but no longer carries data (a frozen proxy) is the client deadline's job (db/connection).
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
}

/**
 * What a libpq tool needs from the environment besides the connection: where programs are, the locale of its
 * messages, the time zone and the temporary folder. Nothing else of the parent reaches it: no PG* variable
 * (the connection is exactly the parameters), no secret of the application that embeds tidemark.
 */
const TOOL_VARIABLES = ['PATH', 'LANG', 'LC_ALL', 'LC_CTYPE', 'LC_MESSAGES', 'TZ', 'TMPDIR'] as const;

/**
 * Environment for a libpq child process (pg_dump, pg_restore, psql), built from the parameters: the
 * connection goes here, not in argv, so the password never shows in `ps` or /proc/PID/cmdline. `base` gives
 * only TOOL_VARIABLES (the process's own by default).
 */
export function libpqChildEnv(params: ConnectionParams, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of TOOL_VARIABLES) if (base[key] !== undefined) env[key] = base[key];
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
  if (params.connectTimeoutSeconds !== undefined) env.PGCONNECT_TIMEOUT = String(params.connectTimeoutSeconds);
  if (params.passfile !== undefined) env.PGPASSFILE = params.passfile;
  return env;
}
