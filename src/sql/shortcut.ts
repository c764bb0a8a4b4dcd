/**
 * Lint's shortcut past the grammar: statements that no rule and no schema fact reads are not parsed. The
 * grammar (WebAssembly, then a JSON tree ~50 times the text, then JSON.parse) is most of what a lint costs, and
 * a migration's INSERTs, COPYs, function bodies and comments are often half its text.
 *
 * A cheap scan (the token rules of `lexer.ts`: quotes, dollar quotes, E'' strings, nested comments) finds the
 * top-level statements and their first words. A statement whose first words give its kind for certain, and
 * whose kind is in `SKIPPED_KINDS`, is blanked out of the text the grammar sees: replaced by spaces of the same
 * UTF-8 length, its `;` kept, so every byte offset the grammar reports still points into the file. The caller
 * checks that the grammar's statements start exactly where this scan says the kept ones do, and parses the
 * whole text when they do not.
 *
 * Never used for a file (`undefined`) when in doubt: an unterminated quote or comment, a SQL-standard function
 * body (`BEGIN ATOMIC ... END` holds `;`s that do not end the statement), an unbalanced parenthesis, or a
 * statement that can add an enum value (`ALTER TYPE`, `DO`): enum-value-used-in-same-transaction then reads
 * every later statement of the transaction.
 *
 * What is lost: a syntax error inside a skipped statement is not reported by the lint; PostgreSQL reports it
 * when the migration runs (and rolls the migration's transaction back).
 *
 * The up file a rollback undoes is read for less (`shortcut(text, true)`): the rollback's lint learns from it
 * only what it created (`SchemaView.beginUndo`), so more statements are left out, and a CREATE TABLE's column
 * list is blanked too (see `UNDO_SKIPPED`).
 */

/**
 * Statement kinds the lint does not parse. No rule lists them (test/sql/shortcut.test.ts checks), the schema
 * view learns nothing from them, and their locks (ROW EXCLUSIVE at most) matter to no rule.
 */
export const SKIPPED_KINDS: readonly string[] = ['InsertStmt', 'CopyStmt', 'CommentStmt', 'CreateFunctionStmt'];

/** A statement left out of the parse: its kind (from its first words) and where it starts. */
export interface SkippedStatement {
  readonly kind: string;
  /** JS index of its first character in the file text. */
  readonly start: number;
}

export interface Shortcut {
  /**
   * The text for the grammar: the file with skipped statements blanked (for an undo, CREATE TABLE column lists
   * too), of the same UTF-8 byte length.
   */
  readonly masked: string;
  readonly skipped: readonly SkippedStatement[];
  /** JS indexes where the statements left to the grammar start (the grammar must agree). */
  readonly kept: readonly number[];
}

/** The kind of a statement from its first words (upper case), when skipped; undefined: parse it. */
function skippedKind(words: readonly string[]): string | undefined {
  switch (words[0]) {
    case 'INSERT':
      return 'InsertStmt';
    case 'COPY':
      return 'CopyStmt';
    case 'COMMENT':
      return words[1] === 'ON' ? 'CommentStmt' : undefined;
    case 'CREATE': {
      const what = words[1] === 'OR' && words[2] === 'REPLACE' ? words[3] : words[1];
      return what === 'FUNCTION' || what === 'PROCEDURE' ? 'CreateFunctionStmt' : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * What else is left out of the up file a rollback undoes, by the word after CREATE (`CREATE OR REPLACE`: the word
 * after it). `SchemaView.beginUndo` reads CreateStmt, CreateTableAsStmt, AlterTableStmt and CreateSchemaStmt only,
 * and none of them starts with INSERT, UPDATE, DELETE, COPY, COMMENT, DO or these; every ALTER is kept (ALTER
 * TYPE ... ADD ATTRIBUTE is an AlterTableStmt). The up was applied, so PostgreSQL parsed it: the lint's cost of a
 * syntax error inside a skipped statement (see the module comment) is smaller still here. `down --all` of 1000
 * generated migrations: the ups' CREATE INDEX statements and column lists were half the grammar's work.
 */
const UNDO_SKIPPED: Readonly<Record<string, string>> = {
  INDEX: 'IndexStmt',
  UNIQUE: 'IndexStmt',
  VIEW: 'ViewStmt',
  TRIGGER: 'CreateTrigStmt',
  SEQUENCE: 'CreateSeqStmt',
  EXTENSION: 'CreateExtensionStmt',
  POLICY: 'CreatePolicyStmt',
  DOMAIN: 'CreateDomainStmt',
};

/** The kind of an up file's statement from its first words, when a rollback's lint leaves it out. */
function undoSkippedKind(words: readonly string[]): string | undefined {
  switch (words[0]) {
    case 'UPDATE':
      return 'UpdateStmt';
    case 'DELETE':
      return 'DeleteStmt';
    case 'DO':
      return 'DoStmt';
    case 'CREATE':
      return UNDO_SKIPPED[words[1] === 'OR' && words[2] === 'REPLACE' ? words[3]! : words[1]!] ?? skippedKind(words);
    default:
      return skippedKind(words);
  }
}

/** Words of a statement that make the whole file be parsed (see the module comment). */
function wholeFile(words: readonly string[]): boolean {
  return (words[0] === 'ALTER' && words[1] === 'TYPE') || words[0] === 'DO';
}

/**
 * What matters between a statement's words: a comment, a quote opening, a `;`, a parenthesis. Identifiers and
 * everything else are passed over by the regular expression engine (fast from the first run, where a loop over
 * characters runs cold in V8's interpreter: a CLI lints once). A `$tag$` or an `E'` after an identifier
 * character is part of that identifier (`a$b$`), as in PostgreSQL's scanner: checked after the match (a
 * lookbehind in the expression triples its cost).
 */
const INTERESTING = /--[^\n\r]*|\/\*|[Ee]'|\$(?:[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$|['";()]/g;
const SPACE = /(?:\s+|--[^\n\r]*)*/y;
const WORD = /[A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*/y;
const PLAIN_STRING_REST = /(?:[^']|'')*'/y;
const ESCAPE_STRING_REST = /(?:[^'\\]|''|\\[\s\S])*'/y;
const IDENTIFIER_REST = /(?:[^"]|"")*"/y;
const ATOMIC = /\batomic\b/i;

/**
 * The statements of `text` to leave out of the parse, or undefined when none can be (or the scan is unsure).
 *
 * @example shortcut("create table t (id int);\ninsert into t values (1);")
 * // { masked: "create table t (id int);\n                         ;", skipped: [{ kind: 'InsertStmt', start: 25 }], kept: [0] }
 */
export function shortcut(text: string, undo = false): Shortcut | undefined {
  const n = text.length;
  const skipped: SkippedStatement[] = [];
  const kept: number[] = [];
  /** Char ranges to blank, [start, end). */
  const blanks: number[] = [];
  let depth = 0;
  let start = statementStart(text, 0);
  if (start === -1) return undefined;
  /** The statement's first top-level parenthesis and the one closing it (-1: none yet). */
  let open = -1;
  let close = -1;

  /** Ends the statement that started at `start` at `end` (its `;` or the end of the text); false: give up. */
  const finish = (end: number): boolean => {
    if (start >= end) return true; // nothing but space and comments
    if (depth !== 0) return false;
    const words = firstWords(text, start, end);
    if (!undo && wholeFile(words)) return false;
    const kind = undo ? undoSkippedKind(words) : skippedKind(words);
    if (kind === 'CreateFunctionStmt' && ATOMIC.test(text.slice(start, end))) return false;
    if (kind === undefined) {
      kept.push(start);
      // beginUndo reads a CREATE TABLE's name only: its column list goes (`create table t ()` parses).
      if (undo && close !== -1 && columnListOf(text, start, open) && !/\bas\b/i.test(text.slice(close, end))) {
        blanks.push(open + 1, close);
      }
    } else {
      skipped.push({ kind, start });
      blanks.push(start, end);
    }
    return true;
  };

  const re = INTERESTING;
  re.lastIndex = start;
  let match: RegExpExecArray | null;
  while ((match = re.exec(text)) !== null) {
    const token = match[0];
    const at = match.index;
    let next = at + token.length;
    const first = token.charCodeAt(0);
    if ((first === 0x24 || first === 0x45 || first === 0x65) && at > 0 && isIdentPart(text.charCodeAt(at - 1))) {
      // Inside an identifier (`a$b$`, `somE'`): the `$` belongs to it; a `'` after it opens a plain string.
      re.lastIndex = at + 1;
      continue;
    }
    switch (first) {
      case 0x2d /* - */:
        break;
      case 0x2f /* / */:
        next = blockCommentEnd(text, at);
        break;
      case 0x27 /* ' */:
        next = after(PLAIN_STRING_REST, text, next);
        break;
      case 0x22 /* " */:
        next = after(IDENTIFIER_REST, text, next);
        break;
      case 0x45 /* E */:
      case 0x65 /* e */:
        next = after(ESCAPE_STRING_REST, text, next);
        break;
      case 0x24 /* $ */: {
        const close = text.indexOf(token, next);
        next = close === -1 ? -1 : close + token.length;
        break;
      }
      case 0x28 /* ( */:
        if (depth++ === 0 && open === -1) open = at;
        break;
      case 0x29 /* ) */:
        if (--depth < 0) return undefined;
        if (depth === 0 && close === -1) close = at;
        break;
      default:
        /* ; */ if (depth === 0) {
          if (!finish(at)) return undefined;
          start = statementStart(text, next);
          if (start === -1) return undefined;
          next = start;
          open = close = -1;
        }
    }
    if (next === -1) return undefined; // an unterminated quote or comment
    re.lastIndex = next;
  }
  if (!finish(n)) return undefined;
  if (blanks.length === 0) return undefined;
  return { masked: blank(text, blanks), skipped, kept };
}

/** Index after `rest` matched at `from` (the rest of a quoted token), or -1 when it does not match. */
function after(rest: RegExp, text: string, from: number): number {
  rest.lastIndex = from;
  return rest.test(text) ? rest.lastIndex : -1;
}

/** Index of the first character at or after `from` that is not space or comment; -1 for an unclosed comment. */
function statementStart(text: string, from: number): number {
  let i = from;
  for (;;) {
    SPACE.lastIndex = i;
    SPACE.test(text);
    i = SPACE.lastIndex;
    if (text.charCodeAt(i) !== 0x2f || text.charCodeAt(i + 1) !== 0x2a) return i;
    i = blockCommentEnd(text, i);
    if (i === -1) return -1;
  }
}

/**
 * The first words of the statement at [start, end), upper case, up to something that is not a word: two, or four
 * after `CREATE OR` (`CREATE OR REPLACE FUNCTION`), which is all the kinds above read.
 */
function firstWords(text: string, start: number, end: number): string[] {
  const words: string[] = [];
  let i = start;
  while ((words.length < 2 || (words.length < 4 && words[0] === 'CREATE' && words[1] === 'OR')) && i < end) {
    WORD.lastIndex = i;
    if (!WORD.test(text)) break;
    words.push(text.slice(i, WORD.lastIndex).toUpperCase());
    i = statementStart(text, WORD.lastIndex);
    if (i === -1) break;
  }
  return words;
}

/**
 * True when the statement at `start` is `CREATE [GLOBAL | LOCAL] [TEMP | TEMPORARY | UNLOGGED] TABLE [IF NOT
 * EXISTS] name` followed by the parenthesis at `open`: its column list (PARTITION OF and OF type lists are not).
 */
function columnListOf(text: string, start: number, open: number): boolean {
  let i = start;
  const word = (): string | undefined => {
    if (i === -1) return undefined;
    WORD.lastIndex = i;
    if (!WORD.test(text)) return undefined;
    const found = text.slice(i, WORD.lastIndex).toUpperCase();
    i = statementStart(text, WORD.lastIndex);
    return found;
  };
  if (word() !== 'CREATE') return false;
  let next = word();
  if (next === 'GLOBAL' || next === 'LOCAL') next = word();
  if (next === 'TEMP' || next === 'TEMPORARY' || next === 'UNLOGGED') next = word();
  if (next !== 'TABLE') return false;
  const afterTable = i;
  if (word() !== 'IF' || word() !== 'NOT' || word() !== 'EXISTS') i = afterTable;
  // The name: up to three parts, each a word or a quoted identifier.
  for (let part = 0; part < 3; part++) {
    if (i === -1) return false;
    if (text.charCodeAt(i) === 0x22 /* " */) {
      const end = after(IDENTIFIER_REST, text, i + 1);
      if (end === -1) return false;
      i = statementStart(text, end);
    } else if (word() === undefined) return false;
    if (i === -1 || text.charCodeAt(i) !== 0x2e /* . */) break;
    i = statementStart(text, i + 1);
  }
  return i === open;
}

/** `text` with each [start, end) range of `ranges` blanked: spaces of the same UTF-8 length, line breaks kept. */
function blank(text: string, ranges: readonly number[]): string {
  const parts: string[] = [];
  let at = 0;
  for (let r = 0; r < ranges.length; r += 2) {
    const from = ranges[r]!;
    const to = ranges[r + 1]!;
    parts.push(text.slice(at, from));
    // Line breaks stay, so that a syntax error after a skipped statement is reported on its line. A lone
    // surrogate counts 3 bytes, as U+FFFD, which is how it reaches the grammar.
    const range = text.slice(from, to);
    parts.push(
      Buffer.byteLength(range, 'utf8') === range.length && !range.includes('\r')
        ? blankAscii(range)
        : range.replace(/[^\n\r]+/g, (run) => ' '.repeat(Buffer.byteLength(run, 'utf8'))),
    );
    at = to;
  }
  parts.push(text.slice(at));
  return parts.join('');
}

/** ASCII text without `\r` blanked: a line's characters are its bytes (no callback per line, as a replace has). */
function blankAscii(range: string): string {
  let out = '';
  let at = 0;
  for (let nl = range.indexOf('\n'); nl !== -1; nl = range.indexOf('\n', at)) {
    out += ' '.repeat(nl - at) + '\n';
    at = nl + 1;
  }
  return out + ' '.repeat(range.length - at);
}

/** Index after the `*\/` closing the (nested) block comment at `i`, or -1 when it is not closed. */
function blockCommentEnd(text: string, i: number): number {
  let depth = 0;
  for (;;) {
    const open = text.indexOf('/*', i);
    const close = text.indexOf('*/', i);
    if (close === -1) return -1;
    if (open !== -1 && open < close) {
      depth++;
      i = open + 2;
    } else {
      i = close + 2;
      if (--depth === 0) return i;
    }
  }
}

function isIdentPart(c: number): boolean {
  // scan.l: ident_cont, `$` included after an identifier's first character.
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x5f ||
    c === 0x24 ||
    c >= 0x80
  );
}
