/** The contract between the lint engine (`lint/index.ts`) and its rules (`lint/rules/<id>.ts`). */
import type { Catalog } from '../../db/catalog.js';
import type { Allowance } from '../../source/types.js';
import type { LockMode } from '../locks.js';
import type { PgNode } from '../parser.js';
import type { SchemaView } from '../schema.js';

export type Severity = 'error' | 'warning';

/** What lint needs of a file: a subset of `SqlFile` (src/source/types.ts). */
export interface LintInputFile {
  readonly displayPath: string;
  readonly text: string;
  readonly directives: {
    readonly noTransaction: boolean;
    readonly allow: readonly Allowance[];
  };
  /**
   * For a rollback file: the text of the up file it undoes. Dropping exactly what that up created (its
   * tables, columns, types, schemas) is the rollback's purpose, not a loss of someone else's data.
   */
  readonly undoes?: string | undefined;
}

export interface LintContext {
  /** server_version_num of the target (150000 for 15.0): from the database, or `--pg-version`. */
  readonly pgVersion: number;
  /** The live catalog, when connected. Offline, rules say what they could not know. */
  readonly catalog?: Catalog;
  /**
   * Connected only: a size-bound finding (see `Rule.sizeBound`) on a table smaller than this many bytes
   * (pg_total_relation_size) is a warning that says the size. Default `DEFAULT_SIZE_THRESHOLD_BYTES`.
   */
  readonly sizeThresholdBytes?: number;
  /**
   * Told each catalog table read without its details (db/catalog.ts `details: false`) whose details a rule
   * needed: a size-bound error its size (`sizeBytes` NaN: the finding stays an error), a validated CHECK
   * constraint its definition (not known: taken as no CHECK the rule could rely on). The caller may read
   * those tables' details and lint again (core/preflight.ts); the findings are then those of a full read.
   */
  readonly onIncompleteTable?: (table: { readonly schema: string; readonly name: string }) => void;
  /** Per-rule overrides from the project's lint config: `off`, or another severity. */
  readonly ruleSeverity?: ReadonlyMap<string, Severity | 'off'>;
  /**
   * Give every statement to the grammar, also those no rule reads (INSERT, COPY, CREATE FUNCTION, COMMENT:
   * `sql/shortcut.ts`). The findings are the same; tests and benchmarks compare both ways.
   */
  readonly parseAll?: boolean;
  /** Told the statement kinds of each file that parsed (the production guard reads them: one parse). */
  readonly onStatementKinds?: (displayPath: string, kinds: readonly string[]) => void;
}

export interface Finding {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** Rule id (kebab-case), or `syntax-error`, `allow-missing-reason`, `unknown-lint-rule`. */
  readonly rule: string;
  readonly severity: Severity;
  readonly message: string;
  /** The safe alternative. */
  readonly help: string;
  /** The lock the flagged statement takes, e.g. `ACCESS EXCLUSIVE`; undefined when none applies. */
  readonly lock: LockMode | undefined;
  /** `schema.name` of the table concerned, when there is one. */
  readonly table: string | undefined;
  /** Set when a `-- migrate:allow RULE -- reason` in the file acknowledges this finding. */
  readonly acknowledged?: { readonly reason: string; readonly line: number };
  /**
   * Set by the run's preflight when the finding must not stop the run although it is an error: the file is at
   * or before LINT_START_AFTER (an adopted history), or is re-applied by `redo`. Reported, never refused.
   */
  readonly exempt?: string;
}

/** The transaction facts the engine tracks while walking a file. */
export interface TransactionState {
  /** True when the current statement runs inside a transaction block (the runner's, or an explicit BEGIN). */
  readonly inTransaction: boolean;
  /** True when the file is wrapped by the runner (no `-- migrate:no-transaction`). */
  readonly runnerWrapped: boolean;
  /** Tables that got ACCESS EXCLUSIVE earlier in the current transaction. */
  readonly accessExclusive: ReadonlySet<string>;
  /** Enum values added earlier in the current transaction. */
  readonly enumValuesAdded: readonly { readonly type: string; readonly value: string }[];
  /** Identifies the current transaction (compare with `PendingConstraint.transaction`). */
  readonly id: number;
}

/** What a rule sees of one statement. */
export interface RuleContext {
  readonly kind: string;
  /** The statement's node, unwrapped. */
  readonly node: PgNode;
  readonly pgVersion: number;
  /** Schema knowledge before this statement (catalog + earlier statements and files of the run). */
  readonly schema: SchemaView;
  readonly transaction: TransactionState;
  /** True for a statement read from inside a DO block's body. */
  readonly inDoBlock: boolean;
}

/** One thing a rule found. Positions default to the statement's start. */
export interface Hit {
  /** Overrides the rule's reason, e.g. to name the column or say what could not be known. */
  readonly message?: string;
  readonly table?: string;
  /** A node `location` (UTF-8 byte offset in the parsed text) to point at instead of the statement. */
  readonly location?: number;
  /** Lowers an error to a warning when the rule could not know enough to be sure. */
  readonly severity?: Severity;
}

export interface Rule {
  /** Stable kebab-case id; squawk's where one exists. */
  readonly id: string;
  readonly severity: Severity;
  /** One line: what goes wrong. */
  readonly reason: string;
  /** The lock the flagged operation takes. */
  readonly lock: LockMode | undefined;
  /** The safe alternative, one or two sentences. */
  readonly help: string;
  /**
   * True when the harm is a lock held or a rewrite/scan whose length grows with the table: connected, on a
   * table below the size threshold, the finding is a warning. Rules about lost data or broken code leave it unset.
   */
  readonly sizeBound?: boolean;
  /** The statement kinds the rule looks at (`AlterTableStmt`, ...); absent: every statement. */
  readonly kinds?: readonly string[];
  check(context: RuleContext): Hit[];
}
