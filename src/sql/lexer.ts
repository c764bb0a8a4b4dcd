/**
 * A small SQL lexer for what the grammar does not give back: where a statement's leading and trailing
 * comments end (libpg-query's statement slices include them), and the statements of a PL/pgSQL body (this
 * build of libpg-query has no PL/pgSQL parser). It never decides what a statement means: that is the
 * parser's job. It follows PostgreSQL's scanner (src/backend/parser/scan.l) for the token boundaries that
 * matter: '' strings (standard_conforming_strings on), E'' strings with backslash escapes, "" identifiers,
 * $tag$ dollar quotes, -- comments and nested /* *\/ comments.
 */

export type TokenKind = 'space' | 'comment' | 'string' | 'identifier' | 'word' | 'dollar' | 'symbol';

export interface Token {
  readonly kind: TokenKind;
  /** JS index of the first character. */
  readonly start: number;
  /** JS index after the last character. */
  readonly end: number;
}

/** Tokens of `text` from `from` to `to` (JS indexes). Unterminated quotes and comments run to `to`. */
export function* tokens(text: string, from = 0, to = text.length): Generator<Token> {
  let i = from;
  while (i < to) {
    const start = i;
    const c = text.charCodeAt(i);
    let kind: TokenKind;
    if (isSpace(c)) {
      while (i < to && isSpace(text.charCodeAt(i))) i++;
      kind = 'space';
    } else if (c === 0x2d /* - */ && text.charCodeAt(i + 1) === 0x2d) {
      while (i < to && text.charCodeAt(i) !== 0x0a && text.charCodeAt(i) !== 0x0d) i++;
      kind = 'comment';
    } else if (c === 0x2f /* / */ && text.charCodeAt(i + 1) === 0x2a /* * */) {
      i = endOfBlockComment(text, i, to);
      kind = 'comment';
    } else if (c === 0x27 /* ' */) {
      i = endOfQuoted(text, i + 1, to, 0x27, false);
      kind = 'string';
    } else if (c === 0x22 /* " */) {
      i = endOfQuoted(text, i + 1, to, 0x22, false);
      kind = 'identifier';
    } else if (c === 0x24 /* $ */) {
      const tagEnd = dollarTagEnd(text, i, to);
      if (tagEnd === -1) {
        // $1 and friends: a parameter, one symbol plus digits.
        i++;
        while (i < to && isDigit(text.charCodeAt(i))) i++;
        kind = 'symbol';
      } else {
        const tag = text.slice(i, tagEnd);
        const close = text.indexOf(tag, tagEnd);
        i = close === -1 || close + tag.length > to ? to : close + tag.length;
        kind = 'dollar';
      }
    } else if (isIdentStart(c)) {
      // E'..', e'..': escape string; B'', X'', N'', U&'' are plain quoted strings for our purpose.
      if ((c === 0x45 || c === 0x65) && text.charCodeAt(i + 1) === 0x27) {
        i = endOfQuoted(text, i + 2, to, 0x27, true);
        kind = 'string';
      } else {
        while (i < to && isIdentPart(text.charCodeAt(i))) i++;
        kind = 'word';
      }
    } else if (isDigit(c)) {
      while (i < to && (isIdentPart(text.charCodeAt(i)) || text.charCodeAt(i) === 0x2e)) i++;
      kind = 'word';
    } else {
      i++;
      kind = 'symbol';
    }
    yield { kind, start, end: i };
  }
}

/** JS index of the first character that is neither whitespace nor part of a comment. */
export function skipSpaceAndComments(text: string, from = 0, to = text.length): number {
  // The space and comment rules of `tokens`, without a generator and a token object per step: the lint calls
  // this for every statement it parses.
  let i = from;
  while (i < to) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) i++;
    else if (c === 0x2d /* - */ && text.charCodeAt(i + 1) === 0x2d) {
      while (i < to && text.charCodeAt(i) !== 0x0a && text.charCodeAt(i) !== 0x0d) i++;
    } else if (c === 0x2f /* / */ && text.charCodeAt(i + 1) === 0x2a /* * */) i = endOfBlockComment(text, i, to);
    else return i;
  }
  return to;
}

/** JS index after the last character that is neither whitespace nor part of a comment (`from` if none). */
export function endOfLastToken(text: string, from = 0, to = text.length): number {
  let end = from;
  for (const token of tokens(text, from, to)) {
    if (token.kind !== 'space' && token.kind !== 'comment') end = token.end;
  }
  return end;
}

function endOfBlockComment(text: string, start: number, to: number): number {
  // PostgreSQL block comments nest: /* a /* b */ still a comment */.
  let depth = 0;
  let i = start;
  while (i < to) {
    if (text.charCodeAt(i) === 0x2f && text.charCodeAt(i + 1) === 0x2a) {
      depth++;
      i += 2;
    } else if (text.charCodeAt(i) === 0x2a && text.charCodeAt(i + 1) === 0x2f) {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  return to;
}

function endOfQuoted(text: string, from: number, to: number, quote: number, backslashEscapes: boolean): number {
  let i = from;
  while (i < to) {
    const c = text.charCodeAt(i);
    if (backslashEscapes && c === 0x5c /* \ */) {
      i += 2;
    } else if (c === quote) {
      if (text.charCodeAt(i + 1) === quote)
        i += 2; // doubled quote
      else return i + 1;
    } else {
      i++;
    }
  }
  return to;
}

/** End of a `$tag$` opening at `i` (JS index after its second `$`), or -1 when `$` does not open one. */
function dollarTagEnd(text: string, i: number, to: number): number {
  let j = i + 1;
  if (j < to && text.charCodeAt(j) === 0x24) return j + 1; // $$
  if (j >= to || !isIdentStart(text.charCodeAt(j))) return -1;
  while (j < to && isIdentPart(text.charCodeAt(j)) && text.charCodeAt(j) !== 0x24) j++;
  return j < to && text.charCodeAt(j) === 0x24 ? j + 1 : -1;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0c || c === 0x0b;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isIdentStart(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c >= 0x80;
}

function isIdentPart(c: number): boolean {
  // `$` is part of an identifier after its first character (scan.l: ident_cont).
  return isIdentStart(c) || isDigit(c) || c === 0x24;
}
