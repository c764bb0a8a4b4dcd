/**
 * `migrate verify`: does the tracking table say exactly what the files say? A pure function of the files and
 * the history (no I/O), so every finding is unit-tested without a database. The runner's own refusal to start
 * (`plan.blockersOf`) is the same judgement for changed, missing and dirty; verify adds what a CI gate and a
 * post-deploy check want on top: rollbacks, empty files and pending work.
 */
import { CLI_WORDING, type Wording } from './wording.js';
import type { HistoryRow } from '../db/history.js';
import type { Migration } from '../source/types.js';
import { isResumable, statusOf } from './plan.js';

export type Severity = 'error' | 'warning';

/** Stable ids that scripts may match on. */
export type FindingCode =
  | 'checksum-changed'
  | 'file-missing'
  | 'dirty'
  | 'out-of-order'
  | 'rollback-missing'
  | 'empty-migration'
  | 'empty-rollback'
  | 'pending';

export interface Finding {
  readonly severity: Severity;
  readonly code: FindingCode;
  readonly version: string;
  /** The up file, as shown to the user; null when the file is gone (`file-missing`). */
  readonly file: string | null;
  readonly message: string;
}

export interface VerifyOptions {
  /** Pending migrations are errors (a post-deploy check: everything should have run). */
  readonly noPending?: boolean | undefined;
  /** A migration without a rollback file is a warning instead of an error. */
  readonly allowMissingRollback?: boolean | undefined;
  /** Out-of-order pending migrations are warnings instead of errors (as `up --allow-out-of-order` runs them). */
  readonly allowOutOfOrder?: boolean | undefined;
  /** How fixes are named (flags for the CLI, options for the library); the CLI's by default. */
  readonly words?: Wording | undefined;
  /** The rollback folder as shown to the user, to say where a missing rollback file belongs. */
  readonly rollbackDir?: string | undefined;
  /** Versions whose rollback file holds no statement (read by the caller: verify itself does no I/O). */
  readonly emptyRollbacks?: ReadonlySet<string> | undefined;
}

export interface VerifyReport {
  readonly findings: readonly Finding[];
  readonly errors: number;
  readonly warnings: number;
  /** How many migrations (files or history rows) were looked at. */
  readonly checked: number;
}

function expectedRollback(m: Migration, rollbackDir: string): string {
  // Suggest the layout the up file already uses.
  if (m.up.displayPath.endsWith('.up.sql')) return m.up.displayPath.replace(/\.up\.sql$/, '.down.sql');
  return `${rollbackDir.replace(/\/+$/, '')}/${m.version}_${m.name}_rollback.sql`;
}

/** Every finding, oldest version first; within a version, errors before warnings. */
export function verify(
  migrations: readonly Migration[],
  history: readonly HistoryRow[],
  options: VerifyOptions = {},
): VerifyReport {
  const findings: Finding[] = [];
  const words = options.words ?? CLI_WORDING;
  const entries = statusOf(migrations, history);
  for (const e of entries) {
    const m = e.migration;
    const row = e.row;
    const label = `${e.version}_${e.name}`;
    const file = m?.up.displayPath ?? null;
    const own: Finding[] = [];
    const add = (severity: Severity, code: FindingCode, message: string) =>
      own.push({ severity, code, version: e.version, file, message });

    if (row?.dirty) {
      const next = isResumable(e)
        ? `Fix what failed, then run migrate up: it resumes at statement ${(row.statementsDone ?? 0) + 1}.`
        : `Check the database by hand, then run: migrate repair ${e.version}`;
      add(
        'error',
        'dirty',
        `${label} is dirty: it ran outside a transaction and stopped part-way (or is running now). ${next}`,
      );
    }
    if (row && !m) {
      add(
        'error',
        'file-missing',
        `${label} is applied (${row.appliedAt.toISOString()}) but its file is gone. Restore it from version control.`,
      );
    }
    if (row && m && row.checksum !== m.checksum) {
      add(
        'error',
        'checksum-changed',
        `${label} was edited after it was applied (checksum ${short(row.checksum)} applied, ${short(m.checksum)} on disk). Restore the file from version control, or accept the edit: ${words.repair(e.version)}`,
      );
    }
    if (!row && e.outOfOrder) {
      add(
        options.allowOutOfOrder ? 'warning' : 'error',
        'out-of-order',
        `${label} is pending but older than the newest applied migration. Renumber it above the newest, or run it with ${words.upOutOfOrder}.`,
      );
    }
    if (!row && m) {
      add(
        options.noPending ? 'error' : 'warning',
        'pending',
        `${label} is not applied yet. Run: ${words.command('up')}`,
      );
    }
    if (m && m.downPath === undefined) {
      add(
        options.allowMissingRollback ? 'warning' : 'error',
        'rollback-missing',
        `${label} has no rollback file. Write ${expectedRollback(m, options.rollbackDir ?? 'rollback')} (an empty file is a valid no-op), or pass ${words.allowMissingRollback}.`,
      );
    }
    if (m && m.up.empty) {
      add(
        'warning',
        'empty-migration',
        `${label} holds no statement (empty or comments only); it is a valid no-op. Is its body missing?`,
      );
    }
    if (m && m.downPath !== undefined && options.emptyRollbacks?.has(m.version)) {
      add(
        'warning',
        'empty-rollback',
        `${label}'s rollback holds no statement: rolling it back changes nothing. Fine when it cannot be undone (say so in a comment); otherwise write it. migrate test-rollback shows what it leaves.`,
      );
    }
    findings.push(...own.filter((f) => f.severity === 'error'), ...own.filter((f) => f.severity === 'warning'));
  }
  const errors = findings.filter((f) => f.severity === 'error').length;
  return { findings, errors, warnings: findings.length - errors, checked: entries.length };
}

function short(checksum: string): string {
  return checksum.slice(0, 12);
}
