/**
 * The real PostgreSQL grammar (libpg-query: PostgreSQL 17's parser compiled to WebAssembly), loaded on first
 * use only: importing it costs ~25 ms and a few MB that `status` or `verify` should never pay.
 * Measured on the 2-core dev machine (Node 20, libpg-query 17.7.4): the first `loadParser()` (import +
 * WebAssembly instantiation) takes 25-70 ms; then parsing and splitting 1000 statements takes 7-16 ms
 * (bench/sql-bench.mjs).
 */
import { setFlagsFromString } from 'node:v8';
import { MigrateError } from '../errors.js';
import { charIndexFromPgPosition, lineColumnAt } from './position.js';

/**
 * A node of the parse tree as libpg-query's JSON gives it: `{ NodeType: { field: ... } }` for a wrapped node,
 * plain fields otherwise. Zero, false and empty values are omitted from that JSON. The tree is typed loosely
 * on purpose: the rules read a handful of fields and check their shapes where they read them.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PgNode = any;

/** One top-level statement of a parse. Offsets are UTF-8 bytes; a missing one means 0. */
export interface RawStmt {
  readonly stmt: PgNode;
  readonly stmt_location?: number;
  readonly stmt_len?: number;
}

export interface ParseTree {
  /** The grammar's PostgreSQL version (170007 for libpg-query 17.7). */
  readonly version: number;
  readonly stmts: readonly RawStmt[];
}

interface LibPgQuery {
  loadModule(): Promise<void>;
  parseSync(query: string): { version: number; stmts?: RawStmt[] };
}

let loaded: LibPgQuery | undefined;
let loading: Promise<LibPgQuery> | undefined;
let loadMs: number | undefined;

/**
 * Texts longer than this (characters) are not parsed: libpg-query holds the whole parse tree as JSON, some
 * fifty times the text (8 MB took 450 MB of memory; 50 MB took ~950 MB, then failed with "Parse result is
 * null"). Such files are data loads, not schema changes: the lint says it did not read them, and they still
 * run (PostgreSQL parses them itself). 2 MB lints in ~220 MB.
 */
export const MAX_PARSE_CHARS = 2 * 1024 * 1024;

/** Loads the parser once; later calls return at once. Safe to call concurrently. */
export function loadParser(): Promise<void> {
  if (loaded !== undefined) return Promise.resolve();
  loading ??= (async () => {
    const started = performance.now();
    const module = (await import('libpg-query')) as unknown as LibPgQuery;
    await module.loadModule();
    loadMs = performance.now() - started;
    loaded = module;
    return module;
  })();
  return loading.then(() => undefined);
}

/** Milliseconds the first load took, once loaded (for `--verbose` and the benchmark). */
export function parserLoadMs(): number | undefined {
  return loadMs;
}

/** True once `loadParser()` finished: `parseSync` may be used. */
export function isParserLoaded(): boolean {
  return loaded !== undefined;
}

/** Where a parse failed. */
export class SqlSyntaxError extends MigrateError {
  /** 1-based line in the parsed text (add the text's own offset in the file, if any). */
  readonly line: number;
  /** 1-based column in code points. */
  readonly column: number;
  /** JS index of the failing token in the parsed text. */
  readonly charIndex: number;
  /** The grammar's own message, e.g. `syntax error at or near "frm"`. */
  readonly reason: string;

  constructor(reason: string, text: string, charIndex: number, displayPath: string | undefined, cause: unknown) {
    const { line, column } = lineColumnAt(text, charIndex);
    const where = `${displayPath ?? '<sql>'}:${line}:${column}`;
    super('sql-syntax-error', `${where}: ${reason}`, {
      cause,
      hint: 'Fix the SQL at that position; tidemark parses with the PostgreSQL 17 grammar.',
      details: { file: displayPath, line, column },
    });
    this.name = 'SqlSyntaxError';
    this.line = line;
    this.column = column;
    this.charIndex = charIndex;
    this.reason = reason;
  }
}

/**
 * Parses SQL text with the real PostgreSQL grammar. Whitespace- or comment-only text gives no statements.
 * Throws `SqlSyntaxError` (code `sql-syntax-error`, exit 2) with file:line:col when the text does not parse.
 *
 * @example const tree = await parse('alter table t add column x int;', 'migrations/002_x.sql');
 */
export async function parse(text: string, displayPath?: string): Promise<ParseTree> {
  await loadParser();
  return parseSync(text, displayPath);
}

/**
 * Keeps the grammar's WebAssembly on V8's baseline compiler (Liftoff), without touching the embedding app's own
 * WebAssembly. V8 compiles a wasm function lazily on its first call, and decides then whether that code may
 * later be recompiled by the optimizing tier (TurboFan): only when `--wasm-tier-up-filter` is -1 (every
 * function, the default) or that function's index. A single parse makes the grammar hot enough to be
 * recompiled, and that compile costs ~600 ms of CPU and ~50 MB on a background thread: more than 1000 files
 * take to lint without it (bench/lint-bench.mjs). So each call of the grammar runs with the filter set to an
 * index no function has and restores -1 right after: the call is synchronous, no other JavaScript runs in
 * between, and functions compiled outside the window (the app's) tier up as usual. The CLI relies on this too
 * (it sets no V8 flag at start: see bin/migrate.js). Left alone when the process was started with its own
 * filter (a V8 debugging flag).
 */
let baselineOnly = !`${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`.includes('tier-up-filter');

function callGrammar(text: string): { version: number; stmts?: RawStmt[] } {
  if (!baselineOnly) return loaded!.parseSync(text);
  try {
    setFlagsFromString('--wasm-tier-up-filter=2147483647');
  } catch {
    // A runtime whose node:v8 does not implement it (the parse is only slower there).
    baselineOnly = false;
    return loaded!.parseSync(text);
  }
  try {
    return loaded!.parseSync(text);
  } finally {
    setFlagsFromString('--wasm-tier-up-filter=-1');
  }
}

/** `parse` for callers that already awaited `loadParser()` (lint runs thousands of small parses). */
export function parseSync(text: string, displayPath?: string): ParseTree {
  if (loaded === undefined) {
    throw new MigrateError('parser-not-loaded', 'the SQL parser was used before loadParser() finished');
  }
  // libpg-query refuses empty input instead of returning no statements.
  if (text.trim() === '') return { version: 0, stmts: [] };
  try {
    const result = callGrammar(text);
    return { version: result.version, stmts: result.stmts ?? [] };
  } catch (error) {
    const details = (error as { sqlDetails?: { message?: string; cursorPosition?: number } }).sqlDetails;
    const reason = details?.message ?? (error instanceof Error ? error.message : String(error));
    // libpg-query turns the grammar's 1-based character cursor into a 0-based one; back to PostgreSQL's unit.
    const charIndex = charIndexFromPgPosition(text, (details?.cursorPosition ?? 0) + 1);
    throw new SqlSyntaxError(reason, text, charIndex, displayPath, error);
  }
}
