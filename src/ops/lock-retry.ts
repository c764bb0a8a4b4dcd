/**
 * The lock-retry policy: how a migration asks for its locks on a busy database without queueing the
 * application behind it for long.
 *
 * A DDL statement waiting for ACCESS EXCLUSIVE sits in the lock queue, and every query of the application that
 * arrives after it queues behind it, even plain SELECTs: one waiting ALTER TABLE behind a long report stalls the
 * whole table. So each attempt waits only briefly (lock_timeout starting at 100 ms and growing to MAX_LOCK_WAIT),
 * gives up, sleeps (with jitter, so two runners do not retry in step), and tries again: many short stalls
 * instead of one long one, and the total is bounded. Like GitLab's `with_lock_retries`
 * (https://docs.gitlab.com/ee/development/migration_style_guide.html#usage-with-transactional-migrations).
 *
 * The executor asks the policy two questions per attempt: its lock_timeout, and (after a failure) whether and
 * when to try again. The schedule is a pure function of the settings and a random source, unit-tested
 * without a database.
 */

/** SQLSTATE lock_not_available: lock_timeout (or NOWAIT) expired. */
export const LOCK_NOT_AVAILABLE = '55P03';

/**
 * What the executor asks. Only transactional migrations are retried: their failed attempt left nothing behind.
 */
export interface LockRetryPolicy {
  /** The lock_timeout of attempt `attempt` (1-based), in ms; 0 = none. */
  lockTimeoutMs(attempt: number): number;
  /**
   * Called after attempt `attempt` failed with `error` (a pg error, not a cancellation). Returns the
   * milliseconds to wait before the next attempt, or undefined to give up and report the failure.
   */
  retryAfterMs(attempt: number, error: unknown): number | undefined;
  /** How many attempts at most (for messages: "in N attempts"). */
  readonly maxAttempts: number;
  /** The longest lock_timeout of any attempt, in ms (for messages); 0 = none. */
  readonly longestLockTimeoutMs: number;
}

/** The first attempt's lock_timeout: the application's stall per attempt starts here. */
export const DEFAULT_FIRST_LOCK_TIMEOUT_MS = 100;
/** Each attempt's lock_timeout is the previous one's times this, up to MAX_LOCK_WAIT. */
export const LOCK_TIMEOUT_GROWTH = 1.5;
/** The sleep after the first failed attempt; later sleeps grow by SLEEP_GROWTH up to MAX_SLEEP_MS. */
export const FIRST_SLEEP_MS = 200;
export const SLEEP_GROWTH = 1.5;
export const MAX_SLEEP_MS = 3_000;

export type FinalAttempt = 'fail' | 'wait';

export interface LockSchedule {
  /** Attempts in all (LOCK_RETRIES + 1), not counting a final `wait` attempt. */
  readonly attempts: number;
  readonly firstLockTimeoutMs: number;
  /** The longest lock_timeout of one attempt (MAX_LOCK_WAIT); 0 = no lock_timeout at all (then no retries). */
  readonly maxLockTimeoutMs: number;
  /** After the last attempt: give up (exit 3), or one more attempt without lock_timeout. */
  readonly final: FinalAttempt;
}

export interface Attempt {
  /** 1-based. */
  readonly number: number;
  /** This attempt's lock_timeout in ms; 0 = none (the final `wait` attempt, or MAX_LOCK_WAIT=0). */
  readonly lockTimeoutMs: number;
  /** True for the last attempt the policy allows. */
  readonly last: boolean;
}

export function lockSchedule(settings: {
  readonly maxLockWaitMs: number;
  readonly lockRetries: number;
  readonly lockFinalAttempt?: FinalAttempt | undefined;
}): LockSchedule {
  return {
    attempts: settings.lockRetries + 1,
    firstLockTimeoutMs: Math.min(
      DEFAULT_FIRST_LOCK_TIMEOUT_MS,
      settings.maxLockWaitMs || DEFAULT_FIRST_LOCK_TIMEOUT_MS,
    ),
    maxLockTimeoutMs: settings.maxLockWaitMs,
    final: settings.lockFinalAttempt ?? 'fail',
  };
}

/** The attempt `n` (1-based), or undefined when the policy allows no more. */
export function attemptOf(policy: LockSchedule, n: number): Attempt | undefined {
  // Without a lock_timeout a lock wait never ends in 55P03: there is nothing to retry.
  if (policy.maxLockTimeoutMs === 0) return n === 1 ? { number: 1, lockTimeoutMs: 0, last: true } : undefined;
  const total = policy.attempts + (policy.final === 'wait' ? 1 : 0);
  if (n > total) return undefined;
  if (policy.final === 'wait' && n === total) return { number: n, lockTimeoutMs: 0, last: true };
  const grown = policy.firstLockTimeoutMs * LOCK_TIMEOUT_GROWTH ** (n - 1);
  return { number: n, lockTimeoutMs: Math.round(Math.min(grown, policy.maxLockTimeoutMs)), last: n === total };
}

/**
 * The sleep after failed attempt `n`: grows from FIRST_SLEEP_MS to MAX_SLEEP_MS, with "equal jitter" (half
 * fixed, half random) so that runners and retried jobs spread out while the wait still grows.
 */
export function sleepAfter(n: number, random: () => number = Math.random): number {
  const base = Math.min(FIRST_SLEEP_MS * SLEEP_GROWTH ** (n - 1), MAX_SLEEP_MS);
  return Math.round(base / 2 + (base / 2) * random());
}

/** The longest the whole retry sequence can take (every lock wait plus the longest sleeps), for messages and docs. */
export function worstCase(policy: LockSchedule): {
  readonly lockWaitMs: number;
  readonly sleepMs: number;
  readonly totalMs: number;
  readonly longestStallMs: number;
} {
  let lockWaitMs = 0;
  let sleepMs = 0;
  let longestStallMs = 0;
  for (let n = 1; ; n += 1) {
    const attempt = attemptOf(policy, n);
    if (!attempt) break;
    lockWaitMs += attempt.lockTimeoutMs;
    longestStallMs = Math.max(longestStallMs, attempt.lockTimeoutMs);
    if (!attempt.last) sleepMs += sleepAfter(n, () => 1);
  }
  return { lockWaitMs, sleepMs, totalMs: lockWaitMs + sleepMs, longestStallMs };
}

/** "100 ms", "1.5 s", "2 min": for messages. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${Number((ms / 1000).toFixed(1))} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/**
 * The default policy (CLI and library): short growing attempts, jittered sleeps, LOCK_RETRIES retries, and
 * the final attempt as LOCK_FINAL_ATTEMPT says.
 */
export function oltpLockRetry(
  settings: {
    readonly maxLockWaitMs: number;
    readonly lockRetries: number;
    readonly lockFinalAttempt?: FinalAttempt | undefined;
  },
  random: () => number = Math.random,
): LockRetryPolicy & { readonly schedule: LockSchedule } {
  const schedule = lockSchedule(settings);
  let maxAttempts = 0;
  let longest = 0;
  for (let attempt = attemptOf(schedule, 1); attempt; attempt = attemptOf(schedule, attempt.number + 1)) {
    maxAttempts = attempt.number;
    longest = Math.max(longest, attempt.lockTimeoutMs);
  }
  return {
    schedule,
    maxAttempts,
    longestLockTimeoutMs: longest,
    lockTimeoutMs: (n) => attemptOf(schedule, n)?.lockTimeoutMs ?? settings.maxLockWaitMs,
    retryAfterMs(n, error) {
      if ((error as { code?: string } | undefined)?.code !== LOCK_NOT_AVAILABLE || !attemptOf(schedule, n + 1))
        return undefined;
      return sleepAfter(n, random);
    },
  };
}

/** The policy before issue 14 (one lock_timeout, 1 s, 2 s, 4 s ... apart), for a library user who wants it. */
export function exponentialLockRetry(retries: number, lockTimeoutMs = 5000): LockRetryPolicy {
  return {
    maxAttempts: retries + 1,
    longestLockTimeoutMs: lockTimeoutMs,
    lockTimeoutMs: () => lockTimeoutMs,
    retryAfterMs(attempt, error) {
      if ((error as { code?: string } | undefined)?.code !== LOCK_NOT_AVAILABLE || attempt > retries) return undefined;
      return Math.min(1000 * 2 ** (attempt - 1), 30_000);
    },
  };
}
