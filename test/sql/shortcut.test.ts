/**
 * Lint's shortcut past the grammar (issue 10 performance): statements no rule reads are not parsed. The scan
 * that finds them is checked on the lexical cases that decide where a statement ends, and the lint over a mixed
 * corpus gives the same findings and statement kinds with and without the shortcut.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../src/db/catalog.js';
import { RULES, lintFiles, type Finding, type LintContext, type LintInputFile } from '../../src/sql/lint/index.js';
import { loadParser } from '../../src/sql/parser.js';
import { SKIPPED_KINDS, shortcut } from '../../src/sql/shortcut.js';
import { corpusFiles, repositorySql } from '../helpers/sql-corpus.js';
// @ts-expect-error: a plain ES module without types (the benchmarks' migration generator)
import { migrations } from '../../bench/gen.mjs';

beforeAll(async () => {
  await loadParser();
});

const kindsOf = (text: string) => shortcut(text)?.skipped.map((s) => s.kind);

describe('the shortcut scan', () => {
  it('leaves out INSERT, COPY, COMMENT ON and CREATE [OR REPLACE] FUNCTION/PROCEDURE, and keeps the rest', () => {
    const text = [
      'create table t (id bigint);',
      'insert into t values (1), (2);',
      'copy t from stdin;',
      "comment on table t is 'x; y';",
      'create or replace function f() returns int language sql as $$ select 1; $$;',
      'create procedure p() language plpgsql as $body$ begin perform 1; end $body$;',
      'create index i on t (id);',
      'select 1',
    ].join('\n');
    const cut = shortcut(text)!;
    expect(cut.skipped.map((s) => s.kind)).toEqual([
      'InsertStmt',
      'CopyStmt',
      'CommentStmt',
      'CreateFunctionStmt',
      'CreateFunctionStmt',
    ]);
    expect(cut.skipped.map((s) => text.slice(s.start, s.start + 6))).toEqual([
      'insert',
      'copy t',
      'commen',
      'create',
      'create',
    ]);
    expect(cut.kept.map((k) => text.slice(k, k + 12))).toEqual(['create table', 'create index', 'select 1']);
  });

  it('blanks to the same UTF-8 length and keeps line breaks and the `;`', () => {
    const text = "create table t (id int);\ninsert into t values ('é😀\n✓');\ncreate index i on t (id);";
    const cut = shortcut(text)!;
    expect(Buffer.byteLength(cut.masked)).toBe(Buffer.byteLength(text));
    expect(cut.masked.split('\n').length).toBe(text.split('\n').length);
    expect(cut.masked).toMatch(/^create table t \(id int\);\n +\n +;\ncreate index i on t \(id\);$/);
    // ASCII (blanked line by line, without a replace) and CRLF line ends.
    const crlf = "insert into t values ('a',\r\n'b');\ninsert into t\nvalues (1);\r\nselect 1;";
    expect(shortcut(crlf)!.masked).toBe(
      `${' '.repeat(26)}\r\n${' '.repeat(4)};\n${' '.repeat(13)}\n${' '.repeat(10)};\r\nselect 1;`,
    );
  });

  it('finds statement ends past quotes, dollar quotes, comments and parentheses', () => {
    expect(kindsOf("insert into t values (E'it\\'s; here', 'a''b;', \"q;\"); select 1")).toEqual(['InsertStmt']);
    expect(kindsOf('insert into t values ($x$ ; $y$ ; $x$); select 1')).toEqual(['InsertStmt']);
    expect(kindsOf('insert into t values (1) /* ; /* nested ; */ ; */; select 1')).toEqual(['InsertStmt']);
    expect(kindsOf('insert into t values (1) -- ; a comment\n; select 1')).toEqual(['InsertStmt']);
    expect(shortcut("insert into t select a$b$ from u; select 'x$b$;'")?.kept).toHaveLength(1);
    const rule =
      'create rule r as on delete to t do also (insert into u values (1); delete from v); insert into t values (1)';
    expect(shortcut(rule)?.kept).toEqual([0]);
    expect(
      /* a leading comment is not the statement */ shortcut('/* c */ -- d\n insert into t values (1)')?.skipped,
    ).toEqual([{ kind: 'InsertStmt', start: 14 }]);
  });

  it('gives up on what it cannot be sure of', () => {
    for (const text of [
      "insert into t values ('unterminated",
      'insert into t values ($$ unterminated',
      'insert into t values (1) /* unterminated',
      'insert into t values ((1); select 1',
      'insert into t values (1)); select 1',
      // A SQL-standard body: its `;`s do not end the statement.
      'create function f() returns int language sql begin atomic select 1; select 2; end; insert into t values (1)',
      // enum-value-used-in-same-transaction reads every later statement of the transaction.
      "alter type mood add value 'meh'; insert into t values ('meh')",
      "do $$ begin alter type mood add value 'meh'; end $$; insert into t values ('meh')",
      'create table t (id int); create index i on t (id)',
    ]) {
      expect(shortcut(text), text).toBeUndefined();
    }
  });

  it("for an up file a rollback undoes, leaves out what the undo does not read and a CREATE TABLE's columns", () => {
    const text = [
      'create table s."T" (id bigint primary key, name text check (name <> \'\'));',
      'create unique index i on s."T" (name);',
      'create or replace view v as select 1;',
      'update s."T" set name = (name);',
      'do $$ begin perform 1; end $$;',
      'alter table s."T" add column note text;',
      'create schema x;',
      'create materialized view m as select 1;',
      'create table c (a, b) as select 1, 2;',
      'create table p partition of s."T" (id default 1) for values in (1);',
      'insert into s."T" values (1, \'a\');',
      "alter type mood add value 'meh';",
    ].join('\n');
    const cut = shortcut(text, true)!;
    expect(cut.skipped.map((s) => s.kind)).toEqual(['IndexStmt', 'ViewStmt', 'UpdateStmt', 'DoStmt', 'InsertStmt']);
    expect(cut.masked.split('\n')[0]).toMatch(/^create table s\."T" \( +\);$/);
    expect(Buffer.byteLength(cut.masked)).toBe(Buffer.byteLength(text));
    // Kept whole: the rest, and column lists of CREATE TABLE AS and PARTITION OF (`()` would not parse there).
    const lines = text.split('\n');
    expect(cut.masked.split('\n').slice(5)).toEqual([...lines.slice(5, 10), expect.stringMatching(/^ +;$/), lines[11]]);
    expect(cut.kept.map((k) => text.slice(k, k + 12))).toEqual([
      'create table',
      'alter table ',
      'create schem',
      'create mater',
      'create table',
      'create table',
      'alter type m',
    ]);
    // Temporary and unlogged tables, IF NOT EXISTS and quoted names; what the lint's own shortcut keeps.
    for (const [create, blanked] of [
      ['create temp table if not exists "a b".c (x int) on commit drop', true],
      ['create global temporary table t (x int)', true],
      ['create unlogged table if (x int) partition by range (x)', true],
      ['create table t of mood_type (x with options default 1)', false],
      ['create table t (x int) with (fillfactor = 70) as select 1', false],
    ] as const) {
      // Nothing to leave out: no shortcut (undefined), the statement is parsed as written.
      expect((shortcut(`${create};`, true)?.masked ?? create).includes('x '), create).toBe(!blanked);
    }
    expect(shortcut(text)?.skipped.map((s) => s.kind)).toBeUndefined(); // ALTER TYPE: the lint parses all
  });

  it('skips only kinds no rule reads; rules that read every statement are known to tolerate it', () => {
    // A rule without `kinds` sees every statement, skipped ones included, before the shortcut: each must be
    // checked by hand (these look at index, reindex and transaction-refused kinds only, or are the reason
    // files with ALTER TYPE and DO are parsed whole). Add a rule here only after checking it.
    const everyKind = RULES.filter((r) => r.kinds === undefined).map((r) => r.id);
    expect(everyKind.sort()).toEqual([
      'ban-concurrent-index-creation-in-transaction',
      'enum-value-used-in-same-transaction',
      'not-in-transaction',
    ]);
    for (const rule of RULES) {
      for (const kind of rule.kinds ?? []) expect(SKIPPED_KINDS, rule.id).not.toContain(kind);
    }
  });
});

// users(id int4, name varchar(20)) of 2 GB, a table most rules have an opinion on.
const CATALOG: Catalog = {
  serverVersionNum: 150004,
  indexTables: new Map([['public.users_pkey', 'public.users']]),
  relations: new Map([
    ['public.users', 'r'],
    ['public.users_pkey', 'i'],
  ]),
  functionVolatility: new Map([['now', 's']]),
  schemas: new Set(['public', 'pg_catalog']),
  types: new Set(),
  searchPath: ['public'],
  tables: new Map([
    [
      'public.users',
      {
        schema: 'public',
        name: 'users',
        estimatedRows: 1_200_000,
        sizeBytes: 2_000_000_000,
        columns: [
          { name: 'id', type: 'integer', typeName: 'int4', mods: [], notNull: true },
          { name: 'name', type: 'character varying(20)', typeName: 'varchar', mods: [20], notNull: false },
        ],
        constraints: [],
        indexes: [],
      },
    ],
  ]),
};

/** Every SQL block of the rule pages, the repository's example migrations and seeds, generated files, and cases. */
function corpus(): LintInputFile[] {
  const generated = (migrations(20) as { up: string; down: string }[]).flatMap((m) => [m.up, m.down]);
  return corpusFiles(
    [
      ...repositorySql(['migrations', 'rollback', 'seeds']),
      ...generated,
      // Findings after skipped statements with multi-byte text: positions must not move.
      "insert into users (name) values ('ünïcödé 😀; x');\nalter table users add column n int;\ncomment on column users.n is '✓';\ndrop index users_pkey;",
      'create function f() returns trigger language plpgsql as $$ begin new.x := 1; return new; end $$;\ncreate index users_name on users (name);\ninsert into users values (1);\nupdate users set name = null;',
      // A syntax error after a skipped statement: reported at the same place.
      'insert into users values (1);\nalter tabel users add column broken int;',
      // Enum values: the file is parsed whole, the rule sees the INSERT.
      "create type mood as enum ('ok');\nalter type mood add value 'meh';\ninsert into users (name) values ('meh');",
      'do $$ begin perform 1; end $$;\ninsert into users values (1);\nvacuum users;',
      'copy users (name) from stdin;\nalter table users alter column name type text;',
    ],
    (text, i) => /concurrently|vacuum/i.test(text) && i % 2 === 0,
  );
}

async function lintBothWays(files: LintInputFile[], context: LintContext) {
  const run = async (parseAll: boolean) => {
    const kinds: [string, readonly string[]][] = [];
    const findings: Finding[] = await lintFiles(files, {
      ...context,
      parseAll,
      onStatementKinds: (file, k) => kinds.push([file, k]),
    });
    return { findings, kinds };
  };
  return { fast: await run(false), full: await run(true) };
}

describe('lint with and without the shortcut', () => {
  it('leaves a syntax error inside a skipped statement to PostgreSQL (the documented cost)', async () => {
    const files = [
      {
        displayPath: 'migrations/001_x.sql',
        text: 'insert into users valuse (1);\ncreate index i on users (name);',
        directives: { noTransaction: false, allow: [] },
      },
    ];
    const { fast, full } = await lintBothWays(files, { pgVersion: 150000 });
    expect(full.findings.map((f) => f.rule)).toEqual(['syntax-error']);
    expect(fast.findings.map((f) => f.rule)).toEqual(['require-concurrent-index-creation']);
  });

  it('skips statements in the corpus (the comparison below is not vacuous)', () => {
    const skipped = corpus().flatMap((f) => shortcut(f.text)?.skipped ?? []);
    expect(new Set(skipped.map((s) => s.kind))).toEqual(new Set(SKIPPED_KINDS));
  });

  it.each([
    ['offline', { pgVersion: 150000 }],
    ['with a catalog', { pgVersion: 150000, catalog: CATALOG }],
  ] as [string, LintContext][])('gives the same findings and statement kinds, %s', async (_, context) => {
    const files = corpus();
    const { fast, full } = await lintBothWays(files, context);
    expect(full.findings.length).toBeGreaterThan(20);
    expect(fast.findings).toEqual(full.findings);
    expect(fast.kinds).toEqual(full.kinds);
    // One file at a time (the `migrate lint` path offline) too.
    for (const file of files.slice(-6)) {
      const one = await lintBothWays([file], context);
      expect(one.fast.findings, file.text).toEqual(one.full.findings);
    }
  });
});
