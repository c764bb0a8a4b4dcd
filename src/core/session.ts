/**
 * A session: the one connection a command works on, the tracking table on it, the runner lock it can take,
 * and where its events go. The migrator opens one per command and hands it to the services that need the
 * database (execution, seeding, repair, baseline, verify, status), so none of them opens or borrows
 * connections of its own, and the runner lock is always taken on the session that changes the history.
 */
import type { TableRef } from '../config/settings.js';
import { connectionLostError, isConnectionLost, type Client } from '../db/connection.js';
import type { Connector } from '../db/connector.js';
import { HistoryStore } from '../db/history.js';
import { Locker, lockKey } from '../db/lock.js';
import { watchRunnerSession } from '../db/watch.js';
import { MigrateError } from '../errors.js';
import type { EventSink } from './results.js';

export interface Session {
  readonly client: Client;
  readonly history: HistoryStore;
  readonly emit: EventSink;
  readonly connector: Connector;
  /** Runs `fn` holding the runner lock on this session; released in finally, even on a signal. */
  locked<T>(fn: () => Promise<T>): Promise<T>;
}

export interface SessionOptions {
  readonly connector: Connector;
  readonly table: TableRef;
  readonly emit: EventSink;
  readonly signal: AbortSignal | undefined;
  /** How long `locked` waits for another runner's lock. */
  readonly lockWaitMs: number;
}

/** Opens a session, runs `fn` on it and gives the connection back; a lost connection becomes exit 3. */
export async function withSession<T>(options: SessionOptions, fn: (session: Session) => Promise<T>): Promise<T> {
  const { connector } = options;
  const lease = await connector.session();
  let broken = false;
  const client = lease.client;
  const session: Session = {
    client,
    history: new HistoryStore(client, options.table),
    emit: options.emit,
    connector,
    async locked(run) {
      // The key is derived from the database's name: the CLI knows it; an app's pool or client is asked.
      const database =
        connector.database ?? (await client.query<{ db: string }>('select current_database() as db')).rows[0]!.db;
      const locker = new Locker(client, lockKey(database, options.table));
      const started = Date.now();
      let waited = false;
      await locker.acquire(
        options.lockWaitMs,
        (holder) => {
          waited = true;
          options.emit({ type: 'lock-waiting', holder });
        },
        options.signal,
      );
      if (waited) options.emit({ type: 'lock-acquired', waitedMs: Date.now() - started });
      try {
        // The session that holds the lock is the one the server must watch: if we vanish, it rolls back and
        // lets go of the lock (db/watch.ts).
        await watchRunnerSession(client);
        return await run();
      } finally {
        // A lost connection releases it on the server's side; a pooled client that kept it must not go back.
        await locker.release().catch(() => {
          broken = true;
        });
      }
    },
  };
  try {
    return await fn(session);
  } catch (error) {
    if (isConnectionLost(error)) {
      broken = true;
      throw connectionLostError(error, connector.params);
    }
    // Already explained further down (a migration that lost its connection): still not a client to reuse.
    if (error instanceof MigrateError && error.code === 'db-connection-lost') broken = true;
    throw error;
  } finally {
    await lease.release(broken);
  }
}

/** withSession with the runner lock held for the whole of `fn`: for changes to the history. */
export function withLockedSession<T>(options: SessionOptions, fn: (session: Session) => Promise<T>): Promise<T> {
  return withSession(options, (session) => session.locked(() => fn(session)));
}
