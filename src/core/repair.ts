/**
 * `migrate repair V`: the recorded way to change the history after a person fixed something by hand, and the
 * shared read of files + history + repairs that `verify` and `status` use.
 *
 * The rules (what a repair of V does, given its state) are pure (`planRepair`); `repair()` re-plans under the
 * runner lock and refuses if the state changed since the operator confirmed, then changes the row and records
 * the repair in one transaction.
 */
import { hostname, userInfo } from 'node:os';
import type { HistoryRow } from '../db/history.js';
import { RepairLog, type RepairAction, type RepairRow } from '../db/repair-log.js';
import { inTransaction } from '../db/transaction.js';
import { MigrateError, usageError } from '../errors.js';
import type { Migration } from '../source/types.js';
import type { Session } from './session.js';
import { statusOf } from './plan.js';

/** `user@host` of this process, as the tracking table's applied_by records it. */
export function whoAmI(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers run as an arbitrary uid).
  }
  return `${user}@${hostname()}`;
}

export interface HistoryState {
  readonly migrations: readonly Migration[];
  readonly history: readonly HistoryRow[];
  readonly repairs: readonly RepairRow[];
}

/** Files, history and repairs as they are now, read on `session` without the runner lock and without creating anything. */
export async function readState(session: Session, migrations: readonly Migration[]): Promise<HistoryState> {
  const history = await session.history.read();
  const repairs = await new RepairLog(session.client, session.history.ref).read();
  return { migrations, history, repairs };
}

/** The repairs recorded so far, oldest first ([] before the first one). */
export async function readRepairs(session: Session): Promise<RepairRow[]> {
  return new RepairLog(session.client, session.history.ref).read();
}

export interface RepairOptions {
  /**
   * For a dirty migration whose partial effects the operator undid by hand: forget its row, so the next
   * `up` runs it again from the start. Without it, a dirty migration is marked applied (finished by hand).
   */
  readonly rerun?: boolean | undefined;
}

export interface RepairPlan {
  readonly version: string;
  readonly name: string;
  readonly file: string | undefined;
  /** What will be done, in order: clear-dirty and/or accept-checksum, or rerun alone. */
  readonly actions: readonly Exclude<RepairAction, 'baseline'>[];
  readonly wasDirty: boolean;
  readonly oldChecksum: string;
  /** The checksum the row will hold; null for a rerun (the row is deleted). */
  readonly newChecksum: string | null;
  /** One sentence for the confirmation prompt and the result. */
  readonly description: string;
}

/** What `repair V` would do; undefined when V is applied, clean and unchanged (nothing to repair). */
export function planRepair(
  migrations: readonly Migration[],
  history: readonly HistoryRow[],
  version: string,
  options: RepairOptions = {},
): RepairPlan | undefined {
  if (!/^\d+$/.test(version))
    throw usageError(
      'bad-version',
      `"${version}" is not a version; a version is the leading digits of a file name, e.g. 003.`,
    );
  const n = BigInt(version);
  const entry = statusOf(migrations, history).find((e) => e.versionNumber === n);
  const row = entry?.row;
  if (!entry || !row) {
    throw usageError(
      'not-applied',
      `${entry ? `${entry.version}_${entry.name}` : `Version ${version}`} is not in the history, so there is nothing to repair.`,
      {
        hint: 'migrate status lists the applied migrations; migrate baseline V adopts a database that was migrated by other means.',
      },
    );
  }
  const label = `${entry.version}_${entry.name}`;
  const m = entry.migration;
  if (!m) {
    throw usageError(
      'repair-file-missing',
      `${label} is applied but its file is gone; repair cannot accept a checksum of nothing.`,
      {
        hint: `Restore ${label}'s file from version control, then run migrate repair ${entry.version} if it still needs one.`,
      },
    );
  }
  const base = {
    version: entry.version,
    name: entry.name,
    file: m.up.displayPath,
    wasDirty: row.dirty,
    oldChecksum: row.checksum,
  };
  if (options.rerun) {
    if (!row.dirty) {
      throw usageError(
        'repair-rerun-clean',
        `${label} is not dirty; --rerun only forgets a migration that stopped part-way.`,
        {
          hint: 'To run an applied migration again, roll it back: {{rollBackNewest}}.',
        },
      );
    }
    return {
      ...base,
      actions: ['rerun'],
      newChecksum: null,
      description: `forget dirty ${label} (you undid its partial effects by hand): the next migrate up runs it again from its first statement`,
    };
  }
  const actions: ('clear-dirty' | 'accept-checksum')[] = [];
  if (row.dirty) actions.push('clear-dirty');
  if (row.checksum !== m.checksum) actions.push('accept-checksum');
  if (actions.length === 0) return undefined;
  const parts: string[] = [];
  if (row.dirty) parts.push(`mark dirty ${label} as applied (you finished it by hand)`);
  if (row.checksum !== m.checksum) {
    parts.push(
      `accept the edited ${m.up.displayPath} as applied (checksum ${row.checksum.slice(0, 12)} -> ${m.checksum.slice(0, 12)})`,
    );
  }
  return { ...base, actions, newChecksum: m.checksum, description: parts.join(', and ') };
}

function samePlan(a: RepairPlan | undefined, b: RepairPlan | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Carries out `expected` (what the operator saw and confirmed) under the runner lock on `session`. Refuses (exit 1) when the
 * history or the file changed in between: the confirmation was for another state.
 */
export async function repair(
  session: Session,
  migrations: readonly Migration[],
  expected: RepairPlan,
  options: RepairOptions = {},
): Promise<RepairPlan> {
  const by = whoAmI();
  const { client, history: store } = session;
  return session.locked(async () => {
    const now = planRepair(migrations, await store.read(), expected.version, options);
    if (!samePlan(now, expected)) {
      throw new MigrateError(
        'repair-state-changed',
        `The state of ${expected.version}_${expected.name} changed while you were confirming; nothing was repaired.`,
        {
          hint: `Look at migrate status, then run migrate repair ${expected.version} again.`,
        },
      );
    }
    const log = new RepairLog(client, store.ref);
    await inTransaction(client, async () => {
      await log.ensure();
      if (expected.actions.includes('rerun')) {
        await store.delete(expected.version);
      } else {
        await store.repairRow(expected.version, { checksum: expected.newChecksum!, dirty: false });
      }
      for (const action of expected.actions) {
        await log.record({
          version: expected.version,
          action,
          oldChecksum: expected.oldChecksum,
          newChecksum: expected.newChecksum,
          wasDirty: expected.wasDirty,
          repairedBy: by,
        });
      }
    });
    return expected;
  });
}
