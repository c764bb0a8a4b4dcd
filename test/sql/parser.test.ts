/**
 * tidemark calls libpg-query's WebAssembly module directly (src/sql/parser.ts Grammar): its trees and errors must
 * be the package's own, whatever the text (multi-byte, large enough to grow the module's memory, wrong).
 */
import { describe, expect, it } from 'vitest';
import * as libpgQuery from 'libpg-query';
import { SqlSyntaxError, loadParser, parseSync } from '../../src/sql/parser.js';

const TEXTS = [
  'select 1',
  "create table t (id bigint primary key, name text not null default 'é😀✓');\ncreate index i on t (name);",
  'alter table "Weird ""Name""" add column c int; -- a comment with ünïcode\n/* block */ drop table u;',
  // Larger than the module's initial memory needs: the heap grows during the call.
  Array.from({ length: 4000 }, (_, i) => `alter table t${i} add column c${i} numeric(12,2) default ${i};`).join('\n'),
];

describe('the grammar, called directly', () => {
  it('gives the trees libpg-query gives', async () => {
    await loadParser();
    await libpgQuery.loadModule();
    for (const text of TEXTS) expect(parseSync(text), text.slice(0, 40)).toEqual(libpgQuery.parseSync(text));
  });

  it('gives the errors libpg-query gives, at the same place', async () => {
    await loadParser();
    await libpgQuery.loadModule();
    for (const text of ['select * frm t', 'create table é😀 (id int,);', "select 'unterminated"]) {
      let theirs: { message: string; sqlDetails?: { cursorPosition?: number } } | undefined;
      try {
        libpgQuery.parseSync(text);
      } catch (error) {
        theirs = error as typeof theirs;
      }
      expect(theirs, text).toBeDefined();
      let ours: unknown;
      try {
        parseSync(text);
      } catch (error) {
        ours = error;
      }
      expect(ours).toBeInstanceOf(SqlSyntaxError);
      const syntax = ours as SqlSyntaxError;
      expect(syntax.reason).toBe(theirs!.message);
      expect(syntax.cause).toMatchObject({ sqlDetails: { cursorPosition: theirs!.sqlDetails!.cursorPosition } });
    }
  });
});
