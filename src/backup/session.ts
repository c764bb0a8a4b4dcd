/**
 * The backup module's own short-lived connections. They are opened by the one connect path (db/connection.ts),
 * so a failure reads the same as from `status` or `up` (a missing database is db-not-found everywhere), and
 * they are watched clients: an error listener (the snapshot session idles through the whole dump, and a drop
 * with no listener crashed the process and left pg_dump running) and a deadline on each query.
 */
import type pg from 'pg';
import { closeClient, connect } from '../db/connection.js';
import type { ConnectionParams } from '../db/params.js';

export function openClient(params: ConnectionParams, applicationName = 'tidemark-backup'): Promise<pg.Client> {
  return connect(params, { applicationName });
}

/** Ends the connection, bounded: on a dead path pg would wait for the server's goodbye forever. */
export async function closeQuietly(client: pg.Client | undefined): Promise<void> {
  await closeClient(client);
}
