/** The tracking table's pure parts: the order of versions (its SQL is tested against PostgreSQL in layer.test.ts). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareVersions } from '../../src/db/history.js';

describe('compareVersions', () => {
  it('orders digit versions by their numeric value, as BigInt does, leading zeros and all', () => {
    const version = fc.stringMatching(/^\d{1,25}$/);
    fc.assert(
      fc.property(version, version, (a, b) => {
        const [x, y] = [BigInt(a), BigInt(b)];
        expect(compareVersions(a, b)).toBe(x < y ? -1 : x > y ? 1 : 0);
      }),
      { numRuns: 2000 },
    );
    expect(['10', '9', '001', '000', '2', '0010'].sort(compareVersions)).toEqual([
      '000',
      '001',
      '2',
      '9',
      '10',
      '0010',
    ]);
  });

  it('sorts text that is not digits after every number', () => {
    expect(['b', '10', 'a', '2'].sort(compareVersions)).toEqual(['2', '10', 'a', 'b']);
  });
});
