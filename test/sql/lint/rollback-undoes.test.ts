/**
 * Rollback files are linted knowing what their up file created (a rollback may drop that). The up files are
 * parsed in the batch's grammar call and through the shortcut (issue 10/12 performance: `down --all` of 1000
 * migrations parsed each up whole, alone): the findings must be those of parsing each up whole, on its own.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { LintRun, lintFiles, type LintContext, type LintInputFile } from '../../../src/sql/lint/index.js';
import { loadParser } from '../../../src/sql/parser.js';
// @ts-expect-error: a plain ES module without types (the benchmarks' migration generator)
import { migrations } from '../../../bench/gen.mjs';

beforeAll(async () => {
  await loadParser();
});

const directives = { noTransaction: false, allow: [] };

/** The rollbacks of `n` generated migrations, newest first (as `down --all` runs them), with their ups. */
function rollbacks(n: number, ups?: (up: string, i: number) => string): LintInputFile[] {
  const all = migrations(n) as { version: string; name: string; up: string; down: string }[];
  return all
    .map((m, i) => ({
      displayPath: `rollback/${m.version}_${m.name}_rollback.sql`,
      text: m.down,
      directives,
      undoes: ups ? ups(m.up, i) : m.up,
    }))
    .reverse();
}

/** The same lint with every up parsed whole and alone (the reference: what `lintFile` does without a batch). */
function oneByOne(files: readonly LintInputFile[], context: LintContext) {
  const run = new LintRun({ ...context, parseAll: true });
  return files.flatMap((f) => run.lintFile(f));
}

describe('rollbacks and the ups they undo', () => {
  const context: LintContext = { pgVersion: 150000 };

  it('lets a rollback drop what its up created, and finds what it did not create', async () => {
    const files = rollbacks(45);
    const findings = await lintFiles(files, context);
    // Each rollback drops its own table, function and the column its up added: none of them is a finding.
    expect(findings.filter((f) => f.rule === 'ban-drop-table' || f.rule === 'ban-drop-column')).toEqual([]);
    // Without the up, the same drops are findings: the check above is not vacuous.
    const alone = await lintFiles(
      files.map(({ undoes: _, ...f }) => f),
      context,
    );
    expect(alone.filter((f) => f.rule === 'ban-drop-table').length).toBe(45);
    // (The first migration adds its column to its own table: its rollback drops no column.)
    expect(alone.filter((f) => f.rule === 'ban-drop-column').length).toBe(44);
  });

  it('gives the findings of parsing each up whole and alone, batches crossed and shortcut taken', async () => {
    // 45 files: three grammar calls; the ups hold INSERTs and function bodies, which the shortcut leaves out.
    const files = rollbacks(45, (up, i) =>
      // An up whose CREATE TABLE follows a skipped statement, and one that does not parse (its rollback is
      // judged on its own: the batch holding it is parsed file by file).
      i === 7 ? `insert into x values (1);\n${up}` : i === 30 ? `${up}\ncreate tabel broken (id int);` : up,
    );
    const batched = await lintFiles(files, context);
    expect(batched).toEqual(oneByOne(files, context));
    expect(batched.filter((f) => f.rule === 'ban-drop-table').map((f) => f.file)).toEqual([
      expect.stringMatching(/^rollback\/031_create_\w+_rollback\.sql$/),
    ]);
  });

  it('gives the findings of parsing each up whole for every form an undo reads (its own shortcut)', async () => {
    // The undo's shortcut leaves out more of an up than the lint's (indexes, views, updates, DO) and blanks a
    // CREATE TABLE's column list: each form beginUndo reads, between statements it leaves out.
    const pairs: [string, string][] = [
      [
        'create table s."T" (id bigint primary key, name text);\ncreate unique index i on s."T" (name);\ncreate view v as select 1;',
        'drop view v;\ndrop table s."T";',
      ],
      ['create temp table if not exists t1 (x int) on commit preserve rows;', 'drop table t1;'],
      ['create unlogged table t2 (x int) partition by range (x);\nupdate t2 set x = (1);', 'drop table t2;'],
      ['create table t3 (a, b) as select 1, 2;\ndo $$ begin perform 1; end $$;', 'drop table t3;'],
      ['create table t4 partition of t2 (x default 1) for values from (1) to (2);', 'drop table t4;'],
      [
        'create index j on accounts (id);\nalter table accounts add column note text;',
        'alter table accounts drop column note;',
      ],
      ['create schema x;\ncreate table x.t5 (id int);', 'drop table x.t5;\ndrop schema x;'],
    ];
    const files: LintInputFile[] = pairs.map(([up, down], i) => ({
      displayPath: `rollback/${i}_rollback.sql`,
      text: down,
      directives,
      undoes: up,
    }));
    const batched = await lintFiles(files, context);
    expect(batched).toEqual(oneByOne(files, context));
    const drops = ['ban-drop-table', 'ban-drop-column', 'ban-drop-schema'];
    expect(batched.filter((f) => drops.includes(f.rule))).toEqual([]);
    // Not vacuous: without their ups, every drop is a finding.
    const alone = await lintFiles(
      files.map(({ undoes: _, ...f }) => f),
      context,
    );
    expect(alone.filter((f) => drops.includes(f.rule)).length).toBe(8);
  });

  it("resolves the up's names on the search_path its own SET gives them", async () => {
    // The up creates app.t. A rollback that forgets the SET drops public.t and its column: not what its up
    // created, so those drops are findings; one that sets the same path drops app.t, which its up created.
    const up = 'set local search_path = app;\ncreate table t (id int);\nalter table t add column note text;';
    const drops = 'alter table t drop column note;\ndrop table t;';
    const files: LintInputFile[] = [
      { displayPath: 'rollback/1_rollback.sql', text: drops, directives, undoes: up },
      { displayPath: 'rollback/2_rollback.sql', text: `set local search_path = app;\n${drops}`, directives, undoes: up },
      { displayPath: 'rollback/3_rollback.sql', text: `set local search_path = app;\n${drops}`, directives, undoes: up.replace(/^.*\n/, '') },
    ];
    const findings = await lintFiles(files, context);
    expect(findings).toEqual(oneByOne(files, context));
    expect(findings.map((f) => `${f.file} ${f.rule}`)).toEqual([
      'rollback/1_rollback.sql ban-drop-column',
      'rollback/1_rollback.sql ban-drop-table',
      'rollback/3_rollback.sql ban-drop-column',
      'rollback/3_rollback.sql ban-drop-table',
    ]);
  });
});
