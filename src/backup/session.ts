/** The backup module's own short-lived connections, opened from ConnectionParams (password masked in errors). */
import pg from 'pg';
import { describeParams, maskPasswords, pgClientConfig, type ConnectionParams } from '../db/params.js';
import { EXIT, MigrateError } from '../errors.js';

export async function openClient(params: ConnectionParams, applicationName = 'tidemark-backup'): Promise<pg.Client> {
  const client = new pg.Client(pgClientConfig(params, applicationName));
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

export async function closeQuietly(client: pg.Client | undefined): Promise<void> {
  await client?.end().catch(() => {});
}
