/**
 * Reading a SQL file's header: `-- migrate:` directives before the first statement, and whether the file holds
 * any statement at all. A small scanner over comments and whitespace only: the SQL itself is never interpreted
 * here (that is src/sql's job, with the real parser).
 */
import type { Allowance, Directives, Phase } from './types.js';

export interface HeaderScan {
  readonly directives: Directives;
  /** True when the text is only whitespace and comments. */
  readonly empty: boolean;
  readonly problems: readonly string[];
}

const DIRECTIVE = /^--\s*migrate:(\S*)\s*(.*)$/;
const KNOWN = ['no-transaction', 'phase', 'allow'];

/**
 * Whitespace, line comments and non-nested block comments at the start of a text. Sticky, and used with test()
 * and lastIndex: exec() would allocate a match array and the matched header's text for every file.
 */
const SIMPLE_HEADER = /(?:\s+|--[^\n]*(?:\n|$)|\/\*(?:[^*/]|\*(?!\/)|\/(?!\*))*\*\/)*/y;

/** Index of the first character that is not whitespace or inside a comment; -1 when there is none. */
export function firstStatementIndex(text: string): number {
  // Fast path (native regex, also cold): thousands of files are read on every `up`. A nested block comment
  // stops the regex before its `/*`, and the scanner below takes over from there.
  SIMPLE_HEADER.lastIndex = 0;
  SIMPLE_HEADER.test(text); // always matches (maybe nothing): lastIndex is where the header ends
  let i = SIMPLE_HEADER.lastIndex;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') {
      i += 1;
    } else if (c === '-' && text[i + 1] === '-') {
      const eol = text.indexOf('\n', i);
      i = eol === -1 ? n : eol + 1;
    } else if (c === '/' && text[i + 1] === '*') {
      // Block comments nest in PostgreSQL.
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (text[i] === '/' && text[i + 1] === '*') {
          depth += 1;
          i += 2;
        } else if (text[i] === '*' && text[i + 1] === '/') {
          depth -= 1;
          i += 2;
        } else {
          i += 1;
        }
      }
    } else {
      return i;
    }
  }
  return -1;
}

/**
 * The scan of a file without any directive, the usual case, is one of two frozen objects: a thousand files load
 * on every `up`, and three fresh objects and two arrays per file only fed the garbage collector.
 */
const NO_DIRECTIVES: Directives = Object.freeze({ noTransaction: false, phase: undefined, allow: Object.freeze([]) });
const NO_PROBLEMS: readonly string[] = Object.freeze([]);
const PLAIN: HeaderScan = Object.freeze({ directives: NO_DIRECTIVES, empty: false, problems: NO_PROBLEMS });
const PLAIN_EMPTY: HeaderScan = Object.freeze({ directives: NO_DIRECTIVES, empty: true, problems: NO_PROBLEMS });

export function scanHeader(text: string): HeaderScan {
  const first = firstStatementIndex(text);
  // Most files have no directive at all: skip the line scan (thousands of files load on every `up`).
  if (!text.includes('migrate:')) return first === -1 ? PLAIN_EMPTY : PLAIN;
  const problems: string[] = [];
  const headerEnd = first === -1 ? text.length : first;
  let noTransaction = false;
  let phase: Phase | undefined;
  const allow: Allowance[] = [];
  const lines = text.split('\n');
  let offset = 0;
  for (let index = 0; index < lines.length; index += 1) {
    const raw = lines[index]!;
    const lineStart = offset;
    offset += raw.length + 1;
    const line = raw.replace(/\r$/, '').trim();
    const match = DIRECTIVE.exec(line);
    if (!match) continue;
    const lineNumber = index + 1;
    const [, name = '', rest = ''] = match;
    if (lineStart >= headerEnd) {
      problems.push(
        `line ${lineNumber}: the directive "-- migrate:${name}" comes after the first statement and has no effect; move it to the top of the file`,
      );
      continue;
    }
    switch (name) {
      case 'no-transaction':
        noTransaction = true;
        break;
      case 'phase': {
        const value = rest.trim();
        if (value === 'expand' || value === 'contract') phase = value;
        else problems.push(`line ${lineNumber}: "-- migrate:phase ${value}" must be "expand" or "contract"`);
        break;
      }
      case 'allow': {
        const separator = rest.indexOf('--');
        const rule = (separator === -1 ? rest : rest.slice(0, separator)).trim();
        const reason = separator === -1 ? '' : rest.slice(separator + 2).trim();
        if (!rule)
          problems.push(`line ${lineNumber}: "-- migrate:allow" needs a rule id: -- migrate:allow RULE -- reason`);
        else allow.push({ rule, reason: reason === '' ? undefined : reason, line: lineNumber });
        break;
      }
      default:
        problems.push(`line ${lineNumber}: unknown directive "-- migrate:${name}"; known: ${KNOWN.join(', ')}`);
    }
  }
  return { directives: { noTransaction, phase, allow }, empty: first === -1, problems };
}
