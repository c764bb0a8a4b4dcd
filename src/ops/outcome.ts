/**
 * What became of a transactional migration whose connection was lost while it ran. The file, its tracking
 * row and the `commit` travel as one query: when the connection dies the server may have committed, may
 * still be running it (a frozen path: the server does not know we are gone), or may have rolled it back.
 * Claiming a rollback would be a guess. Instead, on a fresh connection (bounded: the path may be dead):
 *
 *   1. end the old backend if it is still there (pg_terminate_backend rolls back what is not committed);
 *   2. wait, briefly, until it is gone;
 *   3. the tracking row then tells the truth: it is written in the migration's own transaction.
 *
 * When any step cannot be done, the outcome is `unknown`, and the message says how to find out.
 */
import type { TableRef } from '../config/settings.js';
import { closeClient, connect, type WatchedClient } from '../db/connection.js';
import type { ConnectionParams } from '../db/params.js';
import { quoteTable } from '../db/quote.js';

export type Outcome = 'committed' | 'rolled-back' | 'unknown';

export interface LostMigration {
  /** Backend pid of the runner's lost connection. */
  readonly pid: number;
  readonly version: string;
  readonly direction: 'up' | 'down';
}

/**
 * How long finding out may take (plus 3 s to connect): it runs while a user or an orchestrator waits for the
 * exit, e.g. Kubernetes' 30 s between SIGTERM and SIGKILL, after the cancel's grace.
 */
const SETTLE_BUDGET_MS = 8_000;

export async function settleOutcome(params: ConnectionParams, table: TableRef, lost: LostMigration): Promise<Outcome> {
  const deadline = Date.now() + SETTLE_BUDGET_MS;
  let client: WatchedClient | undefined;
  try {
    const c = (client = await connect(params, { applicationName: 'tidemark-outcome', connectTimeoutMs: 3_000 }));
    const remaining = () => Math.max(1, deadline - Date.now());
    return await c.withDeadline(SETTLE_BUDGET_MS, async () => {
      await c.query('select pg_terminate_backend($1) from pg_stat_activity where pid = $1', [lost.pid]);
      for (;;) {
        const { rows } = await c.query('select 1 from pg_stat_activity where pid = $1', [lost.pid]);
        if (rows.length === 0) break;
        if (remaining() <= 1) return 'unknown' as const;
        await new Promise((resolve) => setTimeout(resolve, Math.min(100, remaining())));
      }
      // Versions are matched by number (`1` and `001` are one version), as the history does everywhere.
      const { rows } = await c.query<{ present: boolean }>(
        `select exists (select 1 from ${quoteTable(table)} where version ~ '^[0-9]+$' and version::numeric = $1::numeric and not dirty) as present`,
        [lost.version],
      );
      const present = rows[0]?.present === true;
      return (lost.direction === 'up') === present ? ('committed' as const) : ('rolled-back' as const);
    });
  } catch {
    return 'unknown';
  } finally {
    await closeClient(client, 1_000);
  }
}
