/**
 * Who holds the lock a backend waits for: pg_blocking_pids() joined with pg_stat_activity, asked from a second
 * connection while the migration's statement waits. After a lock timeout (55P03) the migration no longer waits
 * and pg_blocking_pids() is empty, so the facts must be taken during the wait (see ops/monitor.ts).
 */
import type { Client } from '../db/connection.js';

/** One session that blocks the migration, as an operator needs it to decide what to do. */
export interface LockBlocker {
  readonly pid: number;
  readonly applicationName: string;
  readonly user: string | null;
  readonly clientAddress: string | null;
  /** pg_stat_activity.state: `idle in transaction` is the classic culprit. */
  readonly state: string | null;
  /** How long its transaction has been open, in ms (null outside a transaction). */
  readonly transactionMs: number | null;
  /** The first line of its current (or last) query, at most 120 characters. */
  readonly query: string;
  /** What the migration waits for: the relation (or lock type) and the mode it asked for. */
  readonly waitingFor: string | null;
}

const QUERY_CHARS = 120;

/** The first non-empty line of a query, shortened: enough to recognise it, never a whole report. */
export function firstLine(query: string | null | undefined): string {
  const line =
    (query ?? '')
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.length > 0) ?? '';
  return line.length > QUERY_CHARS ? `${line.slice(0, QUERY_CHARS - 1)}…` : line;
}

/** The sessions `pid` waits for now; [] when it does not wait. One cheap query (the lock manager is read once). */
export async function blockersOf(client: Client, pid: number): Promise<LockBlocker[]> {
  const { rows } = await client.query<{
    pid: number;
    application_name: string | null;
    usename: string | null;
    client_addr: string | null;
    state: string | null;
    xact_ms: number | null;
    query: string | null;
    waiting_for: string | null;
  }>(
    `with waiting as (
       select coalesce(l.relation::regclass::text, l.locktype) || ' (' || l.mode || ')' as what
         from pg_catalog.pg_locks l where l.pid = $1 and not l.granted limit 1
     )
     select a.pid, a.application_name, a.usename, host(a.client_addr) as client_addr, a.state,
            (extract(epoch from now() - a.xact_start) * 1000)::float8 as xact_ms, a.query,
            (select what from waiting) as waiting_for
       from unnest(pg_catalog.pg_blocking_pids($1)) as b(pid)
       join pg_catalog.pg_stat_activity a on a.pid = b.pid
      order by a.xact_start nulls last`,
    [pid],
  );
  return rows.map((r) => ({
    pid: r.pid,
    applicationName: r.application_name ?? '',
    user: r.usename,
    clientAddress: r.client_addr,
    state: r.state,
    transactionMs: r.xact_ms === null ? null : Math.round(r.xact_ms),
    query: firstLine(r.query),
    waitingFor: r.waiting_for,
  }));
}

/** "pid 4242 (app billing, user app from 10.0.0.7, idle in transaction for 12.3 s: SELECT ...)" */
export function describeBlocker(b: LockBlocker): string {
  const who = [
    `app ${b.applicationName || '(no application_name)'}`,
    b.user ? `user ${b.user}` : '',
    b.clientAddress ? `from ${b.clientAddress}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  const age = b.transactionMs === null ? '' : ` for ${(b.transactionMs / 1000).toFixed(1)} s`;
  const state = b.state
    ? `, ${b.state}${b.state.includes('transaction') || b.transactionMs === null ? age : ` in a transaction open${age}`}`
    : '';
  return `pid ${b.pid} (${who}${state}${b.query ? `: ${b.query}` : ''})`;
}
