/** The lock-retry policies: the OLTP default's schedule (pure) and the pre-issue-14 exponential one. */
import { describe, expect, it } from 'vitest';
import {
  attemptOf,
  exponentialLockRetry,
  formatMs,
  LOCK_NOT_AVAILABLE,
  lockSchedule,
  oltpLockRetry,
  sleepAfter,
  worstCase,
} from '../../src/ops/lock-retry.js';

const defaults = lockSchedule({ maxLockWaitMs: 400, lockRetries: 30 });

describe('the lock-retry policy', () => {
  it('starts at 100 ms and grows each attempt up to MAX_LOCK_WAIT, never beyond', () => {
    const timeouts = Array.from({ length: 31 }, (_, i) => attemptOf(defaults, i + 1)!.lockTimeoutMs);
    expect(timeouts.slice(0, 5)).toEqual([100, 150, 225, 338, 400]);
    expect(Math.max(...timeouts)).toBe(400);
    expect(timeouts.every((t, i) => i === 0 || t >= timeouts[i - 1]!)).toBe(true);
  });

  it('allows LOCK_RETRIES + 1 attempts and marks the last', () => {
    expect(attemptOf(defaults, 31)).toMatchObject({ number: 31, last: true });
    expect(attemptOf(defaults, 30)?.last).toBe(false);
    expect(attemptOf(defaults, 32)).toBeUndefined();
    expect(attemptOf(lockSchedule({ maxLockWaitMs: 500, lockRetries: 0 }), 2)).toBeUndefined();
  });

  it('with LOCK_FINAL_ATTEMPT=wait adds one last attempt without lock_timeout', () => {
    const policy = lockSchedule({ maxLockWaitMs: 500, lockRetries: 2, lockFinalAttempt: 'wait' });
    expect([1, 2, 3, 4].map((n) => attemptOf(policy, n)?.lockTimeoutMs)).toEqual([100, 150, 225, 0]);
    expect(attemptOf(policy, 4)?.last).toBe(true);
    expect(attemptOf(policy, 5)).toBeUndefined();
  });

  it('keeps an old MAX_LOCK_WAIT meaningful: the cap of the growth, and below 100 ms the only value', () => {
    const old = lockSchedule({ maxLockWaitMs: 5000, lockRetries: 3 });
    expect([1, 2, 3, 4].map((n) => attemptOf(old, n)!.lockTimeoutMs)).toEqual([100, 150, 225, 338]);
    const tiny = lockSchedule({ maxLockWaitMs: 50, lockRetries: 2 });
    expect([1, 2, 3].map((n) => attemptOf(tiny, n)!.lockTimeoutMs)).toEqual([50, 50, 50]);
  });

  it('with MAX_LOCK_WAIT=0 (no lock_timeout) makes one attempt: nothing can time out', () => {
    const off = lockSchedule({ maxLockWaitMs: 0, lockRetries: 30 });
    expect(attemptOf(off, 1)).toEqual({ number: 1, lockTimeoutMs: 0, last: true });
    expect(attemptOf(off, 2)).toBeUndefined();
  });

  it('sleeps between half and all of a base that grows from 200 ms to 3 s', () => {
    expect(sleepAfter(1, () => 0)).toBe(100);
    expect(sleepAfter(1, () => 1)).toBe(200);
    expect(sleepAfter(2, () => 1)).toBe(300);
    expect(sleepAfter(50, () => 1)).toBe(3000);
    expect(sleepAfter(50, () => 0)).toBe(1500);
  });

  it('bounds the defaults: each stall at most 400 ms, the whole sequence under a minute and a half', () => {
    const worst = worstCase(defaults);
    expect(worst.longestStallMs).toBe(400);
    expect(worst.totalMs).toBeLessThan(90_000);
    expect(worst.lockWaitMs).toBe(
      [1, 2, 3, 4].reduce((sum, n) => sum + attemptOf(defaults, n)!.lockTimeoutMs, 0) + 27 * 400,
    );
  });

  it("as the executor's policy: retries only 55P03, with the schedule's lock_timeouts, and stops after the last attempt", () => {
    const policy = oltpLockRetry({ maxLockWaitMs: 500, lockRetries: 2 }, () => 1);
    const timeout = { code: '55P03' };
    expect(policy.maxAttempts).toBe(3);
    expect(policy.longestLockTimeoutMs).toBe(225);
    expect([1, 2, 3].map((n) => policy.lockTimeoutMs(n))).toEqual([100, 150, 225]);
    expect(policy.retryAfterMs(1, timeout)).toBe(200);
    expect(policy.retryAfterMs(2, timeout)).toBe(300);
    expect(policy.retryAfterMs(3, timeout)).toBeUndefined();
    expect(policy.retryAfterMs(1, { code: '42P01' })).toBeUndefined();
  });

  it('formats durations for messages', () => {
    expect(formatMs(100)).toBe('100 ms');
    expect(formatMs(1500)).toBe('1.5 s');
    expect(formatMs(600_000)).toBe('10 min');
  });
});

const lockTimeout = { code: LOCK_NOT_AVAILABLE, message: 'canceling statement due to lock timeout' };

describe('exponentialLockRetry', () => {
  it('retries a lock timeout LOCK_RETRIES times, waiting 1, 2, 4 s, then gives up', () => {
    const policy = exponentialLockRetry(3);
    expect([1, 2, 3, 4].map((attempt) => policy.retryAfterMs(attempt, lockTimeout))).toEqual([
      1000,
      2000,
      4000,
      undefined,
    ]);
    expect(policy.maxAttempts).toBe(4);
  });

  it('caps the wait at 30 s', () => {
    expect(exponentialLockRetry(10).retryAfterMs(8, lockTimeout)).toBe(30_000);
  });

  it('never retries other errors, and never with LOCK_RETRIES=0', () => {
    const policy = exponentialLockRetry(3);
    expect(policy.retryAfterMs(1, { code: '42P01', message: 'relation does not exist' })).toBeUndefined();
    expect(policy.retryAfterMs(1, new Error('Connection terminated'))).toBeUndefined();
    expect(exponentialLockRetry(0).retryAfterMs(1, lockTimeout)).toBeUndefined();
  });
});
