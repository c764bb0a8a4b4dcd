/**
 * Planning: files + history -> what to do. Pure functions, no I/O: every rule about order, drift and
 * dirtiness lives here and is unit-tested without a database.
 */
import { CLI_WORDING, type Wording } from './wording.js';
import type { HistoryRow } from '../db/history.js';
import { usageError } from '../errors.js';
import type { Migration, Phase } from '../source/types.js';

export type MigrationState = 'applied' | 'pending' | 'changed' | 'missing' | 'dirty';

export interface StatusEntry {
  readonly version: string;
  readonly versionNumber: bigint;
  readonly name: string;
  readonly state: MigrationState;
  readonly migration: Migration | undefined;
  readonly row: HistoryRow | undefined;
  /** Pending, but older than the newest applied migration. */
  readonly outOfOrder: boolean;
}

function toNumber(version: string): bigint {
  return /^\d+$/.test(version) ? BigInt(version) : -1n;
}

/**
 * Positions 0..n-1 ordered by `key` (a stable order) and, of positions with the same key, only the last: what a
 * Map filled in order would keep. Usually the input is in order already (files are listed sorted, the history
 * is read sorted) and this is one pass.
 */
function orderedLast(n: number, key: (i: number) => bigint): number[] {
  const order = new Array<number>(n);
  let sorted = true;
  for (let i = 0; i < n; i += 1) {
    order[i] = i;
    if (i > 0 && key(i) <= key(i - 1)) sorted = false;
  }
  if (sorted) return order;
  order.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : a - b;
  });
  return order.filter((i, k) => k === order.length - 1 || key(order[k + 1]!) !== key(i));
}

/** Every known migration (on disk or in the history), oldest first, with its state. */
export function statusOf(migrations: readonly Migration[], history: readonly HistoryRow[]): StatusEntry[] {
  // Each version is read as a number once (BigInt() of a text is not cheap), in indexed loops (a for-of
  // allocates per element in code that runs once), and files and rows are merged as two ordered lists: this
  // runs for every row of every pod start, where Maps keyed by BigInt, a Set of both and a sort took ~1.5 ms.
  const rowNumbers = new Array<bigint>(history.length);
  let newestApplied = -1n;
  for (let i = 0; i < history.length; i += 1) {
    const n = toNumber(history[i]!.version);
    rowNumbers[i] = n;
    if (n > newestApplied) newestApplied = n;
  }
  const rows = orderedLast(history.length, (i) => rowNumbers[i]!);
  const files = orderedLast(migrations.length, (i) => migrations[i]!.versionNumber);
  const entries: StatusEntry[] = [];
  let f = 0;
  let r = 0;
  while (f < files.length || r < rows.length) {
    const fileNumber = f < files.length ? migrations[files[f]!]!.versionNumber : undefined;
    const rowNumber = r < rows.length ? rowNumbers[rows[r]!]! : undefined;
    const migration =
      fileNumber !== undefined && (rowNumber === undefined || fileNumber <= rowNumber)
        ? migrations[files[f++]!]
        : undefined;
    const row =
      rowNumber !== undefined && (fileNumber === undefined || rowNumber <= fileNumber)
        ? history[rows[r++]!]
        : undefined;
    const n = migration ? fileNumber! : rowNumber!;
    let state: MigrationState;
    if (!row) state = 'pending';
    else if (row.dirty) state = 'dirty';
    else if (!migration) state = 'missing';
    else if (row.checksum !== migration.checksum) state = 'changed';
    else state = 'applied';
    entries.push({
      version: migration?.version ?? row!.version,
      versionNumber: n,
      name: migration?.name ?? row!.name,
      state,
      migration,
      row,
      outOfOrder: state === 'pending' && n < newestApplied,
    });
  }
  return entries;
}

export interface UpOptions {
  /** Apply pending migrations up to and including this version. */
  readonly to?: string | undefined;
  /** Apply at most this many. */
  readonly step?: number | undefined;
  readonly allowOutOfOrder?: boolean | undefined;
  /**
   * Expand/contract: `expand` applies pending migrations up to, not including, the first one marked
   * `-- migrate:phase contract` (before the new code is deployed); `contract` applies everything pending
   * (after every instance runs the new code). Undefined: everything, unless the strategy says otherwise.
   */
  readonly phase?: Phase | undefined;
  /** A dirty no-transaction migration runs from its first statement instead of resuming where it failed. */
  readonly fromStart?: boolean | undefined;
}

/** Why `up` must not start; each names the command that resolves it. */
export interface Blocker {
  readonly version: string;
  readonly name: string;
  readonly state: MigrationState | 'out-of-order';
  readonly message: string;
}

export interface UpPlan {
  readonly toApply: readonly Migration[];
  readonly blockers: readonly Blocker[];
  /** Pending migrations that `--phase expand` holds back (the first contract migration and all after it). */
  readonly heldBack: readonly Migration[];
}

function findVersion(entries: readonly StatusEntry[], version: string): StatusEntry {
  if (!/^\d+$/.test(version))
    throw usageError(
      'bad-version',
      `"${version}" is not a version; a version is the leading digits of a file name, e.g. 003.`,
    );
  const n = BigInt(version);
  const found = entries.find((e) => e.versionNumber === n);
  if (!found)
    throw usageError('unknown-version', `There is no migration with version ${version}.`, {
      hint: 'migrate status lists the versions.',
    });
  return found;
}

function label(e: { version: string; name: string }): string {
  return `${e.version}_${e.name}`;
}

/**
 * A dirty no-transaction migration whose row says how many statements completed: `up` resumes it (or, with
 * fromStart, runs it again from the first statement) instead of stopping. Its file may have been fixed since.
 */
export function isResumable(e: StatusEntry): boolean {
  return (
    e.state === 'dirty' &&
    e.row?.statementsDone !== undefined &&
    e.migration !== undefined &&
    e.migration.up.directives.noTransaction
  );
}

export function blockersOf(
  entries: readonly StatusEntry[],
  allowOutOfOrder = false,
  words: Wording = CLI_WORDING,
): Blocker[] {
  const blockers: Blocker[] = [];
  for (let i = 0; i < entries.length; i += 1) {
    const e = entries[i]!;
    if (isResumable(e)) continue;
    if (e.state === 'dirty') {
      blockers.push({
        ...e,
        message: `${label(e)} is dirty: it failed part-way outside a transaction. Check the database by hand, then run: migrate repair ${e.version}`,
      });
    } else if (e.state === 'changed') {
      blockers.push({
        ...e,
        message: `${label(e)} was changed after it was applied (checksum differs). Restore the file from version control, or accept the edit: migrate repair ${e.version}`,
      });
    } else if (e.state === 'missing') {
      blockers.push({
        ...e,
        message: `${label(e)} is applied but its file is gone. Restore the file from version control.`,
      });
    } else if (e.outOfOrder && !allowOutOfOrder) {
      blockers.push({
        ...e,
        state: 'out-of-order',
        message: `${label(e)} is pending but older than the newest applied migration (out of order). Renumber it, or pass ${words.allowOutOfOrder}.`,
      });
    }
  }
  return blockers;
}

export function planUp(
  migrations: readonly Migration[],
  history: readonly HistoryRow[],
  options: UpOptions = {},
  words: Wording = CLI_WORDING,
): UpPlan {
  const entries = statusOf(migrations, history);
  let pending = entries.filter((e) => e.state === 'pending' || isResumable(e)).map((e) => e.migration!);
  if (options.to !== undefined) {
    const target = findVersion(entries, options.to);
    pending = pending.filter((m) => m.versionNumber <= target.versionNumber);
  }
  let heldBack: Migration[] = [];
  if (options.phase === 'expand') {
    // Order matters: a contract migration is never skipped over, everything after it waits too.
    const firstContract = pending.findIndex((m) => m.up.directives.phase === 'contract');
    if (firstContract !== -1) {
      heldBack = pending.slice(firstContract);
      pending = pending.slice(0, firstContract);
    }
  }
  if (options.step !== undefined) pending = pending.slice(0, options.step);
  return { toApply: pending, blockers: blockersOf(entries, options.allowOutOfOrder, words), heldBack };
}

export interface DownOptions {
  readonly step?: number | undefined;
  /** Roll back every migration newer than this version (it stays applied). */
  readonly to?: string | undefined;
  readonly all?: boolean | undefined;
}

export interface DownPlan {
  /** Newest first. */
  readonly toRevert: readonly Migration[];
  readonly blockers: readonly Blocker[];
}

export function planDown(
  migrations: readonly Migration[],
  history: readonly HistoryRow[],
  options: DownOptions = {},
): DownPlan {
  const entries = statusOf(migrations, history);
  const applied = entries.filter((e) => e.row !== undefined).reverse();
  let chosen: StatusEntry[];
  if (options.all) chosen = applied;
  else if (options.to !== undefined) {
    const target = findVersion(entries, options.to);
    chosen = applied.filter((e) => e.versionNumber > target.versionNumber);
  } else chosen = applied.slice(0, options.step ?? 1);

  const blockers: Blocker[] = [];
  for (const e of chosen) {
    if (e.state === 'dirty')
      blockers.push({
        ...e,
        message: `${label(e)} is dirty; fix the database by hand, then: migrate repair ${e.version}`,
      });
    else if (e.state === 'missing')
      blockers.push({
        ...e,
        message: `${label(e)} is applied but its files are gone, so it cannot be rolled back. Restore the files from version control.`,
      });
    else if (e.migration?.downPath === undefined) {
      blockers.push({
        ...e,
        message: `${label(e)} has no rollback file. Write rollback/${label(e)}_rollback.sql (an empty file is a valid no-op).`,
      });
    }
  }
  return { toRevert: chosen.map((e) => e.migration!).filter(Boolean), blockers };
}
