/** What tidemark knows about the migration files on disk, before it looks at any database. */

export type Phase = 'expand' | 'contract';

/** `-- migrate:allow RULE -- reason` at the top of a file: acknowledges a lint finding of RULE in that file. */
export interface Allowance {
  readonly rule: string;
  /** The text after the second `--`; undefined when missing (itself a lint finding). */
  readonly reason: string | undefined;
  /** 1-based line of the directive in the file. */
  readonly line: number;
}

export interface Directives {
  /** `-- migrate:no-transaction`: run statement by statement, outside a transaction. */
  readonly noTransaction: boolean;
  /** `-- migrate:phase expand|contract`. */
  readonly phase: Phase | undefined;
  readonly allow: readonly Allowance[];
}

/** One SQL file as read: text for execution, and where it came from. */
export interface SqlFile {
  /** Absolute path. */
  readonly path: string;
  /** Path relative to the working directory, for messages (`migrations/001_x.sql`). */
  readonly displayPath: string;
  /** The file's text with a leading BOM removed, line endings as on disk (positions map back to the file). */
  readonly text: string;
  /** True when the file holds nothing but whitespace and comments: a valid no-op. */
  readonly empty: boolean;
  readonly directives: Directives;
}

export interface Migration {
  /** The leading digits of the file name, as written (`001`, `20240115000001`). */
  readonly version: string;
  /** The version as a number, for ordering and matching (`001` and `1` are the same version). */
  readonly versionNumber: bigint;
  /** The rest of the file name, without extension and `_rollback` suffix. */
  readonly name: string;
  /** sha256 (hex) of the up file, BOM removed and CRLF normalised to LF. */
  readonly checksum: string;
  readonly up: SqlFile;
  /** The rollback's path, when there is one; its text is read on demand (`readDown`). */
  readonly downPath: string | undefined;
  readonly downDisplayPath: string | undefined;
}
