import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import pg from 'pg';
import { TextIndex, byteOffsetToCharIndex, charIndexFromPgPosition, lineColumnAt } from '../../src/sql/position.js';
import { useTestDatabase } from '../helpers/db.js';

describe('lineColumnAt', () => {
  it('counts lines from 1 and columns in code points from 1', () => {
    expect(lineColumnAt('abc', 0)).toEqual({ line: 1, column: 1 });
    expect(lineColumnAt('abc', 2)).toEqual({ line: 1, column: 3 });
    expect(lineColumnAt('a\nbc', 3)).toEqual({ line: 2, column: 2 });
  });

  it('counts an emoji as one column', () => {
    // '😀' is two UTF-16 code units: index 3 is 'b'.
    expect(lineColumnAt('a\n😀b', 4)).toEqual({ line: 2, column: 2 });
    expect(lineColumnAt('😀😀x', 4)).toEqual({ line: 1, column: 3 });
  });

  it('treats CRLF as one line break and a lone CR as one too', () => {
    expect(lineColumnAt('a\r\nb', 3)).toEqual({ line: 2, column: 1 });
    expect(lineColumnAt('a\rb', 2)).toEqual({ line: 2, column: 1 });
    expect(lineColumnAt('a\r\n\r\nb', 5)).toEqual({ line: 3, column: 1 });
  });

  it('clamps an index past the end', () => {
    expect(lineColumnAt('ab\n', 99)).toEqual({ line: 2, column: 1 });
  });
});

describe('charIndexFromPgPosition', () => {
  it('maps a 1-based character position to a JS index across astral characters', () => {
    const text = 'select 😀 x';
    expect(text[charIndexFromPgPosition(text, 10)]).toBe('x');
    expect(charIndexFromPgPosition(text, 1)).toBe(0);
  });

  it('maps 0 (no position) to 0 and past the end to the length', () => {
    expect(charIndexFromPgPosition('abc', 0)).toBe(0);
    expect(charIndexFromPgPosition('abc', 40)).toBe(3);
  });
});

describe('byteOffsetToCharIndex', () => {
  it('maps UTF-8 byte offsets over 2- and 4-byte characters', () => {
    const text = 'é😀x';
    expect(byteOffsetToCharIndex(text, 0)).toBe(0);
    expect(byteOffsetToCharIndex(text, 2)).toBe(1);
    expect(byteOffsetToCharIndex(text, 6)).toBe(3);
    expect(byteOffsetToCharIndex(text, 7)).toBe(4);
    // inside the emoji: its start
    expect(byteOffsetToCharIndex(text, 4)).toBe(1);
  });

  it('agrees with TextIndex and with Buffer for any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.nat(), (text, n) => {
        const index = new TextIndex(text);
        const byteLength = Buffer.byteLength(text);
        const byte = byteLength === 0 ? 0 : n % (byteLength + 1);
        const viaIndex = index.charIndexFromByte(byte);
        expect(viaIndex).toBe(byteOffsetToCharIndex(text, byte));
        // Converting a char boundary's prefix back to bytes gives a byte offset <= the one asked for.
        expect(Buffer.byteLength(text.slice(0, viaIndex))).toBeLessThanOrEqual(byte);
      }),
    );
  });
});

describe('TextIndex.lineColumn', () => {
  it('agrees with a naive count', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'é', '😀', '\n', '\r\n', '\r', ' ')), fc.nat(), (parts, n) => {
        const text = parts.join('');
        const at = text.length === 0 ? 0 : n % (text.length + 1);
        const before = text.slice(0, at).replace(/\r\n/g, '\n').replace(/\r/g, '\n');
        const lines = before.split('\n');
        const expected = { line: lines.length, column: [...lines[lines.length - 1]!].length + 1 };
        // A JS index between \r and \n is not a real boundary; skip it.
        if (text[at - 1] === '\r' && text[at] === '\n') return;
        expect(new TextIndex(text).lineColumn(at)).toEqual(expected);
      }),
    );
  });
});

describe('against PostgreSQL error positions', () => {
  const db = useTestDatabase('position');

  it('points at the failing token after multi-byte and astral characters', async () => {
    const text = "select 'é😀'\r\n  , 'ü' frm oops";
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    let position = 0;
    try {
      await client.query(text);
    } catch (error) {
      position = Number((error as { position?: string }).position);
    } finally {
      await client.end();
    }
    const index = charIndexFromPgPosition(text, position);
    expect(text.slice(index, index + 4)).toBe('oops');
    expect(lineColumnAt(text, index)).toEqual({ line: 2, column: 13 });
  });
});
