/**
 * Cancelling the running migration: when it runs longer than MIGRATION_TIMEOUT, or when SIGINT/SIGTERM aborts
 * the run. The statement is cancelled from a second connection (pg_cancel_backend), because the session that
 * runs it is busy until the server answers; the server then rolls its transaction back and the session stays
 * usable, so the runner lock is still released in `finally`.
 *
 * A live monitor of locks and blocked sessions (ops/) watches the same backend: the executor announces it in
 * its `migration-start` event (`backendPid`).
 */
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

/** Cancels the running statement of backend `pid` from a second connection. Never throws. */
export async function cancelBackend(side: () => Promise<Lease>, pid: number): Promise<void> {
  try {
    const lease = await side();
    try {
      await withDeadline(lease.client, CANCEL_QUERY_DEADLINE_MS, () =>
        lease.client.query('select pg_cancel_backend($1)', [pid]),
      );
    } finally {
      await lease.release();
    }
  } catch {
    // The server is gone or refuses: the statement's own timeouts still apply.
  }
}

/**
 * Runs `fn` with the timeout and the abort signal wired to cancel `client`'s running statement. `fn` gets a
 * function saying whether (and why) a cancel was requested, to tell a cancelled statement from a failed one.
 * Throws CancelledError when the signal was already aborted, unless `inFlight` (the work was sent before:
 * it is cancelled at once instead).
 */
export async function guarded<T>(
  client: Client,
  options: CancelOptions,
  fn: (cancelReason: () => CancelReason | undefined) => Promise<T>,
  inFlight = false,
): Promise<T> {
  let reason: CancelReason | undefined;
  let grace: NodeJS.Timeout | undefined;
  const pid = backendPid(client);
  const cancel = (why: CancelReason) => {
    if (reason) return;
    reason = why;
    void cancelBackend(options.side, pid);
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
    return await withDeadline(client, 0, () => fn(() => reason));
  } finally {
    if (timer) clearTimeout(timer);
    if (grace) clearTimeout(grace);
    signal?.removeEventListener('abort', onAbort);
  }
}
