/**
 * Every name SQL text could use for an object, so that the catalog read before a lint asks only for what the
 * files can name (issue 10: a catalog of 1000 tables was read whole for files that touch none of them).
 *
 * The answer is a superset, found without the grammar: every word that could be an unquoted identifier
 * (letters, digits, `_`, `$`, any non-ASCII character), anywhere in the text, comments and strings included,
 * as written, folded to lower case as PostgreSQL folds an unquoted identifier (A-Z only in a UTF-8 database,
every letter in a single-byte one), and cut to 63 bytes as it
 * cuts a long one (NAMEDATALEN); and every run of characters between two `"`, whichever of them pair up. A
 * name the grammar reads out of the text is therefore always in the set. What the set cannot follow gives up
 * (undefined: read everything): `U&"..."` identifiers (escapes spell the name) and `""` (an escaped quote
 * inside a quoted identifier).
 */

/** PostgreSQL's NAMEDATALEN - 1: longer identifiers are cut to this many bytes (at a character boundary). */
const MAX_IDENTIFIER_BYTES = 63;

const WORD = /[A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*/g;

/**
 * The names `texts` could use for objects (see the module comment), or undefined when they cannot be bounded.
 *
 * @example identifierNames(['ALTER TABLE "Big Table" ADD c int']) // includes 'Big Table', 'ALTER', 'alter', 'c', ...
 */
export function identifierNames(texts: readonly string[]): string[] | undefined {
  const names = new Set<string>();
  // Indexed loops: this runs once per CLI process, in V8's interpreter, where for-of allocates a result
  // object per element (~130 000 words for 1000 files).
  for (let ix = 0; ix < texts.length; ix++) {
    const text = texts[ix]!;
    if (text.includes('""') || /[Uu]&"/.test(text)) return undefined;
    const words = text.match(WORD);
    if (words !== null) for (let jx = 0; jx < words.length; jx++) names.add(words[jx]!);
    if (text.includes('"')) {
      const parts = text.split('"');
      for (let i = 1; i < parts.length - 1; i++) names.add(parts[i]!);
    }
  }
  const out = new Set<string>();
  for (const name of names) {
    out.add(truncateIdentifier(name));
    const lower = name.toLowerCase();
    if (lower === name) continue;
    out.add(truncateIdentifier(lower));
    // In a UTF-8 database PostgreSQL folds only A-Z: `ÉTable` is `Étable`.
    if (/[^ -~\t\n\r]/.test(name)) out.add(truncateIdentifier(name.replace(/[A-Z]+/g, (s) => s.toLowerCase())));
  }
  return [...out];
}

/** `name` cut to 63 UTF-8 bytes without splitting a character, as PostgreSQL truncates an identifier. */
function truncateIdentifier(name: string): string {
  // At most 3 UTF-8 bytes per UTF-16 unit: short names need no counting.
  if (name.length * 3 <= MAX_IDENTIFIER_BYTES || Buffer.byteLength(name) <= MAX_IDENTIFIER_BYTES) return name;
  let bytes = 0;
  let i = 0;
  while (i < name.length) {
    const cp = name.codePointAt(i)!;
    const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes + size > MAX_IDENTIFIER_BYTES) break;
    bytes += size;
    i += cp > 0xffff ? 2 : 1;
  }
  return name.slice(0, i);
}
