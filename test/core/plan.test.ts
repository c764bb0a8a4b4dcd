import { describe, expect, it } from 'vitest';
import { planDown, planUp, statusOf } from '../../src/core/plan.js';
import type { HistoryRow } from '../../src/db/history.js';
import { checksumOf } from '../../src/source/files.js';
import type { Migration } from '../../src/source/types.js';

function migration(version: string, body = `select ${version};`, down = true): Migration {
  return {
    version,
    versionNumber: BigInt(version),
    name: `m${version}`,
    checksum: checksumOf(body),
    up: {
      path: `/m/${version}.sql`,
      displayPath: `migrations/${version}_m${version}.sql`,
      text: body,
      empty: false,
      directives: { noTransaction: false, phase: undefined, allow: [] },
    },
    downPath: down ? `/r/${version}.sql` : undefined,
    downDisplayPath: down ? `rollback/${version}_m${version}_rollback.sql` : undefined,
  };
}

function row(m: Migration, extra: Partial<HistoryRow> = {}): HistoryRow {
  return {
    version: m.version,
    name: m.name,
    checksum: m.checksum,
    appliedAt: new Date(0),
    executionMs: 1,
    appliedBy: 't',
    dirty: false,
    ...extra,
  };
}

const [m1, m2, m3, m4] = ['001', '002', '003', '004'].map((v) => migration(v)) as [
  Migration,
  Migration,
  Migration,
  Migration,
];

describe('statusOf', () => {
  it('gives each migration its state and flags out-of-order pending ones', () => {
    const gone = migration('005');
    const entries = statusOf(
      [m1, m2, m3, m4],
      [row(m1), row(m2, { checksum: 'x' }), row(m4, { dirty: true }), row(gone)],
    );
    expect(entries.map((e) => [e.version, e.state, e.outOfOrder])).toEqual([
      ['001', 'applied', false],
      ['002', 'changed', false],
      ['003', 'pending', true],
      ['004', 'dirty', false],
      ['005', 'missing', false],
    ]);
  });

  it('matches history rows to files by numeric version (1 is 001)', () => {
    const entries = statusOf([m1], [row(m1, { version: '1' })]);
    expect(entries).toHaveLength(1);
    expect(entries[0]!.state).toBe('applied');
  });
});

describe('planUp', () => {
  it('applies every pending migration in order, or up to --to, or --step of them', () => {
    expect(planUp([m3, m1, m2], []).toApply.map((m) => m.version)).toEqual(['001', '002', '003']);
    expect(planUp([m1, m2, m3], [], { to: '2' }).toApply.map((m) => m.version)).toEqual(['001', '002']);
    expect(planUp([m1, m2, m3], [row(m1)], { step: 1 }).toApply.map((m) => m.version)).toEqual(['002']);
    expect(planUp([m1, m2], [row(m1), row(m2)]).toApply).toEqual([]);
  });

  it('refuses an unknown --to version with exit 2', () => {
    expect(() => planUp([m1], [], { to: '9' })).toThrow(/There is no migration with version 9/);
  });

  it('blocks on drift, dirtiness, missing files and out-of-order pending migrations, naming the fix', () => {
    const blockers = planUp(
      [m1, m2, m3],
      [row(m1, { checksum: 'old' }), row(m3, { dirty: true }), row(migration('009'))],
    ).blockers;
    expect(blockers.map((b) => b.state)).toEqual(['changed', 'out-of-order', 'dirty', 'missing']);
    expect(blockers[0]!.message).toMatch(/migrate repair 001/);
    expect(blockers[1]!.message).toMatch(/--allow-out-of-order/);
    expect(planUp([m1, m2], [row(m2)], { allowOutOfOrder: true }).blockers).toEqual([]);
  });
});

describe('planUp --phase', () => {
  const withPhase = (m: Migration, phase: 'expand' | 'contract'): Migration => ({
    ...m,
    up: { ...m.up, directives: { ...m.up.directives, phase } },
  });

  it('expand stops before the first contract migration and holds back everything after it', () => {
    const plan = planUp([m1, withPhase(m2, 'contract'), m3], [], { phase: 'expand' });
    expect(plan.toApply.map((m) => m.version)).toEqual(['001']);
    expect(plan.heldBack.map((m) => m.version)).toEqual(['002', '003']);
  });

  it('contract (or no phase) applies everything pending', () => {
    expect(planUp([m1, withPhase(m2, 'contract'), m3], [], { phase: 'contract' }).toApply).toHaveLength(3);
    expect(planUp([m1, withPhase(m2, 'contract'), m3], []).heldBack).toEqual([]);
  });
});

describe('planDown', () => {
  it('rolls back one by default, newest first; --step, --to and --all', () => {
    const history = [row(m1), row(m2), row(m3)];
    const all = [m1, m2, m3];
    expect(planDown(all, history).toRevert.map((m) => m.version)).toEqual(['003']);
    expect(planDown(all, history, { step: 2 }).toRevert.map((m) => m.version)).toEqual(['003', '002']);
    expect(planDown(all, history, { to: '001' }).toRevert.map((m) => m.version)).toEqual(['003', '002']);
    expect(planDown(all, history, { all: true }).toRevert.map((m) => m.version)).toEqual(['003', '002', '001']);
  });

  it('blocks when a migration to roll back has no rollback file', () => {
    const noDown = migration('002', 'select 2;', false);
    const plan = planDown([m1, noDown], [row(m1), row(noDown)], { all: true });
    expect(plan.blockers).toHaveLength(1);
    expect(plan.blockers[0]!.message).toMatch(/002_m002 has no rollback file/);
  });
});

describe('planUp with a dirty no-transaction migration', () => {
  const noTx = (version: string): Migration => {
    const m = migration(version);
    return { ...m, up: { ...m.up, directives: { ...m.up.directives, noTransaction: true } } };
  };

  it('plans to resume it when its row counts the statements done, even after the file was fixed', () => {
    const m = noTx('002');
    const plan = planUp(
      [m1, m, m3],
      [row(m1), row(m, { dirty: true, statementsDone: 2, statementsChecksum: 'x', checksum: 'old' })],
    );
    expect(plan.blockers).toEqual([]);
    expect(plan.toApply.map((x) => x.version)).toEqual(['002', '003']);
  });

  it('still blocks a dirty row without a count (an older tidemark), or a dirty transactional one', () => {
    const m = noTx('002');
    expect(planUp([m1, m], [row(m1), row(m, { dirty: true })]).blockers.map((b) => b.state)).toEqual(['dirty']);
    expect(
      planUp([m1, m2], [row(m1), row(m2, { dirty: true, statementsDone: 1 })]).blockers.map((b) => b.state),
    ).toEqual(['dirty']);
  });
});
