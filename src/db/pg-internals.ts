/**
 * The only file that touches `pg`'s undocumented internals. Each function names what it depends on, so that a
 * `pg` upgrade that moves them breaks here, in one place, and a test of the executor notices.
 *
 * Depends on (pg 8.x, checked against 8.16):
 * - `Client#connection`: the protocol `Connection`, an EventEmitter that emits `commandComplete` once per
 *   CommandComplete message of the backend (one per statement of a simple query). Used to count how many
 *   statements of a multi-statement query finished before an error, i.e. which statement failed.
 * - `Client#processID`: the backend pid, set from the BackendKeyData message at connect. Used to cancel the
 *   running statement from a second connection (pg_cancel_backend) and to tell a monitor which backend to watch.
 * - `Client#connectionParameters` / `Pool#options`: the resolved configuration of a client or pool the
 *   library was handed, to open a second connection to the same server (the canceller) without asking the
 *   app for its settings again. Also where pg keeps what it took from the environment (PGOPTIONS,
 *   PGREPLICATION) for a setting the configuration leaves out; the startup message is built from it at connect.
 */
import pg from 'pg';
import type { Client } from './connection.js';

/** Calls `onComplete` after each statement the backend completes; returns the function that stops listening. */
export function onStatementComplete(client: Client, onComplete: () => void): () => void {
  const connection = (client as unknown as { connection: NodeJS.EventEmitter }).connection;
  connection.on('commandComplete', onComplete);
  return () => {
    connection.off('commandComplete', onComplete);
  };
}

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
