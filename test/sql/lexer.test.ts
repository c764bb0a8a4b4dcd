/**
 * skipSpaceAndComments is a loop of its own (the lint calls it for every statement) and must agree with the
 * token rules of `tokens`: the first token that is neither space nor a comment.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { skipSpaceAndComments, tokens } from '../../src/sql/lexer.js';

function byTokens(text: string, from: number, to: number): number {
  for (const token of tokens(text, from, to)) {
    if (token.kind !== 'space' && token.kind !== 'comment') return token.start;
  }
  return to;
}

const PIECES = [
  ' ',
  '\t',
  '\n',
  '\r\n',
  '\f',
  '\v',
  '-',
  '--',
  '-- c\n',
  '/*',
  '*/',
  '/* a /* b */ c */',
  '/',
  '*',
  'x',
  ';',
  "'",
  '$$',
  'é',
];

describe('skipSpaceAndComments', () => {
  it('gives what the token rules give, for any text and range', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...PIECES), { maxLength: 12 }), fc.nat(), fc.nat(), (pieces, a, b) => {
        const text = pieces.join('');
        const from = text.length === 0 ? 0 : a % (text.length + 1);
        const to = from + (b % (text.length - from + 1));
        expect(skipSpaceAndComments(text, from, to)).toBe(byTokens(text, from, to));
      }),
      { numRuns: 3000 },
    );
  });

  it('stops at the first token, after nested and unclosed comments', () => {
    expect(skipSpaceAndComments('  /* a /* b */ c */ -- x\n  select 1')).toBe(27);
    expect(skipSpaceAndComments('/* unclosed')).toBe(11);
    expect(skipSpaceAndComments('-- only a comment')).toBe(17);
    expect(skipSpaceAndComments('  x', 0, 1)).toBe(1);
  });
});
