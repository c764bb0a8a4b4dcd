/**
 * Statements inside a `DO $$ ... $$` block. A DO block runs now, in the migration's transaction, so what it
 * does must be linted; a CREATE FUNCTION body, by contrast, runs later and is not. The libpg-query build we
 * ship has no PL/pgSQL parser, so this reads the body best-effort: split it at top-level `;` with the lexer
 * (strings, dollar quotes and comments respected), then, in each piece, let the SQL grammar decide where a
 * statement starts (after PL/pgSQL's BEGIN / IF ... THEN / LOOP). Dynamic SQL (`EXECUTE '...'`) is not read.
 */
import { type PgNode, parseSync } from '../parser.js';
import { tokens } from '../lexer.js';
import { TextIndex } from '../position.js';

/** A statement found in a DO body, positioned in the file. */
export interface InnerStatement {
  readonly kind: string;
  readonly node: PgNode;
  /** JS index in the file text of the statement's start. */
  readonly start: number;
  /** JS index in the file of the text the node's byte `location`s are relative to, and that text's index. */
  readonly base: number;
  readonly baseIndex: TextIndex;
}

/** Words that can begin an SQL statement worth linting inside PL/pgSQL (transaction control excluded). */
const STATEMENT_WORDS = new Set([
  'alter',
  'create',
  'drop',
  'update',
  'delete',
  'insert',
  'truncate',
  'reindex',
  'vacuum',
  'cluster',
  'refresh',
  'set',
  'reset',
  'lock',
  'comment',
  'grant',
  'revoke',
  'with',
  'analyze',
  'merge',
]);

/**
 * The SQL statements of a DoStmt's PL/pgSQL body. `doStart` is the DO statement's JS index in `text`;
 * positions are exact when the body is dollar-quoted, and the DO statement's start otherwise.
 */
export function doBlockStatements(
  node: PgNode,
  text: string,
  index: Pick<TextIndex, 'charIndexFromByte'>,
  doStart: number,
): InnerStatement[] {
  let body: string | undefined;
  let location: number | undefined;
  let language = 'plpgsql';
  for (const arg of node.args ?? []) {
    const def = arg?.DefElem;
    if (def?.defname === 'as') {
      body = def.arg?.String?.sval;
      location = def.location;
    } else if (def?.defname === 'language') {
      language = String(def.arg?.String?.sval ?? 'plpgsql').toLowerCase();
    }
  }
  if (typeof body !== 'string' || language !== 'plpgsql') return [];

  // Find the body in the file: the token at the string's location should be a dollar quote holding it.
  let bodyText = body;
  let bodyStart = -1;
  if (typeof location === 'number') {
    const at = index.charIndexFromByte(location);
    const token = tokens(text, at).next().value;
    if (token !== undefined && token.kind === 'dollar') {
      const tagLength = text.indexOf('$', at + 1) - at + 1;
      const inner = text.slice(at + tagLength, token.end - tagLength);
      if (inner === body) {
        bodyText = text;
        bodyStart = at + tagLength;
      }
    }
  }
  const exact = bodyStart !== -1;
  const from = exact ? bodyStart : 0;
  const to = exact ? bodyStart + body.length : body.length;
  const source = exact ? bodyText : body;

  const out: InnerStatement[] = [];
  let pieceStart = from;
  const pieces: Array<[number, number]> = [];
  for (const token of tokens(source, from, to)) {
    if (token.kind === 'symbol' && source.charCodeAt(token.start) === 0x3b /* ; */) {
      pieces.push([pieceStart, token.start]);
      pieceStart = token.end;
    }
  }
  pieces.push([pieceStart, to]);

  for (const [start, end] of pieces) {
    for (const token of tokens(source, start, end)) {
      if (token.kind !== 'word' || !STATEMENT_WORDS.has(source.slice(token.start, token.end).toLowerCase())) continue;
      const candidate = source.slice(token.start, end);
      let parsed: PgNode | undefined;
      try {
        const tree = parseSync(candidate);
        if (tree.stmts.length === 1) parsed = tree.stmts[0]!.stmt;
      } catch {
        continue; // not a statement from here: try the next word
      }
      if (parsed === undefined) continue;
      const kind = Object.keys(parsed)[0] ?? 'Unknown';
      // `SELECT ... INTO var` and `SET` inside PL/pgSQL mean something else; keep what lint has rules for.
      if (kind === 'SelectStmt') break;
      out.push({
        kind,
        node: parsed[kind],
        start: exact ? token.start : doStart,
        base: exact ? token.start : doStart,
        baseIndex: exact ? new TextIndex(candidate) : new TextIndex(''),
      });
      break;
    }
  }
  return out;
}
