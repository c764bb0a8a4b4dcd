/**
 * tidemark calls libpg-query's WebAssembly module directly (src/sql/parser.ts Grammar): its trees and errors must
 * be the package's own, whatever the text (multi-byte, large enough to grow the module's memory, wrong).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

describe('the optimizers held back during a lint (withoutOptimizer)', () => {
  // The app's JavaScript after a lint of the built library: V8 status bit 16 is "optimized". The broken case
  // (the flag left off) shows the check can fail.
  const statusAfterLint = (leaveOff: boolean): number => {
    const dir = mkdtempSync(join(tmpdir(), 'tidemark-optimizer-'));
    writeFileSync(join(dir, '001_a.sql'), 'create table t (id int);\ninsert into t values (1);\n');
    const script = join(dir, 'app.mjs');
    writeFileSync(
      script,
      `import { setFlagsFromString } from 'node:v8';
       const { createMigrator } = await import(${JSON.stringify(new URL('../../dist/index.js', import.meta.url).href)});
       await createMigrator({ migrations: { directory: ${JSON.stringify(dir)} } }).lint({ offline: true });
       if (${leaveOff}) setFlagsFromString('--no-turbofan');
       function hot(x) { let s = 0; for (let i = 0; i < 50; i++) s += (i * x) % 7; return s; }
       for (let i = 0; i < 200000; i++) hot(i);
       console.log(%GetOptimizationStatus(hot));`,
    );
    const run = spawnSync(process.execPath, ['--allow-natives-syntax', '--no-concurrent-recompilation', script], {
      encoding: 'utf8',
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
    });
    expect(run.stderr).toBe('');
    return Number(run.stdout.trim());
  };

  it('gives the app its optimizing compiler back after the lint', () => {
    expect(statusAfterLint(false) & 16).toBe(16);
    expect(statusAfterLint(true) & 16).toBe(0);
  });
});
