/** The default lock-retry policy: which errors it retries, how often, and how long it waits. Pure. */
import { describe, expect, it } from 'vitest';
import { exponentialLockRetry, LOCK_NOT_AVAILABLE } from '../../src/ops/lock-retry.js';

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
