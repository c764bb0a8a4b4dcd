/**
 * The only file that touches `pg`'s undocumented internals. Each function names what it depends on, so that a
 * `pg` upgrade that moves them breaks here, in one place, and a test of the executor notices.
 *
 * Depends on (pg 8.x, checked against 8.16):
 * - `Client#connection.query(text)`, which writes a simple Query message, and the Submittable interface of
 *   `pg.Query` (`submit`, `handleCommandComplete`, the constructor's callback; subclassed): a query whose completed statements are counted
 *   (which statement of a multi-statement query failed), and that can be written to the socket before its turn
 *   (the executor's next migration, sent while the one before runs). The same constructor with a callback, for
 *   the promise queries of the clients tidemark opens (queryWithCallback, used by db/connection WatchedClient).
 * - `Client#_queryQueue`: whether pg queued a query (rather than sending or refusing it).
 * - `Client#processID`: the backend pid, set from the BackendKeyData message at connect. Used to cancel the
 *   running statement from a second connection (pg_cancel_backend) and to tell a monitor which backend to watch.
 * - `Client#connectionParameters` / `Pool#options`: the resolved configuration of a client or pool the
 *   library was handed, to open a second connection to the same server (the canceller) without asking the
 *   app for its settings again. Also where pg keeps what it took from the environment (PGOPTIONS,
 *   PGREPLICATION) for a setting the configuration leaves out; the startup message is built from it at connect.
 */
import pg from 'pg';
import type { Client } from './connection.js';

/** A simple query sent with sendQuery: its results, and how many of its statements completed so far. */
export interface SentQuery {
  readonly result: Promise<pg.QueryResult[]>;
  completed(): number;
}

/**
 * Sends `text` as one simple Query message and counts the statements the server completes. pg sends one query
 * at a time: while `client` runs another, this one is queued, and written to the socket at once anyway (the
 * server reads it as soon as it is done with the one before, without waiting for our answer). pg then makes it
 * the active query when the one before ends, and its submit() skips the write. The caller must not queue
 * anything else on the client until this one has settled.
 */
export function sendQuery(client: Client, text: string): SentQuery {
  let settle!: QueryCallback;
  const result = new Promise<pg.QueryResult[]>((resolve, reject) => {
    settle = (error, results) => {
      if (error) reject(error);
      else resolve(Array.isArray(results) ? results : [results]);
    };
  });
  const query = new CountedQuery(text, settle);
  client.query(query as unknown as pg.Query);
  // Still in pg's queue (another query runs): write it now. Not queued and not written: pg refused it (a
  // closed client) and fails it itself.
  if (!query.written && (client as unknown as { _queryQueue: unknown[] })._queryQueue.includes(query)) {
    query.written = true;
    (client as unknown as { connection: { query(text: string): void } }).connection.query(text);
  }
  return { result, completed: () => query.completed };
}

type QueryCallback = (error: Error | undefined, results: pg.QueryResult | pg.QueryResult[]) => void;
/** What of pg.Query the subclass uses (pg's type declarations do not declare them). */
type QueryBase = new (
  text: string,
  values: undefined,
  callback: QueryCallback,
) => { submit(connection: unknown): Error | null; handleCommandComplete(msg: unknown, connection: unknown): void };

/**
 * pg.Query with its callback given to the constructor, a count of completed statements, and a submit() that
 * does nothing once the text was written. A subclass, not functions assigned to each query after it was made:
 * those (and a callback set after construction, as pg's own promise path does) kept every earlier query's
 * objects alive through V8's scavenges until the next full GC, ~1.4 KB per query promoted to the old
 * generation as garbage (a loop of 3000 queries: 0.4 MB surviving each scavenge before, 0.02 MB after). See
 * docs/decisions.md, "The runner's per-migration cost and memory (session 5)".
 */
class CountedQuery extends (pg.Query as unknown as QueryBase) {
  written = false;
  completed = 0;
  constructor(text: string, callback: QueryCallback) {
    super(text, undefined, callback);
  }
  override submit(connection: unknown): Error | null {
    if (this.written) return null;
    this.written = true;
    return super.submit(connection);
  }
  override handleCommandComplete(msg: unknown, connection: unknown): void {
    this.completed += 1;
    super.handleCommandComplete(msg, connection);
  }
}

/**
 * What pg's promise form of `client.query(text | config, values?)` does, with the callback given to the
 * Query's constructor (as CountedQuery does) instead of assigned to it afterwards: pg's own promise path kept
 * every earlier query's objects alive through V8's scavenges while the optimizing compiler is off (the CLI
 * holds it off during a run: cli/context.ts), ~0.5 MB promoted as garbage per scavenge in a loop of queries
 * (a no-transaction file of many statements, the lock monitor's samples, status): `up` of one file of 3000
 * such statements peaked at 100 MB. The error's stack is taken again once the promise rejects, as pg does.
 *
 * Depends on: `pg.Query(config, values, callback)` and `client.query(submittable)` returning without a
 * promise of its own.
 */
export function queryWithCallback(
  submit: (query: pg.Query) => unknown,
  config: string | pg.QueryConfig,
  values: unknown,
): Promise<pg.QueryResult> {
  return new Promise<pg.QueryResult>((resolve, reject) => {
    submit(
      new (pg.Query as unknown as QueryOf)(config, values, (error, result) =>
        error ? reject(error) : resolve(result),
      ),
    );
  }).catch(withCallersStack);
}

function withCallersStack(error: Error): never {
  Error.captureStackTrace(error);
  throw error;
}

type QueryOf = new (
  config: string | pg.QueryConfig,
  values: unknown,
  callback: (error: Error | undefined, result: pg.QueryResult) => void,
) => pg.Query;

/** The backend pid of a connected client. */
export function backendPid(client: Client): number {
  return (client as unknown as { processID: number }).processID;
}

/**
 * A pg.ClientConfig that reaches the same server as `client` (host, port, user, password, database, ssl) as
 * pg resolved them: for a second, short-lived connection.
 */
export function configOfClient(client: Client): pg.ClientConfig {
  const p = (client as unknown as { connectionParameters?: Record<string, unknown> }).connectionParameters ?? {};
  const config: Record<string, unknown> = {};
  for (const key of ['host', 'port', 'user', 'password', 'database', 'ssl', 'options', 'client_encoding']) {
    if (p[key] !== undefined && p[key] !== null) config[key] = p[key];
  }
  return config as pg.ClientConfig;
}

/** The configuration a pool opens its clients with. */
export function configOfPool(pool: pg.Pool): pg.ClientConfig {
  return { ...(pool as unknown as { options: pg.ClientConfig }).options };
}

/**
 * Forgets what pg's ConnectionParameters took from process.env for settings `config` does not state and
 * that cannot be stated as "none" (pg treats an empty value as missing): PGOPTIONS and PGREPLICATION. They
 * would reach the startup message of a client made from explicit parameters. Call before connect().
 */
export function withoutEnvironmentDefaults<C extends Client>(client: C, config: pg.ClientConfig): C {
  const p = (client as unknown as { connectionParameters: Record<string, unknown> }).connectionParameters;
  const given = config as Record<string, unknown>;
  for (const key of ['options', 'replication', 'binary']) {
    if (!given[key]) p[key] = undefined;
  }
  if (!given.replication) (client as unknown as { replication: unknown }).replication = undefined;
  return client;
}
