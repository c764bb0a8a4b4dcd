/**
 * Opening connections, and turning every way that can fail into one paragraph that names the cause and the fix
 * (exit 3). The password never appears: messages show describeParams(), which masks it.
 */
import type { Duplex } from 'node:stream';
import pg from 'pg';
import { MigrateError, type ErrorCode } from '../errors.js';
import {
  connectTimeoutOf,
  describeParams,
  hostAndPort,
  maskPasswords,
  pgClientConfig,
  type ConnectionParams,
} from './params.js';
import { queryWithCallback, withoutEnvironmentDefaults } from './pg-internals.js';

export type Client = pg.Client;

/**
 * How long an ordinary query (history, lock polls, catalog) may go unanswered before the connection is cut.
 * These queries are short, and those that wait for a lock run under a server-side lock_timeout; no answer
 * for this long means the path is dead, not the query slow. Migrations set their own (see withDeadline).
 */
export const DEFAULT_QUERY_DEADLINE_MS = 60_000;

/**
 * A pg client whose promise queries carry a client-side deadline: when no answer arrives in time, the socket
 * is destroyed, the query fails as a lost connection and `severed` says why. Keepalives cannot catch a path
 * that still acknowledges probes but carries no data (a frozen proxy or load balancer); this does.
 * The deadline costs one timer per query.
 */
export class WatchedClient extends pg.Client {
  #deadlineMs = DEFAULT_QUERY_DEADLINE_MS;
  /** Why the connection was cut by us, when it was. */
  severed: string | undefined;

  constructor(config: pg.ClientConfig) {
    super(config);
    // An own property rather than an override: pg's query() has a dozen typed overloads, and every promise
    // form returns a thenable, which is all the deadline needs.
    const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
    const submit = (q: pg.Query) => query.call(this, q);
    this.query = ((...args: unknown[]) => {
      // The promise forms (text or config, values) go through queryWithCallback (pg-internals.ts): pg's own
      // promise path keeps earlier queries' objects alive through scavenges. Submittables and callbacks as given.
      const [config, values, callback] = args;
      const result =
        config !== null &&
        (typeof config === 'string' ||
          (typeof config === 'object' && typeof (config as { submit?: unknown }).submit !== 'function')) &&
        typeof values !== 'function' &&
        callback === undefined
          ? queryWithCallback(submit, config as string | pg.QueryConfig, values)
          : query.apply(this, args);
      const ms = this.#deadlineMs;
      if (ms > 0 && result && typeof (result as Promise<unknown>).then === 'function') {
        const timer = setTimeout(
          () =>
            this.sever(`no answer from the server within ${ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`}`),
          ms,
        );
        const clear = () => clearTimeout(timer);
        (result as Promise<unknown>).then(clear, clear);
      }
      return result;
    }) as pg.Client['query'];
  }

  /** Runs `fn` with another deadline for each query it sends (0: none, e.g. MIGRATION_TIMEOUT=0). */
  async withDeadline<T>(ms: number, fn: () => Promise<T>): Promise<T> {
    const previous = this.#deadlineMs;
    this.#deadlineMs = ms;
    try {
      return await fn();
    } finally {
      this.#deadlineMs = previous;
    }
  }

  /** Cuts the connection now: the running query fails at once; the server notices when it next writes or probes. */
  sever(reason: string): void {
    this.severed ??= reason;
    (this as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
  }
}

/** The client-side deadline of queries on `client`, when it is ours (a library user's pool client is not). */
export function withDeadline<T>(client: Client, ms: number, fn: () => Promise<T>): Promise<T> {
  return client instanceof WatchedClient ? client.withDeadline(ms, fn) : fn();
}

/** Cuts `client`'s connection at once (see WatchedClient.sever). */
export function sever(client: Client, reason: string): void {
  if (client instanceof WatchedClient) client.sever(reason);
  else (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
}

/**
 * end() with a bound: on a dead path pg would wait for the server's goodbye forever.
 *
 * It returns once our goodbye is out (the Terminate message and our FIN handed to the kernel), not when the
 * server's FIN comes back: the server only answers it by ending the backend (a few ms of its exit work, more
 * on a busy server), which every command of the CLI, the no-op `up` of every pod start included, would wait
 * for before exiting. Nothing is lost by not waiting: the server reads Terminate and ends the session
 * cleanly whether or not we are still there (the kernel delivers what was written before the socket closes,
 * and the server sends nothing after Terminate, so no reset), and pg's own listeners (and our 'error'
 * listener, see connect) stay on the client until the socket closes.
 */
export async function closeClient(client: Client | undefined, ms = 2_000): Promise<void> {
  if (!client) return;
  let timer: NodeJS.Timeout | undefined;
  const stream = (client as unknown as { connection: { stream: Duplex } }).connection.stream;
  const ended = client.end().catch(() => {});
  const sent = new Promise<void>((resolve) => {
    if (stream.writableFinished || stream.destroyed) resolve();
    stream.once('finish', resolve);
    stream.once('close', resolve);
  });
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), ms);
  });
  if ((await Promise.race([ended, sent, late])) === 'late') stream.destroy();
  clearTimeout(timer);
}

/** Why a connection to `params` failed, as one MigrateError (exit 3) naming the cause and the fix. */
export function explain(error: unknown, params: ConnectionParams): MigrateError {
  const where = describeParams(params);
  const e = error as { code?: string; message?: string };
  const raw = maskPasswords(String(e.message ?? error), params.password);
  const make = (code: ErrorCode, message: string, hint: string) =>
    new MigrateError(code, message, { hint, cause: error, details: { database: where } });
  switch (e.code) {
    case '28P01':
      return make(
        'db-auth-failed',
        `The database refused the password for user "${params.user}" (${where}).`,
        'Check the password in {{passwordSources}}; the user name is case-sensitive.',
      );
    case '28000':
      return make(
        'db-auth-rejected',
        `The database refused user "${params.user}" (${where}): ${raw}.`,
        'Check that the role exists and that pg_hba.conf allows it from this host, or use another user.',
      );
    case '3D000':
      return make(
        'db-not-found',
        `The database "${params.database}" does not exist on ${hostAndPort(params)}.`,
        `Create it (createdb ${params.database}) or fix the database name in {{databaseUrl}}.`,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return make(
        'db-unknown-host',
        `The database host "${params.host}" could not be resolved (${where}).`,
        'Check the host name in {{databaseUrl}}; inside Kubernetes use the Service name and namespace.',
      );
    case 'ECONNREFUSED':
    case 'ENOENT':
      return make(
        'db-refused',
        `Nothing accepts connections at ${params.host.startsWith('/') ? `socket ${params.host}` : `${hostAndPort(params)}`} (${where}).`,
        'Start the server or fix the host and port in {{databaseUrl}}.{{tryEmbedded}}',
      );
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return make(
        'db-timeout',
        `The database at ${hostAndPort(params)} did not answer (${where}).`,
        'Check the host, port, firewall rules and network policy between here and the server.',
      );
    case '53300':
      return make(
        'db-too-many-connections',
        `The database has no free connection slots (${where}): ${raw}.`,
        'Wait, or raise max_connections.',
      );
    case '57P03':
      return make(
        'db-starting',
        `The database is starting up or shutting down (${where}).`,
        'Try again in a few seconds.',
      );
    default:
      if (/does not support SSL/i.test(raw)) {
        return make(
          'db-no-ssl',
          `The server at ${hostAndPort(params)} does not support SSL, but sslmode asks for it.`,
          'Remove sslmode=require from {{databaseUrl}} or enable SSL on the server.',
        );
      }
      if (/timeout/i.test(raw)) {
        return make(
          'db-timeout',
          `The database at ${hostAndPort(params)} did not answer within ${connectTimeoutOf(params)} seconds (${where}).`,
          'Check the host, port, firewall rules and network policy between here and the server.',
        );
      }
      if (/SASL|password/i.test(raw)) {
        return make(
          'db-auth-failed',
          `Authentication failed for user "${params.user}" (${where}): ${raw}.`,
          'Check the password in {{passwordSources}}.',
        );
      }
      return make(
        'db-connect-failed',
        `Could not connect to ${where}: ${raw}.`,
        'Check {{databaseUrl}} and that the server is running.',
      );
  }
}

export interface ConnectOptions {
  readonly applicationName?: string | undefined;
  /** How long connecting may take (default 10 s); shorter for a canceller that must not hang. */
  readonly connectTimeoutMs?: number | undefined;
}

/**
 * Opens one connection or throws a MigrateError with exit code 3. The one way tidemark connects from
 * parameters: the runner, the backup and restore modules and doctor all explain a failure the same way.
 */
export async function connect(params: ConnectionParams, options: ConnectOptions = {}): Promise<WatchedClient> {
  const config = pgClientConfig(params, options.applicationName);
  // Exactly the parameters: pg fills what a configuration leaves out from PG* variables, and every field it
  // can be told is told (pgClientConfig); the two it cannot be told "none" for are cleared here.
  const client = withoutEnvironmentDefaults(
    new WatchedClient(
      options.connectTimeoutMs === undefined
        ? config
        : { ...config, connectionTimeoutMillis: options.connectTimeoutMs },
    ),
    config,
  );
  return connectOrExplain(client, params);
}

/**
 * Connects `client` (made from `params`), or ends it and throws the failure explained (exit 3). It gets a silent
 * 'error' listener first: an idle client whose server goes away emits 'error', and without a listener Node would
 * crash the process; the failure itself reaches whoever awaits a query on it.
 */
export async function connectOrExplain<C extends pg.Client>(client: C, params: ConnectionParams): Promise<C> {
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw explain(error, params);
  }
  return client;
}

/** True when the error is a lost connection rather than an SQL error. */
export function isConnectionLost(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  if (e.code && /^(08|57P0[12])/.test(e.code)) return true;
  return /Connection terminated|ECONNRESET|EPIPE|ETIMEDOUT|not queryable|Client was closed/i.test(
    String(e.message ?? ''),
  );
}

export function connectionLostError(error: unknown, params: ConnectionParams): MigrateError {
  return new MigrateError('db-connection-lost', `The connection to ${describeParams(params)} was lost.`, {
    hint: 'The running migration, if any, was rolled back by the server. Run the command again when the server is back.',
    cause: error,
  });
}
