/**
 * Where a dirty migration stands, for `status`: a no-transaction migration that failed at statement k of n
 * resumes there (core/executor's #resumePoint decides it at run time; this says it in advance), anything else
 * dirty needs a look by hand and `repair`. Pure over the entry and the file's statements.
 */
import type { Statement } from './failure.js';
import { statementsChecksum } from './executor.js';
import type { StatusEntry } from './plan.js';
import { isResumable } from './plan.js';
import type { Wording } from './wording.js';

export interface ResumePoint {
  readonly version: string;
  readonly name: string;
  /** True when `up` goes on at `nextStatement`; false when the migration needs a look by hand and a repair. */
  readonly resumable: boolean;
  /** Statements that completed (and stay applied); undefined when the row does not say (an older tidemark). */
  readonly statementsDone: number | undefined;
  /** Statements in the file as it is now; undefined without a file (or when it does not parse). */
  readonly statements: number | undefined;
  /** 1-based: the statement that failed, where `up` resumes. */
  readonly nextStatement: number | undefined;
  /** Its line in the file, and its first line of text. */
  readonly nextLine: number | undefined;
  readonly nextText: string | undefined;
  /**
   * The statements that ran are still the same text in the file. When false, `up` refuses to resume (they
   * stay applied, and a resume would skip their new text): `next` says so.
   */
  readonly ranUnchanged: boolean | undefined;
  /** What to do next, in the words of the face the user runs (CLI or library). */
  readonly next: string;
}

/** The resume point of a dirty entry; `statements` is its file split (undefined when not resumable). */
export function resumePointOf(
  entry: StatusEntry,
  statements: readonly Statement[] | undefined,
  words: Wording,
): ResumePoint {
  const label = `${entry.version}_${entry.name}`;
  const done = entry.row?.statementsDone;
  const base = { version: entry.version, name: entry.name, statementsDone: done };
  if (!isResumable(entry) || done === undefined || statements === undefined) {
    return {
      ...base,
      resumable: false,
      statements: statements?.length,
      nextStatement: undefined,
      nextLine: undefined,
      nextText: undefined,
      ranUnchanged: undefined,
      next: `${label} stopped part-way outside a transaction${done === undefined ? '' : ` after ${done} statement${done === 1 ? '' : 's'}`}: check the database by hand, then ${words.repair(entry.version)}.`,
    };
  }
  const ranUnchanged =
    done <= statements.length && statementsChecksum(statements.slice(0, done)) === entry.row?.statementsChecksum;
  const failed = statements[done];
  const next = !ranUnchanged
    ? `${label} cannot resume as it is: the ${done} statement${done === 1 ? '' : 's'} that ran (and stay applied) changed in the file since. Restore them, or check the database by hand and ${words.repair(entry.version)}.`
    : `${label} stopped after statement ${done} of ${statements.length}${failed ? ` (statement ${done + 1}, line ${failed.line}, failed)` : ''}. Fix what failed, then ${words.resume(done + 1)}`;
  return {
    ...base,
    resumable: ranUnchanged,
    statements: statements.length,
    nextStatement: done + 1,
    nextLine: failed?.line,
    nextText: failed?.text.split('\n')[0],
    ranUnchanged,
    next,
  };
}
