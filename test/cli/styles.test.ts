/** The output's six ANSI styles (src/cli/styles.ts), which replaced chalk on the start-up path. */
import { describe, expect, it } from 'vitest';
import { styles } from '../../src/cli/styles.js';

const ESC = '\u001b';

describe('styles', () => {
  it('wraps text in the 16-colour codes when colour is on', () => {
    const c = styles(true);
    expect(c.level).toBe(1);
    expect(c.red('x')).toBe(`${ESC}[31mx${ESC}[39m`);
    expect(c.green('x')).toBe(`${ESC}[32mx${ESC}[39m`);
    expect(c.yellow('x')).toBe(`${ESC}[33mx${ESC}[39m`);
    expect(c.cyan('x')).toBe(`${ESC}[36mx${ESC}[39m`);
    expect(c.bold('x')).toBe(`${ESC}[1mx${ESC}[22m`);
    expect(c.dim('x')).toBe(`${ESC}[2mx${ESC}[22m`);
  });

  it('gives the text unchanged when colour is off, and empty text stays empty', () => {
    const c = styles(false);
    expect(c.level).toBe(0);
    for (const style of [c.red, c.green, c.yellow, c.cyan, c.bold, c.dim]) expect(style('a\nb')).toBe('a\nb');
    expect(styles(true).red('')).toBe('');
  });

  it('re-opens a style after a nested one that closes with the same code', () => {
    const c = styles(true);
    // bold and dim both end with 22: after the bold part, the rest is dim again.
    expect(c.dim(`a ${c.bold('b')} c`)).toBe(`${ESC}[2ma ${ESC}[1mb${ESC}[22m${ESC}[2m c${ESC}[22m`);
    // Colours end with 39: red after a yellow word.
    expect(c.red(`x ${c.yellow('y')} z`)).toBe(`${ESC}[31mx ${ESC}[33my${ESC}[39m${ESC}[31m z${ESC}[39m`);
  });

  it('styles each line on its own, so a prefix put before a line is never coloured', () => {
    const c = styles(true);
    expect(c.red('a\nb')).toBe(`${ESC}[31ma${ESC}[39m\n${ESC}[31mb${ESC}[39m`);
    expect(c.red('a\r\nb')).toBe(`${ESC}[31ma${ESC}[39m\r\n${ESC}[31mb${ESC}[39m`);
  });
});
