/**
 * The server's side of watching the runner's connection. A migration is sent as one query ending in
 * `commit`; a server that does not look at the socket while it runs finishes and commits it long after the
 * runner died (kill -9, a node lost), and keeps the runner lock until then. Two session settings make the
 * server look:
 *
 * - client_connection_check_interval (PostgreSQL >= 14): during a query, the backend polls the socket; a
 *   closed one (the runner's process died, its kernel sent FIN/RST) aborts the query, rolls the transaction
 *   back and ends the session, which releases the advisory lock.
 *   https://www.postgresql.org/docs/current/runtime-config-connection.html#GUC-CLIENT-CONNECTION-CHECK-INTERVAL
 * - tcp_keepalives_*: a peer that vanished without a word (power loss, a partition) stops answering
 *   probes; the socket then errors, and the same check notices it.
 *
 * Both are set for the runner's session only (it ends with the run) and only once there is work to do: the
 * no-op `up` of every pod start pays nothing.
 */
import type { Client } from './connection.js';

/** How often the backend polls the runner's socket during a query. */
export const CONNECTION_CHECK_INTERVAL_MS = 1_000;

/**
 * Asks the server to notice promptly when the runner is gone. `WATCH_SQL` is the same as text, for the
 * executor to send again after each migration's `reset all` (which would undo it). One round trip; on PostgreSQL < 14 only the
 * keepalives are set (client_connection_check_interval does not exist there, and naming it would fail: the CASE
 * keeps it unevaluated). A `select` without columns (the calls are its one-time filter, each true): the answer
 * is a row of nothing, which costs the client no field descriptions, values or row object, after every
 * migration.
 */
export const WATCH_SQL =
  `select where set_config('tcp_keepalives_idle', '10', false) is not null and ` +
  `set_config('tcp_keepalives_interval', '5', false) is not null and set_config('tcp_keepalives_count', '3', false) is not null ` +
  `and (case when current_setting('server_version_num')::int >= 140000 ` +
  `then set_config('client_connection_check_interval', '${CONNECTION_CHECK_INTERVAL_MS}ms', false) else '' end) is not null`;

export async function watchRunnerSession(client: Client): Promise<void> {
  await client.query(WATCH_SQL);
}
