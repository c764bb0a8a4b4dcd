/**
 * Positions in SQL text. Three units meet here and must never be mixed up:
 * - JS string indexes count UTF-16 code units (an emoji is 2);
 * - PostgreSQL's error `position` (and libpg-query's error cursor) counts characters, i.e. code points,
 *   1-based (https://www.postgresql.org/docs/current/protocol-error-fields.html, field P);
 * - libpg-query's `stmt_location`/`stmt_len` and node `location`s count UTF-8 bytes.
 * Everything tidemark shows a human is a 1-based line and a 1-based column counted in code points.
 */

export interface LineColumn {
  /** 1-based line. `\n`, `\r\n` and a lone `\r` each end a line. */
  readonly line: number;
  /** 1-based column in code points (an emoji is one column). */
  readonly column: number;
}

/**
 * The line and column of a JS string index (clamped to the text).
 *
 * @example lineColumnAt('a\n😀b', 4) // { line: 2, column: 2 }
 */
export function lineColumnAt(text: string, charIndex: number): LineColumn {
  return new TextIndex(text).lineColumn(charIndex);
}

/**
 * The JS string index of PostgreSQL's error `position` (1-based, in characters) in the text that was sent.
 * A position past the end maps to `text.length`; 0 or less (no position) maps to 0.
 *
 * @example charIndexFromPgPosition('select 😀 x', 10) // 10 (the emoji takes two code units)
 */
export function charIndexFromPgPosition(text: string, position: number): number {
  return codePointsToCharIndex(text, 0, Math.max(0, Math.trunc(position) - 1));
}

/**
 * The JS string index of a UTF-8 byte offset into the text (as libpg-query reports them). An offset inside a
 * multi-byte character maps to the start of that character; past the end maps to `text.length`.
 */
export function byteOffsetToCharIndex(text: string, byteOffset: number): number {
  let bytes = 0;
  let i = 0;
  while (i < text.length) {
    const cp = text.codePointAt(i)!;
    const size = utf8Size(cp);
    if (bytes + size > byteOffset) return i;
    bytes += size;
    i += cp > 0xffff ? 2 : 1;
  }
  return text.length;
}

/** Advances `count` code points from `from`; returns the JS index reached (clamped to the text). */
export function codePointsToCharIndex(text: string, from: number, count: number): number {
  let i = from;
  for (let n = 0; n < count && i < text.length; n++) {
    const code = text.charCodeAt(i);
    i += code >= 0xd800 && code <= 0xdbff && i + 1 < text.length && isLowSurrogate(text.charCodeAt(i + 1)) ? 2 : 1;
  }
  return Math.min(i, text.length);
}

/**
 * An index over one text for repeated conversions (splitting a file with 1000 statements must not rescan
 * it 1000 times): line starts for line/column, and a byte -> char map built only when the text is not ASCII.
 */
export class TextIndex {
  readonly text: string;
  /** Built on the first `lineColumn` (most texts a lint reads have no finding). */
  #lineStarts: number[] | undefined;
  /** byte offset -> JS index; undefined for pure ASCII text, where both are the same. */
  readonly #byteToChar: Uint32Array | undefined;
  readonly byteLength: number;

  constructor(text: string) {
    this.text = text;
    // Native UTF-8 length: equal to the JS length only for ASCII (a JS loop over every character ran cold).
    const length = Buffer.byteLength(text, 'utf8');
    if (length === text.length) {
      this.#byteToChar = undefined;
      this.byteLength = text.length;
    } else {
      const map = new Uint32Array(length + 1);
      let bytes = 0;
      let i = 0;
      while (i < text.length) {
        const cp = text.codePointAt(i)!;
        const size = utf8Size(cp);
        for (let k = 0; k < size; k++) map[bytes + k] = i;
        bytes += size;
        i += cp > 0xffff ? 2 : 1;
      }
      map[bytes] = text.length;
      this.#byteToChar = map;
      this.byteLength = bytes;
    }
  }

  /** JS index of a UTF-8 byte offset (same contract as `byteOffsetToCharIndex`). */
  charIndexFromByte(byteOffset: number): number {
    if (byteOffset <= 0) return 0;
    if (byteOffset >= this.byteLength) return this.text.length;
    return this.#byteToChar === undefined ? byteOffset : this.#byteToChar[byteOffset]!;
  }

  /** Line and column of a JS index (same contract as `lineColumnAt`). */
  lineColumn(charIndex: number): LineColumn {
    const index = Math.max(0, Math.min(charIndex, this.text.length));
    const starts = (this.#lineStarts ??= lineStarts(this.text));
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    const lineStart = starts[lo]!;
    return { line: lo + 1, column: countCodePoints(this.text, lineStart, index) + 1 };
  }
}

/** Where each line of `text` starts: after `\n`, `\r\n` or a lone `\r`. */
function lineStarts(text: string): number[] {
  const starts = [0];
  if (!text.includes('\r')) {
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
    return starts;
  }
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x0a) starts.push(i + 1);
    else if (code === 0x0d && text.charCodeAt(i + 1) !== 0x0a) starts.push(i + 1);
  }
  return starts;
}

function countCodePoints(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    // A low surrogate that follows a high one is the second half of one code point.
    if (!(isLowSurrogate(text.charCodeAt(i)) && i > from && isHighSurrogate(text.charCodeAt(i - 1)))) n++;
  }
  return n;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

function utf8Size(cp: number): number {
  if (cp < 0x80) return 1;
  if (cp < 0x800) return 2;
  // A lone surrogate is written by TextEncoder/emscripten as U+FFFD: 3 bytes.
  if (cp < 0x10000) return 3;
  return 4;
}
