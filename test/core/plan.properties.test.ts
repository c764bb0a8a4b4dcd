/**
 * Properties of the planner (src/core/plan.ts) over any history and any set of files: a plan never applies a
 * migration twice, never skips one in silence (every pending migration is applied, or held back, or named by
 * a blocker), keeps the order, and `down` reverts only what is applied, newest first.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planDown, planUp, statusOf, type MigrationState, type StatusEntry } from '../../src/core/plan.js';
import type { HistoryRow } from '../../src/db/history.js';
import type { Migration } from '../../src/source/types.js';

interface World {
  readonly files: Migration[];
  readonly history: HistoryRow[];
}

/** Versions 1..30, each written with some zero padding (`7`, `007`): one number, however written. */
const version = fc
  .record({ n: fc.integer({ min: 1, max: 30 }), pad: fc.integer({ min: 0, max: 3 }) })
  .map(({ n, pad }) => String(n).padStart(String(n).length + pad, '0'));

function migration(v: string, contract: boolean, down: boolean): Migration {
  return {
    version: v,
    versionNumber: BigInt(v),
    name: `m${Number(v)}`,
    checksum: `sum${Number(v)}`,
    up: {
      path: `/m/${v}.sql`,
      displayPath: `migrations/${v}_m.sql`,
      text: 'select 1;',
      empty: false,
      directives: { noTransaction: false, phase: contract ? 'contract' : undefined, allow: [] },
    },
    downPath: down ? `/r/${v}.sql` : undefined,
    downDisplayPath: down ? `rollback/${v}_m_rollback.sql` : undefined,
  };
}

/** Files with distinct version numbers; a history whose rows may be clean, dirty, changed, or of files that are gone. */
const world: fc.Arbitrary<World> = fc
  .uniqueArray(fc.record({ v: version, contract: fc.boolean(), down: fc.boolean() }), {
    selector: (f) => Number(f.v),
    maxLength: 12,
  })
  .chain((fileSpecs) =>
    fc
      .uniqueArray(
        fc.record({
          v: version,
          changed: fc.integer({ min: 0, max: 9 }).map((x) => x === 0),
          dirtyRoll: fc.integer({ min: 0, max: 9 }).map((x) => x === 0),
        }),
        { selector: (r) => Number(r.v), maxLength: 12 },
      )
      .map((rowSpecs) => {
        const files = fileSpecs
          .map((f) => migration(f.v, f.contract, f.down))
          .sort((a, b) => (a.versionNumber < b.versionNumber ? -1 : 1));
        const history = rowSpecs.map((r): HistoryRow => ({
          version: r.v,
          name: `m${Number(r.v)}`,
          checksum: r.changed ? 'edited' : `sum${Number(r.v)}`,
          appliedAt: new Date(0),
          executionMs: 1,
          appliedBy: 'prop',
          dirty: r.dirtyRoll,
        }));
        return { files, history };
      }),
  );

const inHistory = (w: World, m: Migration) => w.history.some((r) => BigInt(r.version) === m.versionNumber);
const pendingOf = (w: World) => w.files.filter((m) => !inHistory(w, m));
const numbers = (ms: readonly Migration[]) => ms.map((m) => m.versionNumber);
const ascending = (ns: readonly bigint[]) => ns.every((n, i) => i === 0 || ns[i - 1]! < n);

describe('planUp, for any history and any files', () => {
  it('applies each pending migration exactly once, in order, and never one the history has', () => {
    fc.assert(
      fc.property(world, (w) => {
        const plan = planUp(w.files, w.history);
        expect(new Set(numbers(plan.toApply)).size).toBe(plan.toApply.length);
        expect(ascending(numbers(plan.toApply))).toBe(true);
        for (const m of plan.toApply) expect(inHistory(w, m)).toBe(false);
        // Nothing pending is left out without a word: with no options, every pending file is in the plan.
        expect(numbers(plan.toApply)).toEqual(numbers(pendingOf(w)));
      }),
      { numRuns: 500 },
    );
  });

  it('names in a blocker every row that is dirty, changed or missing, and every pending file older than the newest applied', () => {
    fc.assert(
      fc.property(world, (w) => {
        const plan = planUp(w.files, w.history);
        const blocked = new Set(plan.blockers.map((b) => BigInt(b.version)));
        for (const r of w.history) {
          const file = w.files.find((m) => m.versionNumber === BigInt(r.version));
          if (r.dirty || !file || file.checksum !== r.checksum) expect(blocked.has(BigInt(r.version))).toBe(true);
        }
        const newest = w.history.reduce((max, r) => (BigInt(r.version) > max ? BigInt(r.version) : max), -1n);
        for (const m of pendingOf(w)) if (m.versionNumber < newest) expect(blocked.has(m.versionNumber)).toBe(true);
        // And nothing else: a clean history in order has no blocker.
        for (const b of plan.blockers) {
          const r = w.history.find((h) => BigInt(h.version) === BigInt(b.version));
          const file = w.files.find((m) => m.versionNumber === BigInt(b.version));
          const real = r ? r.dirty || !file || file.checksum !== r.checksum : BigInt(b.version) < newest;
          expect(real).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('--step, --to and --phase expand only cut the plan at a point: what they leave out is a suffix, said as held back or left pending', () => {
    fc.assert(
      fc.property(world, fc.integer({ min: 0, max: 12 }), fc.integer({ min: 1, max: 30 }), (w, step, to) => {
        const all = numbers(planUp(w.files, w.history).toApply);
        const stepped = numbers(planUp(w.files, w.history, { step }).toApply);
        expect(stepped).toEqual(all.slice(0, step));
        const upTo =
          w.files.some((m) => m.versionNumber === BigInt(to)) ||
          w.history.some((r) => BigInt(r.version) === BigInt(to));
        if (upTo)
          expect(numbers(planUp(w.files, w.history, { to: String(to) }).toApply)).toEqual(
            all.filter((n) => n <= BigInt(to)),
          );
        const expand = planUp(w.files, w.history, { phase: 'expand' });
        expect([...numbers(expand.toApply), ...numbers(expand.heldBack)]).toEqual(all);
        if (expand.heldBack.length > 0) expect(expand.heldBack[0]!.up.directives.phase).toBe('contract');
        expect(expand.toApply.some((m) => m.up.directives.phase === 'contract')).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('after applying its plan, planning again finds nothing to apply', () => {
    fc.assert(
      fc.property(world, (w) => {
        const plan = planUp(w.files, w.history);
        const after = [
          ...w.history,
          ...plan.toApply.map((m): HistoryRow => ({
            version: m.version,
            name: m.name,
            checksum: m.checksum,
            appliedAt: new Date(0),
            executionMs: 1,
            appliedBy: 'prop',
            dirty: false,
          })),
        ];
        expect(planUp(w.files, after).toApply).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('planDown, for any history and any files', () => {
  it('reverts only applied migrations, newest first, each once; what it cannot revert is a blocker, never dropped', () => {
    fc.assert(
      fc.property(world, fc.integer({ min: 1, max: 12 }), (w, step) => {
        const plan = planDown(w.files, w.history, { step });
        const reverted = numbers(plan.toRevert);
        expect(new Set(reverted).size).toBe(reverted.length);
        expect(ascending([...reverted].reverse())).toBe(true);
        for (const m of plan.toRevert) expect(inHistory(w, m)).toBe(true);
        // The `step` newest rows are each either reverted or named by a blocker.
        const newest = [...w.history]
          .map((r) => BigInt(r.version))
          .sort((a, b) => (a > b ? -1 : a < b ? 1 : 0))
          .slice(0, step);
        const blocked = new Set(plan.blockers.map((b) => BigInt(b.version)));
        for (const n of newest) expect(reverted.includes(n) || blocked.has(n)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

/**
 * statusOf as it was written before the merge of ordered lists (Maps by number, the union sorted): the model
 * the merge must match, for files and rows in any order, with numbers written twice and versions not numbers.
 */
function statusModel(migrations: readonly Migration[], history: readonly HistoryRow[]): StatusEntry[] {
  const toNumber = (v: string) => (/^\d+$/.test(v) ? BigInt(v) : -1n);
  const rows = new Map<bigint, HistoryRow>();
  let newestApplied = -1n;
  for (const r of history) {
    const n = toNumber(r.version);
    rows.set(n, r);
    if (n > newestApplied) newestApplied = n;
  }
  const files = new Map(migrations.map((m) => [m.versionNumber, m]));
  const all = [...new Set([...rows.keys(), ...files.keys()])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return all.map((n) => {
    const migration = files.get(n);
    const row = rows.get(n);
    let state: MigrationState;
    if (!row) state = 'pending';
    else if (row.dirty) state = 'dirty';
    else if (!migration) state = 'missing';
    else if (row.checksum !== migration.checksum) state = 'changed';
    else state = 'applied';
    return {
      version: migration?.version ?? row!.version,
      versionNumber: n,
      name: migration?.name ?? row!.name,
      state,
      migration,
      row,
      outOfOrder: state === 'pending' && n < newestApplied,
    };
  });
}

describe('statusOf, for files and rows in any order', () => {
  const anyVersion = fc.oneof(version, version, version, fc.constantFrom('abc', '2024-01', ''));
  const row = fc.record({ v: anyVersion, dirty: fc.boolean(), changed: fc.boolean() }).map((r): HistoryRow => ({
    version: r.v,
    name: `row${r.v}`,
    checksum: r.changed ? 'edited' : `sum${Number(r.v)}`,
    appliedAt: new Date(0),
    executionMs: 1,
    appliedBy: 'prop',
    dirty: r.dirty,
  }));
  const file = fc
    .record({ v: version, contract: fc.boolean(), down: fc.boolean() })
    .map((f) => migration(f.v, f.contract, f.down));

  it('is what the Map-based statusOf was, duplicates and all', () => {
    fc.assert(
      fc.property(fc.array(file, { maxLength: 12 }), fc.array(row, { maxLength: 12 }), (files, history) => {
        expect(statusOf(files, history)).toEqual(statusModel(files, history));
      }),
      { numRuns: 2000 },
    );
  });

  it('is what the Map-based statusOf was for sorted, distinct files and rows (the usual case)', () => {
    fc.assert(
      fc.property(world, (w) => {
        expect(statusOf(w.files, w.history)).toEqual(statusModel(w.files, w.history));
      }),
      { numRuns: 500 },
    );
  });
});
