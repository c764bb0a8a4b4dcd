/**
 * Safety lint of migration files (issue 6). Pure: text in, findings out; the catalog, when connected, is
 * read by the caller (`db/catalog.ts`) and passed in. Files are linted in run order so that what an earlier
 * pending file creates (a table, a NOT VALID constraint, a validated CHECK) is known to later ones.
 *
 * The engine knows the runner's transaction model: a file runs in one transaction unless it carries
 * `-- migrate:no-transaction`, in which case each statement is its own transaction unless it sits between
 * an explicit BEGIN and COMMIT.
 */
import { MAX_PARSE_CHARS, SqlSyntaxError, loadParser, withoutOptimizer } from '../parser.js';
import { statementLockFacts, type LockMode } from '../locks.js';
import { psqlOnlyInput } from '../psql-only.js';
import { TextIndex } from '../position.js';
import { SchemaView } from '../schema.js';
import { shortcut, type Shortcut } from '../shortcut.js';
import { parseFilesHeadsSync, parseStatementHeadsSync, type FileHeads, type StatementHead } from '../split.js';
import type { PgNode } from '../parser.js';
import { doBlockStatements } from './do-block.js';
import { RULES, RULES_BY_ID } from './rules/index.js';
import type { Finding, LintContext, LintInputFile, Rule, RuleContext, TransactionState } from './types.js';

export type { Finding, LintContext, LintInputFile, Rule, Severity } from './types.js';
export { RULES, RULES_BY_ID } from './rules/index.js';

/**
 * Below this size (pg_total_relation_size) a lock or rewrite finding is a warning when connected: 10 MB is
 * read, rewritten or indexed in well under a second on any server, shorter than the runner's default
 * lock_timeout (MAX_LOCK_WAIT=5 s), so the lock is over before a queue behind it matters.
 */
export const DEFAULT_SIZE_THRESHOLD_BYTES = 10 * 1024 * 1024;

/** `8192` -> `8 kB`, as pg_size_pretty would say it. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 10 * 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${Math.round(value)} ${units[unit]}`;
}

/** Ids of findings the engine itself reports (not rules; they cannot be acknowledged). */
export const ENGINE_FINDINGS = {
  syntaxError: 'syntax-error',
  allowMissingReason: 'allow-missing-reason',
  unknownRule: 'unknown-lint-rule',
  tooLarge: 'too-large-to-lint',
} as const;

/**
 * Lints files in the order they will run, sharing schema knowledge across them.
 *
 * @example
 * const findings = await lintFiles(pending.map((m) => m.up), { pgVersion: 150000, catalog });
 * const blocking = findings.filter((f) => f.severity === 'error' && !f.acknowledged);
 */
export async function lintFiles(
  files: readonly LintInputFile[],
  context: LintContext,
  ahead?: ParsedAhead,
): Promise<Finding[]> {
  const run = new LintRun(context);
  return lintInBatches(files, context, () => run, ahead);
}

/**
 * Lints each file on its own (what an earlier file creates is not known to a later one: `migrate lint` offline
 * or of named files), parsing them in batches all the same.
 */
export async function lintEachFile(
  files: readonly LintInputFile[],
  context: LintContext,
  ahead?: ParsedAhead,
): Promise<Finding[]> {
  return lintInBatches(files, context, () => new LintRun(context), ahead);
}

async function lintInBatches(
  files: readonly LintInputFile[],
  context: LintContext,
  runOf: () => LintRun,
  ahead: ParsedAhead | undefined,
): Promise<Finding[]> {
  await loadParser();
  // Short, one-off work: V8's optimizing compilers would cost more than they save (parser.ts).
  return withoutOptimizer(() => lintParsedInBatches(files, context, runOf, ahead));
}

/** One batch of files as the grammar read it: what lintParsedInBatches lints. */
interface ParsedBatch {
  readonly parseable: LintInputFile[];
  readonly cuts: (Shortcut | undefined)[];
  readonly undone: LintInputFile[];
  readonly undoCuts: (Shortcut | undefined)[];
  readonly parsed: ReturnType<typeof parseFilesHeadsSync>;
}

function parseBatch(batch: readonly LintInputFile[], parseAll: boolean): ParsedBatch {
  const parseable = batch.filter((f) => f.text.length <= MAX_PARSE_CHARS);
  const cut = (text: string) => (parseAll ? undefined : shortcut(text));
  const cuts = parseable.map((f) => cut(f.text));
  // The up files the batch's rollbacks undo go into the same call, through the shortcut for an undo: only their
  // CREATE TABLE, ALTER TABLE and CREATE SCHEMA statements are read (SchemaView.beginUndo), and of a CREATE
  // TABLE only its name. `down` of 1000 migrations parsed each up file whole, in a call of its own.
  const undone = parseable.filter((f) => f.undoes !== undefined && f.undoes.length <= MAX_PARSE_CHARS);
  const undoCuts = undone.map((f) => (parseAll ? undefined : shortcut(f.undoes!, true)));
  const parsed = parseFilesHeadsSync(
    [...parseable.map((f) => f.text), ...undone.map((f) => f.undoes!)],
    [...cuts.map((c) => c?.masked), ...undoCuts.map((c) => c?.masked)],
  );
  return { parseable, cuts, undone, undoCuts, parsed };
}

/**
 * The first batches of a lint, parsed while its caller waits for something else: the pre-run lint parses
 * while the server answers the catalog read (~70 ms of `down --all`'s thousand rollbacks, when the grammar is
 * loaded and the process would otherwise idle). A parse does not depend on the catalog, only on the files and
 * `parseAll`; the lint of `files` with the same `parseAll` then takes these batches instead of parsing them.
 */
export class ParsedAhead {
  readonly #batches: (ParsedBatch | undefined)[] = [];
  #stopped = false;
  readonly #done: Promise<void>;

  constructor(
    readonly files: readonly LintInputFile[],
    readonly parseAll: boolean,
  ) {
    this.#done = this.#parse().catch(() => {
      // The lint parses what is left, and reports any problem there.
    });
  }

  async #parse(): Promise<void> {
    await loadParser();
    const end = Math.min(this.files.length, AHEAD_BATCHES * BATCH_FILES);
    for (let from = 0; from < end && !this.#stopped; from += BATCH_FILES) {
      const batch = this.files.slice(from, from + BATCH_FILES);
      this.#batches.push(withoutOptimizer(() => parseBatch(batch, this.parseAll)));
      // A turn of the event loop between batches: the answer being waited for is read as soon as it comes.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Batch `index`'s parse, once: its trees go when its lint is done with them. */
  take(index: number): ParsedBatch | undefined {
    const batch = this.#batches[index];
    this.#batches[index] = undefined;
    return batch;
  }

  /** Stops after the batch being parsed; resolves once it has. */
  stop(): Promise<void> {
    this.#stopped = true;
    return this.#done;
  }
}

function lintParsedInBatches(
  files: readonly LintInputFile[],
  context: LintContext,
  runOf: () => LintRun,
  ahead: ParsedAhead | undefined,
): Finding[] {
  const findings: Finding[] = [];
  const parseAll = context.parseAll === true;
  const pre = ahead !== undefined && ahead.files === files && ahead.parseAll === parseAll ? ahead : undefined;
  // Parsed in batches (see parseFilesHeadsSync); a batch that cannot be trusted is parsed file by file. A file
  // too large to lint is not parsed at all. Only the batch's trees are alive at a time (and those parsed ahead).
  for (let from = 0, b = 0; from < files.length; from += BATCH_FILES, b += 1) {
    const batch = files.slice(from, from + BATCH_FILES);
    const { parseable, cuts, undone, undoCuts, parsed } = pre?.take(b) ?? parseBatch(batch, parseAll);
    for (let ix = 0; ix < batch.length; ix++) {
      const file = batch[ix]!;
      const i = parseable.indexOf(file);
      const u = undone.indexOf(file);
      const undo = u === -1 ? undefined : { parsed: parsed?.[parseable.length + u], cut: undoCuts[u] };
      findings.push(...runOf().lintFile(file, i === -1 ? undefined : parsed?.[i], cuts[i], undo));
    }
  }
  return findings;
}

/**
 * At most this many batches are parsed ahead: their trees stay alive until linted. `down --all` of 1000
 * migrations parses 8-10 in the catalog read's ~70 ms (peak RSS +1.3 MB); a read that waits on a lock (up to
 * its 1 s lock_timeout) would otherwise have every file's trees parsed and kept.
 */
const AHEAD_BATCHES = 16;

/**
 * Files parsed per call of the grammar: enough to spread its fixed cost per call, few enough that the trees
 * of one batch (alive together) stay small. 20 rather than 50 since the young generation is kept small during
 * the lint (parser.ts withoutOptimizer): trees alive across a scavenge are promoted, and 50 files' trees grew
 * the old generation; `up` stopped by its lint of the 1000 generated files: 50 -> 20 files a call, same CPU,
 * peak RSS ~79 -> ~77 MB (100: ~87 MB; 10: ~76 MB, medians of 7, interleaved).
 */
const BATCH_FILES = 20;

/** Lints one file on its own (what it creates is forgotten afterwards). */
export async function lintFile(file: LintInputFile, context: LintContext): Promise<Finding[]> {
  return lintFiles([file], context);
}

/**
 * One lint run over several files: keeps the schema view and the transaction counter between them.
 * Needs `loadParser()` to have finished (use `lintFiles` unless you lint in a loop you time yourself).
 */
export class LintRun {
  readonly #context: LintContext;
  readonly schema: SchemaView;
  #transactionCounter = 0;

  readonly #rules: RuleDispatch;
  readonly #sizeThreshold: number;

  constructor(context: LintContext, schema = new SchemaView(context.catalog, context.onIncompleteTable)) {
    this.#context = context;
    this.schema = schema;
    this.#rules = dispatchOf(context);
    this.#sizeThreshold = context.sizeThresholdBytes ?? DEFAULT_SIZE_THRESHOLD_BYTES;
  }

  /** The rules that look at statements of `kind`, in id order. */
  #rulesFor(kind: string): readonly Rule[] {
    return this.#rules.for(kind);
  }

  /** Connected, the size of `table` when it is in the catalog and below the threshold; undefined otherwise. */
  #smallTable(table: string | undefined): number | undefined {
    if (table === undefined || this.#context.catalog === undefined) return undefined;
    const known = this.schema.table(table);
    if (known === undefined) return undefined;
    if (Number.isNaN(known.sizeBytes)) this.#context.onIncompleteTable?.(known);
    return known.sizeBytes < this.#sizeThreshold ? known.sizeBytes : undefined;
  }

  /**
   * Lints one file; `parsed`: its statements from a batched parse (parsed here when absent); `cut`: the
   * statements that parse left out (`shortcut.ts`); `undo`: the same for `file.undoes`.
   */
  lintFile(
    file: LintInputFile,
    parsed?: FileHeads,
    cut?: Shortcut,
    undo?: { readonly parsed: FileHeads | undefined; readonly cut: Shortcut | undefined },
  ): Finding[] {
    if (file.text.length > MAX_PARSE_CHARS) {
      const mb = (n: number) => `${Math.round(n / 1024 / 102.4) / 10} MB`;
      return [
        {
          ...engineFinding(
            file,
            1,
            1,
            ENGINE_FINDINGS.tooLarge,
            `not linted: ${mb(file.text.length)} is more than the lint reads (${mb(MAX_PARSE_CHARS)}); nothing in this file was checked`,
            'Keep bulk data loads apart from schema changes (e.g. a seed, or COPY from a file), so the schema change stays small enough to check.',
          ),
          severity: 'warning' as const,
        },
        ...this.#allowanceFindings(file),
      ];
    }
    const index = parsed?.index ?? new TextIndex(file.text);
    // Node locations of a batched parse count from the batch's start: shift them back to the file.
    const nodeIndex =
      parsed === undefined || parsed.byteBase === 0
        ? index
        : { charIndexFromByte: (byte: number) => index.charIndexFromByte(byte - parsed.byteBase) };
    const findings: Finding[] = [];
    let statements;
    try {
      statements = headsOf(file, index, parsed, cut);
    } catch (error) {
      if (!(error instanceof SqlSyntaxError)) throw error;
      return [
        engineFinding(
          file,
          error.line,
          error.column,
          ENGINE_FINDINGS.syntaxError,
          error.reason,
          `${psqlOnlyInput(file.text, error.line) ?? 'Fix the SQL at that position.'} Nothing in this file was checked.`,
        ),
        ...this.#allowanceFindings(file),
      ];
    }

    this.#context.onStatementKinds?.(
      file.displayPath,
      statements.map((st) => st.kind),
    );
    if (file.undoes !== undefined) {
      const up = { ...file, text: file.undoes };
      const upIndex = undo?.parsed?.index ?? new TextIndex(up.text);
      let heads: StatementHead[] | undefined;
      try {
        heads = headsOf(up, upIndex, undo?.parsed, undo?.cut);
      } catch {
        // A column list blanked by the undo's shortcut leaves a statement the grammar should take; should it
        // not, the up is read whole.
        if (undo?.cut !== undefined) heads = headsOrNothing(up, upIndex);
      }
      // An up file that does not parse undoes nothing we can name: the rollback is judged on its own.
      if (heads !== undefined) this.schema.beginUndo(heads);
    }
    const runnerWrapped = !file.directives.noTransaction;
    let inExplicit = false;
    let transaction = this.#newTransaction(runnerWrapped);

    for (let ix = 0; ix < statements.length; ix++) {
      const statement = statements[ix]!;
      if (!runnerWrapped && !inExplicit) transaction = this.#newTransaction(false);
      // Not parsed: no rule reads its kind and it tells the schema view nothing (shortcut.ts).
      if (statement.skipped === true) continue;
      const located = [
        {
          kind: statement.kind,
          node: statement.node,
          start: statement.start,
          base: 0,
          baseIndex: nodeIndex,
          inDo: false,
        },
      ];
      if (statement.kind === 'DoStmt') {
        for (
          let jx = 0, ys = doBlockStatements(statement.node, file.text, nodeIndex, statement.start);
          jx < ys.length;
          jx++
        ) {
          const inner = ys[jx]!;
          located.push({ ...inner, inDo: true });
        }
      }
      for (let jx = 0; jx < located.length; jx++) {
        const item = located[jx]!;
        this.schema.qualify(item.kind, item.node);
        // `DROP ... IF EXISTS` of what provably is not there is skipped by PostgreSQL: nothing to judge.
        const node = this.schema.present(item.kind, item.node);
        if (node === undefined) {
          this.#after(item.kind, item.node, transaction);
          continue;
        }
        const ruleContext: RuleContext = {
          kind: item.kind,
          node,
          pgVersion: this.#context.pgVersion,
          schema: this.schema,
          transaction: transaction.view(),
          inDoBlock: item.inDo,
        };
        for (let kx = 0, zs = this.#rulesFor(item.kind); kx < zs.length; kx++) {
          const rule = zs[kx]!;
          for (let lx = 0, ws = rule.check(ruleContext); lx < ws.length; lx++) {
            const hit = ws[lx]!;
            const at =
              hit.location === undefined || hit.location < 0
                ? item.start
                : item.base + item.baseIndex.charIndexFromByte(hit.location);
            const { line, column } = index.lineColumn(at);
            const configured = this.#context.ruleSeverity?.get(rule.id);
            let severity =
              configured === undefined || configured === 'off' ? (hit.severity ?? rule.severity) : configured;
            let message = hit.message ?? rule.reason;
            const small = severity === 'error' && rule.sizeBound === true ? this.#smallTable(hit.table) : undefined;
            if (small !== undefined) {
              severity = 'warning';
              message = `${message} (${hit.table} is ${formatBytes(small)}, below the lint size threshold of ${formatBytes(this.#sizeThreshold)}: brief)`;
            }
            findings.push({
              file: file.displayPath,
              line,
              column,
              rule: rule.id,
              severity,
              message,
              help: rule.help,
              lock: rule.lock,
              table: hit.table,
            });
          }
        }
        this.#after(item.kind, item.node, transaction);
      }

      if (statement.kind === 'TransactionStmt' && !runnerWrapped) {
        const kind = String(statement.node.kind ?? 'TRANS_STMT_BEGIN');
        if (kind === 'TRANS_STMT_BEGIN' || kind === 'TRANS_STMT_START') {
          inExplicit = true;
          transaction = this.#newTransaction(false, true);
        } else if (kind === 'TRANS_STMT_COMMIT' || kind === 'TRANS_STMT_ROLLBACK') {
          inExplicit = false;
        }
      }
    }
    this.schema.endFile();
    return acknowledge(findings, file).concat(this.#allowanceFindings(file));
  }

  #newTransaction(runnerWrapped: boolean, explicit = false): Transaction {
    return new Transaction(++this.#transactionCounter, runnerWrapped, runnerWrapped || explicit);
  }

  #after(kind: string, node: PgNode, transaction: Transaction): void {
    const facts = statementLockFacts(kind, node, this.schema, this.#context.pgVersion);
    for (let ix = 0, xs = facts.locks; ix < xs.length; ix++) {
      const lock = xs[ix]!;
      if (lock.mode === 'ACCESS EXCLUSIVE' && lock.role !== 'new') transaction.accessExclusive.add(lock.relation);
    }
    if (kind === 'AlterEnumStmt' && typeof node.newVal === 'string' && node.oldVal === undefined) {
      const type = (node.typeName ?? []).map((n: PgNode) => n?.String?.sval).join('.');
      transaction.enumValuesAdded.push({ type, value: node.newVal });
    }
    this.schema.apply(kind, node, transaction.id);
  }

  #allowanceFindings(file: LintInputFile): Finding[] {
    const out: Finding[] = [];
    for (let ix = 0, xs = file.directives.allow; ix < xs.length; ix++) {
      const allow = xs[ix]!;
      if (!RULES_BY_ID.has(allow.rule)) {
        out.push(
          engineFinding(
            file,
            allow.line,
            1,
            ENGINE_FINDINGS.unknownRule,
            `-- migrate:allow names an unknown rule "${allow.rule}"`,
            `Use one of the rule ids of migrate lint (${[...RULES_BY_ID.keys()].slice(0, 3).join(', ')}, ...); see docs/rules/.`,
          ),
        );
      } else if (allow.reason === undefined || allow.reason.trim() === '') {
        out.push(
          engineFinding(
            file,
            allow.line,
            1,
            ENGINE_FINDINGS.allowMissingReason,
            `-- migrate:allow ${allow.rule} has no reason`,
            `Say why it is safe here: -- migrate:allow ${allow.rule} -- <reason>.`,
          ),
        );
      }
    }
    return out;
  }
}

/**
 * The statements of a file in order: from the batch's parse when there is one, with the statements the shortcut
 * left out put back in place; parsed here otherwise (the shortcut's text when there is one). When the grammar
 * does not start statements exactly where the shortcut's scan expected, the whole file is parsed.
 */
function headsOf(file: LintInputFile, index: TextIndex, parsed?: FileHeads, cut?: Shortcut): StatementHead[] {
  let heads = parsed?.heads;
  if (heads === undefined) {
    heads =
      cut === undefined
        ? parseStatementHeadsSync(file.text, file.displayPath, index)
        : parseStatementHeadsSync(file.text, file.displayPath, index, cut.masked);
  }
  if (cut === undefined) return heads;
  if (heads.length !== cut.kept.length || heads.some((h, i) => h.start !== cut.kept[i])) {
    return parseStatementHeadsSync(file.text, file.displayPath, index);
  }
  const out: StatementHead[] = [];
  let k = 0;
  for (let ix = 0, xs = cut.skipped; ix < xs.length; ix++) {
    const skip = xs[ix]!;
    while (k < heads.length && heads[k]!.start < skip.start) out.push(heads[k++]!);
    out.push({ kind: skip.kind, node: {}, start: skip.start, skipped: true });
  }
  while (k < heads.length) out.push(heads[k++]!);
  return out;
}

/** The statements of a file parsed whole, or undefined when it does not parse. */
function headsOrNothing(file: LintInputFile, index: TextIndex): StatementHead[] | undefined {
  try {
    return parseStatementHeadsSync(file.text, file.displayPath, index);
  } catch {
    return undefined;
  }
}

/**
 * The rules of a lint context by statement kind, computed once per kind and shared by every run of the context
 * (`lintEachFile` makes a run per file).
 */
class RuleDispatch {
  readonly #rules: readonly Rule[];
  readonly #byKind = new Map<string, readonly Rule[]>();

  constructor(context: LintContext) {
    this.#rules =
      context.ruleSeverity === undefined ? RULES : RULES.filter((r) => context.ruleSeverity!.get(r.id) !== 'off');
  }

  for(kind: string): readonly Rule[] {
    let rules = this.#byKind.get(kind);
    if (rules === undefined) {
      rules = this.#rules.filter((r) => r.kinds === undefined || r.kinds.includes(kind));
      this.#byKind.set(kind, rules);
    }
    return rules;
  }
}

const dispatches = new WeakMap<LintContext, RuleDispatch>();

function dispatchOf(context: LintContext): RuleDispatch {
  let dispatch = dispatches.get(context);
  if (dispatch === undefined) {
    dispatch = new RuleDispatch(context);
    dispatches.set(context, dispatch);
  }
  return dispatch;
}

class Transaction {
  readonly accessExclusive = new Set<string>();
  readonly enumValuesAdded: { type: string; value: string }[] = [];
  constructor(
    readonly id: number,
    readonly runnerWrapped: boolean,
    readonly inTransaction: boolean,
  ) {}

  view(): TransactionState {
    return {
      id: this.id,
      runnerWrapped: this.runnerWrapped,
      inTransaction: this.inTransaction,
      accessExclusive: this.accessExclusive,
      enumValuesAdded: this.enumValuesAdded,
    };
  }
}

/** Marks findings acknowledged by a well-formed `-- migrate:allow RULE -- reason` of the file. */
function acknowledge(findings: Finding[], file: LintInputFile): Finding[] {
  const allowed = new Map<string, { reason: string; line: number }>();
  for (let ix = 0, xs = file.directives.allow; ix < xs.length; ix++) {
    const allow = xs[ix]!;
    if (allow.reason !== undefined && allow.reason.trim() !== '' && RULES_BY_ID.has(allow.rule)) {
      allowed.set(allow.rule, { reason: allow.reason.trim(), line: allow.line });
    }
  }
  return findings.map((finding) => {
    const ack = allowed.get(finding.rule);
    return ack === undefined ? finding : { ...finding, acknowledged: ack };
  });
}

function engineFinding(
  file: LintInputFile,
  line: number,
  column: number,
  rule: string,
  message: string,
  help: string,
): Finding {
  return {
    file: file.displayPath,
    line,
    column,
    rule,
    severity: 'error',
    message,
    help,
    lock: undefined,
    table: undefined,
  };
}

/** The lock a rule reports, for renderers that list rules (`migrate lint --rules`). */
export function ruleLock(id: string): LockMode | undefined {
  return RULES_BY_ID.get(id)?.lock;
}
