import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { loadParser, SqlSyntaxError, parse } from '../../src/sql/parser.js';
import { splitStatements } from '../../src/sql/split.js';

beforeAll(async () => {
  await loadParser();
});

const texts = async (sql: string) => (await splitStatements(sql)).map((s) => s.text);

describe('splitStatements', () => {
  it('splits on top-level semicolons and drops empty statements', async () => {
    expect(await texts('select 1; select 2;;\nselect 3')).toEqual(['select 1', 'select 2', 'select 3']);
  });

  it('gives nothing for empty, whitespace-only and comment-only text', async () => {
    expect(await texts('')).toEqual([]);
    expect(await texts('  \n\t')).toEqual([]);
    expect(await texts('-- migrate:no-transaction\n/* nothing /* nested */ here */\n')).toEqual([]);
  });

  it('keeps semicolons inside dollar-quoted function bodies, with and without a tag', async () => {
    const fn = `create function f() returns int language plpgsql as $fn$
begin
  perform 1; -- ; in a comment
  return $$;$$::text::int;
end
$fn$`;
    const sql = `-- migrate:no-transaction\ncreate index concurrently i on t (x);\n${fn};\ncreate function g() returns void as $$ select 1; $$ language sql;`;
    const statements = await splitStatements(sql);
    expect(statements.map((s) => s.kind)).toEqual(['IndexStmt', 'CreateFunctionStmt', 'CreateFunctionStmt']);
    expect(statements[1]!.text).toBe(fn);
    expect(statements[1]!.line).toBe(3);
  });

  it("keeps semicolons in E'' strings, quoted identifiers and nested block comments", async () => {
    const sql = `select E'it\\'s; here';\nselect 1 as "a;b";\n/* outer /* inner; */ still; */ select 'x'';y'`;
    expect(await texts(sql)).toEqual([`select E'it\\'s; here'`, `select 1 as "a;b"`, `select 'x'';y'`]);
  });

  it('reports the real start line and column of a statement after comments', async () => {
    const sql = 'select 1;\n-- about the next one\n/* more */\n   alter table t add column x int;';
    const [first, second] = await splitStatements(sql);
    expect(first).toMatchObject({ line: 1, column: 1, start: 0, end: 8 });
    expect(second).toMatchObject({ text: 'alter table t add column x int', line: 4, column: 4 });
    expect(sql.slice(second!.start, second!.end)).toBe(second!.text);
  });

  it('handles CRLF line endings', async () => {
    const sql = 'select 1;\r\n\r\n-- c\r\nselect 2;\r\n';
    const statements = await splitStatements(sql);
    expect(statements.map((s) => [s.text, s.line, s.column])).toEqual([
      ['select 1', 1, 1],
      ['select 2', 4, 1],
    ]);
  });

  it('maps UTF-8 byte offsets back to JS indexes after multi-byte and astral text', async () => {
    const sql = "select 'é😀ü';\n-- 💥 comment\nselect '日本';";
    const statements = await splitStatements(sql);
    expect(statements.map((s) => s.text)).toEqual(["select 'é😀ü'", "select '日本'"]);
    expect(statements[1]).toMatchObject({ line: 3, column: 1 });
  });

  it('drops a trailing comment after a last statement without a semicolon', async () => {
    expect(await texts('select 1 -- the end\n/* really */\n')).toEqual(['select 1']);
  });

  it('reports a syntax error with the file, line and column', async () => {
    const sql = "select 1;\nselect '😀' frm oops;";
    await expect(splitStatements(sql, 'migrations/003_x.sql')).rejects.toMatchObject({
      code: 'sql-syntax-error',
      line: 2,
      column: 16,
      message: 'migrations/003_x.sql:2:16: syntax error at or near "oops"',
    });
    await expect(parse('alter tabel t')).rejects.toBeInstanceOf(SqlSyntaxError);
  });
});

// Pieces whose text contains `;`, quotes and comment markers that a naive splitter would trip on.
const atom = fc.constantFrom(
  "'a;b'",
  "'it''s;'",
  "E'x\\';y'",
  "E'\\\\'",
  '$$ ; $$',
  '$fn$ $$ ; -- $fn$',
  '$a$ /* ; $a$',
  '"we;ird"',
  '"q""x"',
  "'-- not a comment'",
  "'/* nor this */'",
  '42',
  "'😀;é'",
);
const statement = fc
  .tuple(fc.array(atom, { minLength: 1, maxLength: 4 }), fc.constantFrom('', 'x', 'y'))
  .map(([atoms, alias]) => `select ${atoms.join(', ')}${alias === '' ? '' : ` as ${alias}`}`);
const gap = fc
  .array(fc.constantFrom(' ', '\n', '\r\n', '\t', '-- c; \'"$$\n', '/* a; /* nested; */ b */', '/**/', '-- 😀\n'), {
    maxLength: 4,
  })
  .map((parts) => parts.join(''));

describe('splitStatements (property)', () => {
  it('splits any mix of comments, strings, dollar quotes and statements back into the same statements', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(gap, statement, gap), { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        async (parts, finalSemicolon) => {
          const text =
            parts.map(([before, stmt, after]) => `${before}${stmt}${after}`).join(';') + (finalSemicolon ? ';' : '');
          const split = await splitStatements(text);
          expect(split.map((s) => s.text)).toEqual(parts.map(([, stmt]) => stmt));
          for (const s of split) expect(text.slice(s.start, s.end)).toBe(s.text);
        },
      ),
      { numRuns: 300 },
    );
  });
});
