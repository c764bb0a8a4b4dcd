/**
 * Batched parsing (issue 10 performance): linting many files parsed in one call of the grammar gives exactly
 * the findings of parsing each file on its own, positions included, whatever the files end with.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { LintRun, lintEachFile, lintFiles } from '../../../src/sql/lint/index.js';
import { loadParser } from '../../../src/sql/parser.js';
import { parseFilesHeadsSync } from '../../../src/sql/split.js';

beforeAll(async () => {
  await loadParser();
});

const TEXTS = [
  'create table other (id bigint primary key, name varchar(20));\n',
  '-- ünïcödé 😀 before\nalter table users add column email text;\ncreate index users_email on users (email)',
  "do $$ begin update users set name = 'x😀'; end $$;\nalter table users alter column name set not null; -- trailing comment",
  '/* only a comment */',
  '',
  'update users set name = null',
  "insert into users (name) values ('a;b');\ndrop index users_email;\n",
  'vacuum users;\nset search_path = app;\n',
];
const BROKEN = 'alter tabel users add column broken int;\n';

function file(text: string, i: number) {
  return {
    displayPath: `migrations/${String(i).padStart(3, '0')}_x.sql`,
    text,
    directives: { noTransaction: false, allow: [] },
  };
}

describe('batched parsing', () => {
  it('gives the same findings, positions included, as parsing file by file', async () => {
    expect(parseFilesHeadsSync(TEXTS)).toBeDefined();
    const files = TEXTS.map(file);
    const batched = await lintFiles(files, { pgVersion: 150000 });
    const run = new LintRun({ pgVersion: 150000 });
    const oneByOne = files.flatMap((f) => run.lintFile(f));
    expect(batched).toEqual(oneByOne);
    expect(batched.find((f) => f.rule === 'require-concurrent-index-deletion')).toMatchObject({
      file: 'migrations/006_x.sql',
      line: 2,
      column: 1,
    });
    expect(batched.find((f) => f.rule === 'ban-update-without-where')).toMatchObject({
      file: 'migrations/002_x.sql',
      line: 1,
      column: 13,
    });
  });

  it('lints each file on its own, parsed in batches, as one lint run per file would', async () => {
    const texts = [
      ...TEXTS,
      'create table users (id bigint);',
      'alter table users add column t uuid default gen_random_uuid();',
    ];
    const files = texts.map(file);
    const each = await lintEachFile(files, { pgVersion: 150000 });
    expect(each).toEqual(files.flatMap((f) => new LintRun({ pgVersion: 150000 }).lintFile(f)));
    // The table the next-to-last file creates is unknown to the last one on its own, known in one run.
    const last = (findings: { file: string; rule: string }[]) =>
      findings.filter((f) => f.file === 'migrations/009_x.sql').map((f) => f.rule);
    expect(last(each)).toContain('adding-field-with-default');
    expect(last(await lintFiles(files, { pgVersion: 150000 }))).not.toContain('adding-field-with-default');
  });

  it('falls back to file by file when one file does not parse, and names it', async () => {
    const texts = [...TEXTS.slice(0, 3), BROKEN, ...TEXTS.slice(3)];
    expect(parseFilesHeadsSync(texts)).toBeUndefined();
    const files = texts.map(file);
    const batched = await lintFiles(files, { pgVersion: 150000 });
    const run = new LintRun({ pgVersion: 150000 });
    expect(batched).toEqual(files.flatMap((f) => run.lintFile(f)));
    expect(batched.find((f) => f.rule === 'syntax-error')).toMatchObject({ file: 'migrations/003_x.sql', line: 1 });
  });

  it('refuses a batch it cannot trust: an unterminated quote would swallow the next file', () => {
    expect(parseFilesHeadsSync(['select 1;', 'select $$ unterminated', 'drop table users;'])).toBeUndefined();
    expect(parseFilesHeadsSync(["select 'open", "';drop table users;"])).toBeUndefined();
    const ok = parseFilesHeadsSync(['select 1', '-- c', 'select 2; select 3;']);
    expect(ok?.map((f) => f.heads.length)).toEqual([1, 0, 2]);
  });
});
