/**
 * The real PostgreSQL grammar (libpg-query: PostgreSQL 17's parser compiled to WebAssembly), loaded on first
 * use only: loading it costs ~25 ms and a few MB that `status` or `verify` should never pay.
 * Measured on the 2-core dev machine (Node 20, libpg-query 17.7.4): the first `loadParser()` (import +
 * WebAssembly instantiation) takes 25-70 ms; then parsing and splitting 1000 statements takes 7-16 ms
 * (bench/sql-bench.mjs).
 */
import { createRequire } from 'node:module';
import { MigrateError } from '../errors.js';
import {
  holdOptimizer,
  holdWasmBaseline,
  holdYoungGeneration,
  releaseOptimizer,
  releaseWasmBaseline,
  releaseYoungGeneration,
} from '../v8-flags.js';
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

/**
 * libpg-query's emscripten module (`libpg-query/wasm/libpg-query.js`), called directly rather than through the
 * package's `parseSync`: that wrapper encodes the SQL into WebAssembly memory and finds the end of the JSON
 * answer with JavaScript loops over every character, which run cold in a CLI (~8 % of a lint of 1000 files);
 * Buffer's native UTF-8 writer and `indexOf` do the same work. The layout read here is the package's own
 * (wasm/index.js): the result struct `{ char *parse_tree; char *stderr_buffer; PgQueryError *error }` and the
 * error `{ char *message; char *funcname; char *filename; int lineno; int cursorpos; char *context }`.
 * test/sql/parser.test.ts holds the answers and errors to what the package's own wrapper gives.
 */
interface Grammar {
  /** The module's memory; replaced when the memory grows (read it again after a call that allocates). */
  readonly HEAPU8: Uint8Array;
  _malloc(size: number): number;
  _free(pointer: number): void;
  _wasm_parse_query_raw(query: number): number;
  _wasm_free_parse_result(result: number): void;
}

let loaded: Grammar | undefined;
let loading: Promise<Grammar> | undefined;
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
    // Required, not imported: the emscripten file is CommonJS (UMD), and in the CLI (a CommonJS bundle) the
    // first import() starts Node's ES module loader, ~7 MB of RSS and ~15 ms of CPU for this one file.
    const factory = createRequire(import.meta.url)('libpg-query/wasm/libpg-query.js') as () => Promise<Grammar>;
    const module = await factory();
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
 * Runs `work` (synchronous) with V8's optimizing compilers held back, for the grammar's WebAssembly and for
 * JavaScript, without touching the embedding app's code. A lint is short, one-off work: V8 would recompile the
 * hot parts with its optimizing tier (TurboFan) on a background thread, and that compile costs more than it
 * saves. Measured on the 1000 generated files (bench/lint-bench.mjs): the grammar's wasm recompiled costs
 * ~600 ms of CPU and ~50 MB; the lint's JavaScript recompiled ~27 % of the lint's CPU (perf) and ~9 MB.
 *
 * - WebAssembly: V8 compiles a wasm function lazily on its first call, and decides then whether that code may
 *   later be recompiled: only when `--wasm-tier-up-filter` is -1 (every function, the default) or that
 *   function's index. The window sets it to an index no function has.
 * - JavaScript: V8 decides to optimize a function when its budget runs out during a call, reading
 *   `--turbofan` (`--opt`) then. The window turns it off.
 * - The young generation: V8 doubles its semi-spaces (up to 16 MB each) when a scavenge finds much alive, and
 *   the lint's allocation rate (JSON trees, a batch of files at a time) grows them to the maximum: ~20 MB of
 *   RSS that is never given back. V8 reads `--semi-space-growth-factor` each time it grows them, so the
 *   window sets it to 1 (no growth): `up` stopped by its lint 101 -> 82 MB peak RSS (bench/lint-bench.mjs;
 *   see also withSmallYoungGeneration). A process-wide `--max-semi-space-size` would change the flag hash for
 *   the whole run (bin/migrate.js).
 *
 * All are restored right after: the work is synchronous, so no other JavaScript runs in the window, and the
 * app's functions and wasm tier up as usual (its wasm compiled outside the window; its JavaScript never runs in
 * it). Windows nest. Each flag is left alone when the process was started with its own setting of it (V8
 * debugging flags; `--jitless` too). The CLI relies on this too: it sets no V8 flag at start (bin/migrate.js).
 */
export function withoutOptimizer<T>(work: () => T): T {
  if (windowDepth > 0) {
    windowDepth++;
    try {
      return work();
    } finally {
      windowDepth--;
    }
  }
  const wasm = holdWasmBaseline();
  const js = holdOptimizer();
  const young = holdYoungGeneration();
  windowDepth++;
  try {
    return work();
  } finally {
    windowDepth--;
    if (young) releaseYoungGeneration();
    if (js) releaseOptimizer();
    if (wasm) releaseWasmBaseline();
  }
}

let windowDepth = 0;

/**
 * Runs `work` (asynchronous: the catalog read before a lint, then the lint) with the young generation kept
 * from growing, as in `withoutOptimizer`. The catalog read of a large schema allocates fast enough to grow the
 * semi-spaces to their maximum before the lint's own window opens (`down --all` of 1000 migrations: 32 MB of
 * young generation, whose pages the lint then touched). Unlike the optimizer flags this one may span awaits:
 * other JavaScript of the process running meanwhile only keeps a smaller young generation (more scavenges)
 * for that while, and it is put back when the last hold ends.
 */
export async function withSmallYoungGeneration<T>(work: () => Promise<T>): Promise<T> {
  const held = holdYoungGeneration();
  try {
    return await work();
  } finally {
    if (held) releaseYoungGeneration();
  }
}

function callGrammar(text: string): { version: number; stmts?: RawStmt[] } {
  return withoutOptimizer(() => grammarParse(loaded!, text));
}

/** A grammar error, shaped as libpg-query's own (`sqlDetails.cursorPosition` 0-based, in characters). */
class GrammarError extends Error {
  constructor(
    message: string,
    readonly sqlDetails: { readonly message: string; readonly cursorPosition: number },
  ) {
    super(message);
  }
}

/** One call of the grammar: the SQL in, its parse tree (JSON) out; throws GrammarError when it does not parse. */
function grammarParse(grammar: Grammar, text: string): { version: number; stmts?: RawStmt[] } {
  const size = Buffer.byteLength(text, 'utf8');
  const query = grammar._malloc(size + 1);
  let result = 0;
  try {
    let heap = grammar.HEAPU8;
    // A lone surrogate is written as U+FFFD (3 bytes), as Buffer.byteLength counted it.
    Buffer.from(heap.buffer, heap.byteOffset, heap.byteLength).write(text, query, size, 'utf8');
    heap[query + size] = 0;
    result = grammar._wasm_parse_query_raw(query);
    if (result === 0) throw new Error('libpg-query could not allocate memory for the parse result');
    heap = grammar.HEAPU8;
    const words = new Uint32Array(heap.buffer, heap.byteOffset, heap.byteLength >>> 2);
    const tree = words[result >>> 2]!;
    const error = words[(result + 8) >>> 2]!;
    if (error !== 0) {
      const message = cString(heap, words[error >>> 2]!) || 'Unknown error';
      const cursor = (words[(error + 16) >>> 2]! | 0) > 0 ? (words[(error + 16) >>> 2]! | 0) - 1 : 0;
      throw new GrammarError(message, { message, cursorPosition: cursor });
    }
    if (tree === 0) throw new Error('Parse result is null');
    return JSON.parse(cString(heap, tree)) as { version: number; stmts?: RawStmt[] };
  } finally {
    grammar._free(query);
    if (result !== 0) grammar._wasm_free_parse_result(result);
  }
}

/** The NUL-terminated UTF-8 string at `pointer`. */
function cString(heap: Uint8Array, pointer: number): string {
  if (pointer === 0) return '';
  const end = heap.indexOf(0, pointer);
  return Buffer.from(heap.buffer, heap.byteOffset + pointer, (end === -1 ? heap.length : end) - pointer).toString(
    'utf8',
  );
}

/** `parse` for callers that already awaited `loadParser()` (lint runs thousands of small parses). */
export function parseSync(text: string, displayPath?: string): ParseTree {
  if (loaded === undefined) {
    throw new MigrateError('parser-not-loaded', 'the SQL parser was used before loadParser() finished');
  }
  // libpg-query refuses empty input instead of returning no statements.
  // (`/\S/` as `trim()` counts space, without a trimmed copy of a batch's text.)
  if (!/\S/.test(text)) return { version: 0, stmts: [] };
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
