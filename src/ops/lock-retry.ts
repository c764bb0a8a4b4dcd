/**
 * When a migration that hit `lock_timeout` is tried again. The executor asks one question after each failed
 * attempt: "retry attempt `attempt` after this error, and after how long?" Everything else about the policy
 * (which errors count, the backoff, reporting who blocked us) lives behind that question, so it can be
 * replaced without touching the executor.
 */

/** SQLSTATE lock_not_available: lock_timeout (or NOWAIT) expired. */
export const LOCK_NOT_AVAILABLE = '55P03';

export interface LockRetryPolicy {
  /**
   * Called after attempt `attempt` (1-based) of a transactional migration failed with `error` (a pg error, not
   * a cancellation). Returns the milliseconds to wait before the next attempt, or undefined to give up and
   * report the failure. Only transactional migrations are retried: their failed attempt left nothing behind.
   */
  retryAfterMs(attempt: number, error: unknown): number | undefined;
  /** How many attempts at most (for messages: "on each of N attempts"). */
  readonly maxAttempts: number;
}

/** The default: LOCK_RETRIES retries on lock_timeout, waiting 1 s, 2 s, 4 s ... (at most 30 s) between them. */
export function exponentialLockRetry(retries: number): LockRetryPolicy {
  return {
    maxAttempts: retries + 1,
    retryAfterMs(attempt, error) {
      if ((error as { code?: string } | undefined)?.code !== LOCK_NOT_AVAILABLE || attempt > retries) return undefined;
      return Math.min(1000 * 2 ** (attempt - 1), 30_000);
    },
  };
}
