/** The backup module's own short-lived connections, opened from ConnectionParams (password masked in errors). */
import pg from 'pg';
import { closeClient } from '../db/connection.js';
import { describeParams, maskPasswords, pgClientConfig, type ConnectionParams } from '../db/params.js';
import { EXIT, MigrateError } from '../errors.js';

export async function openClient(params: ConnectionParams, applicationName = 'tidemark-backup'): Promise<pg.Client> {
  const client = new pg.Client(pgClientConfig(params, applicationName));
  // A connection that drops while idle (the snapshot session waits out the whole dump) emits 'error'; with no
  // listener that crashed the process and left pg_dump running. The loss reaches whoever queries it next.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    const message = maskPasswords(String((error as Error).message ?? error), params.password);
    throw new MigrateError('db-unreachable', EXIT.unavailable, `Cannot connect to ${describeParams(params)}: ${message}.`, {
      cause: error,
      hint: 'Check DATABASE_URL (host, port, user, database) and that the server accepts connections.',
    });
  }
  return client;
}

/** Ends the connection, bounded: on a dead path pg would wait for the server's goodbye forever. */
export async function closeQuietly(client: pg.Client | undefined): Promise<void> {
  await closeClient(client);
}
