/**
 * The backup module's own short-lived connections. They are opened by the one connect path (db/connection.ts),
 * so a failure reads the same as from `status` or `up` (a missing database is db-not-found everywhere).
 */
import type pg from 'pg';
import { connect } from '../db/connection.js';
import type { ConnectionParams } from '../db/params.js';

export function openClient(params: ConnectionParams, applicationName = 'tidemark-backup'): Promise<pg.Client> {
  return connect(params, applicationName);
}

export async function closeQuietly(client: pg.Client | undefined): Promise<void> {
  await client?.end().catch(() => {});
}
