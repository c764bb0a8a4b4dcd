/**
 * Cancelling the running migration: when it runs longer than MIGRATION_TIMEOUT, or when SIGINT/SIGTERM aborts
 * the run. The statement is cancelled from a second connection (pg_cancel_backend), because the session that
 * runs it is busy until the server answers; the server then rolls its transaction back and the session stays
 * usable, so the runner lock is still released in `finally`.
 *
 * The cancel is aimed: it is sent only while the server runs the query it means (the guarded work names it,
 * and pg_stat_activity shows that backend active on that text), and it is repeated until then. A cancel that
 * reaches an idle backend is a no-op (PostgreSQL ignores it while it reads the next command): a signal in the
 * instant between sending a migration and its arrival was lost that way, and the migration ran until the grace
 * cut the connection. A blind repeat is no fix either: the next migration may already be queued behind it
 * (core/executor sends it ahead), and a statement's tracking row follows it.
 *
 * A live monitor of locks and blocked sessions (ops/) watches the same backend: the executor announces it in
 * its `migration-start` event (`backendPid`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { sever, withDeadline, type Client } from '../db/connection.js';
import type { Lease } from '../db/connector.js';
import { backendPid } from '../db/pg-internals.js';

export type CancelReason = 'timeout' | 'signal';

/**
 * After a cancel, how long the statement may take to come back before its connection is cut: the cancel
 * travels over a second connection, perhaps on the same dead path, and a frozen path answers nothing. The
 * failure is then a lost connection, whose outcome core/failure finds out (ops/outcome) instead of assuming.
 */
export const CANCEL_GRACE_MS = 5_000;
/** How long pg_cancel_backend itself may go unanswered. */
const CANCEL_QUERY_DEADLINE_MS = 5_000;

export interface CancelOptions {
  /** MIGRATION_TIMEOUT in milliseconds; 0 = no limit. */
  readonly timeoutMs: number;
  /** Aborted by SIGINT/SIGTERM (its reason is the signal's name). */
  readonly signal: AbortSignal | undefined;
  /** A second connection to the same server, closed right after the cancel. */
  readonly side: () => Promise<Lease>;
}

/** The work was cancelled before (or between) statements: nothing of the current statement was sent. */
export class CancelledError extends Error {
  readonly reason: CancelReason;
  constructor(reason: CancelReason, detail: string) {
    super(`cancelled (${detail})`);
    this.name = 'CancelledError';
    this.reason = reason;
  }
}

/**
 * How much of the aimed query's text is compared with pg_stat_activity.query (which keeps the first
 * track_activity_query_size bytes, at least 99): enough to tell two migrations apart (the executor puts the
 * migration's version near the start of its text), little to send on every try.
 */
const AIM_CHARS = 1024;
/** Between two tries of a cancel whose query has not reached the server yet: short at first, then 100 ms. */
const FIRST_RETRY_MS = 5;
const LONGEST_RETRY_MS = 100;

/**
 * Cancels backend `pid`'s query only if it is running the one aimed at: active, on a text that one of the two
 * starts with (the view keeps only the first track_activity_query_size bytes of it). When the view cannot say
 * what the backend runs (track_activities off for it: state 'disabled'; no right to see it: state null) the
 * cancel is sent as before, blind. One row: a cancel was sent (or refused); no row: the backend runs
 * something else or nothing, try again.
 */
const AIMED_CANCEL_SQL =
  `select pg_cancel_backend(pid) as sent from pg_stat_activity where pid = $1 and ` +
  `(state is null or state = 'disabled' or (state = 'active' and query <> '' and (starts_with($2, query) or starts_with(query, $2))))`;

/**
 * What a cancel aims at, asked before each try: the text of the query now sent (`string`), none at this
 * moment (`undefined`: try again later), or the work is over (`null`: stop).
 */
export type Aim = () => string | null | undefined;

/**
 * Cancels backend `pid`'s query `aim()` from a second connection, trying again (while the work goes on) until
 * the server runs it: a query sent an instant ago may not have reached it yet. Never throws.
 */
export async function cancelBackend(side: () => Promise<Lease>, pid: number, aim: Aim): Promise<void> {
  let lease: Lease | undefined;
  try {
    lease = await side();
    const client = lease.client;
    for (let wait = FIRST_RETRY_MS; ; wait = Math.min(wait * 2, LONGEST_RETRY_MS)) {
      const sql = aim();
      if (sql === null) return;
      if (sql !== undefined) {
        const { rows } = await withDeadline(client, CANCEL_QUERY_DEADLINE_MS, () =>
          client.query(AIMED_CANCEL_SQL, [pid, sql.slice(0, AIM_CHARS)]),
        );
        if (rows.length > 0) return;
      }
      await sleep(wait);
    }
  } catch {
    // The server is gone or refuses: the statement's own timeouts and the grace still apply.
  } finally {
    await lease?.release().catch(() => {});
  }
}

/**
 * Runs `fn` with the timeout and the abort signal wired to cancel `client`'s running statement. `fn` gets a
 * function saying whether (and why) a cancel was requested, to tell a cancelled statement from a failed one,
 * and one to aim the cancel: `aim(sql)` right before it sends a query a cancel may stop, `aim(undefined)` once
 * its answer came (the queries between, such as a tracking row, are never cancelled). Throws CancelledError
 * when the signal was already aborted, unless `inFlight` (the work was sent before: it is cancelled at once
 * instead).
 */
export async function guarded<T>(
  client: Client,
  options: CancelOptions,
  fn: (cancelReason: () => CancelReason | undefined, aim: (sql: string | undefined) => void) => Promise<T>,
  inFlight = false,
): Promise<T> {
  let reason: CancelReason | undefined;
  let grace: NodeJS.Timeout | undefined;
  let target: string | undefined;
  let over = false;
  const pid = backendPid(client);
  const cancel = (why: CancelReason) => {
    if (reason) return;
    reason = why;
    void cancelBackend(options.side, pid, () => (over ? null : target));
    grace = setTimeout(() => sever(client, `no answer ${CANCEL_GRACE_MS / 1000} s after the cancel`), CANCEL_GRACE_MS);
  };
  const { signal, timeoutMs } = options;
  const timer = timeoutMs > 0 ? setTimeout(() => cancel('timeout'), timeoutMs) : undefined;
  const onAbort = () => cancel('signal');
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (signal?.aborted) {
      if (!inFlight) throw new CancelledError('signal', String(signal.reason));
      cancel('signal');
    }
    // No per-query deadline inside: a statement may rightly run for hours (MIGRATION_TIMEOUT=0); the cancel
    // and its grace bound it instead.
    return await withDeadline(client, 0, () =>
      fn(
        () => reason,
        (sql) => {
          target = sql;
        },
      ),
    );
  } finally {
    over = true;
    if (timer) clearTimeout(timer);
    if (grace) clearTimeout(grace);
    signal?.removeEventListener('abort', onAbort);
  }
}
