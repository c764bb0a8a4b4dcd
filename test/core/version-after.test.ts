/** versionAfterRun: the version a run leaves, also when it stopped at a failure (the result carries it). */
import { describe, expect, it } from 'vitest';
import { versionAfterRun } from '../../src/core/executor.js';
import type { FailedMigration } from '../../src/core/results.js';

const ref = (version: string) => ({ version, name: `m${version}`, file: `migrations/${version}_m.sql` });
const rows = (...versions: string[]) => versions.map((version) => ({ version }));
const failedAt = (version: string, dirty = false): FailedMigration => ({ ...ref(version), error: undefined, dirty });

describe('versionAfterRun', () => {
  it('an up that failed after applying two: the newest of those two', () => {
    expect(versionAfterRun('up', rows('001'), [ref('002'), ref('003')], failedAt('004'))).toBe('003');
  });

  it('an up that failed first: the version before it', () => {
    expect(versionAfterRun('up', rows('001', '002'), [], failedAt('003'))).toBe('002');
    expect(versionAfterRun('up', [], [], failedAt('001'))).toBeUndefined();
  });

  it('a no-transaction up that failed part-way stays as a dirty row, so it is the newest', () => {
    expect(versionAfterRun('up', rows('001'), [], failedAt('002', true))).toBe('002');
  });

  it('an out-of-order up does not move the newest version back', () => {
    expect(versionAfterRun('up', rows('001', '005'), [ref('003')], failedAt('004'))).toBe('005');
  });

  it('a down removes what it rolled back', () => {
    expect(versionAfterRun('down', rows('001', '002', '003'), [ref('003'), ref('002')], failedAt('001'))).toBe('001');
    expect(versionAfterRun('down', rows('001'), [ref('001')], undefined)).toBeUndefined();
  });

  it('compares versions as numbers, keeping their text', () => {
    expect(versionAfterRun('up', rows('9'), [ref('10')], undefined)).toBe('10');
    expect(versionAfterRun('up', rows('0010'), [ref('9')], undefined)).toBe('0010');
  });
});
