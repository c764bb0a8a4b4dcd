/**
 * Batched parsing (issue 10 performance): linting many files parsed in one call of the grammar gives exactly
 * the findings of parsing each file on its own, positions included, whatever the files end with.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { LintRun, ParsedAhead, lintEachFile, lintFiles } from '../../../src/sql/lint/index.js';
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

describe('batches parsed ahead (while the catalog read is answered)', () => {
  /** 90 files (five batches), with findings in every batch, a broken file in the third. */
  function many() {
    return Array.from({ length: 90 }, (_, i) => file(i === 47 ? BROKEN : TEXTS[i % TEXTS.length]!, i + 1));
  }

  it('gives the findings of a lint that parses every batch itself, whether one or all batches were parsed ahead', async () => {
    const files = many();
    const context = { pgVersion: 150000 };
    const plain = await lintFiles(files, context);
    expect(plain.some((f) => f.file === 'migrations/090_x.sql')).toBe(true);
    expect(plain.some((f) => f.rule === 'syntax-error')).toBe(true);
    for (const turns of [1, 100]) {
      const ahead = new ParsedAhead(files, false);
      for (let t = 0; t < turns; t += 1) await new Promise<void>((resolve) => setImmediate(resolve));
      await ahead.stop();
      expect(ahead.take(0), `${turns} turns`).toBeDefined();
      // take() hands a batch out once: the lint below parses batch 0 itself, the others come from ahead, each
      // asked for by its own index.
      const taken: number[] = [];
      const take = ahead.take.bind(ahead);
      ahead.take = (index) => {
        taken.push(index);
        return take(index);
      };
      expect(await lintFiles(files, context, ahead)).toEqual(plain);
      expect(taken).toEqual([0, 1, 2, 3, 4]);
      const eachAhead = new ParsedAhead(files, false);
      for (let t = 0; t < turns; t += 1) await new Promise<void>((resolve) => setImmediate(resolve));
      await eachAhead.stop();
      expect(await lintEachFile(files, context, eachAhead)).toEqual(await lintEachFile(files, context));
    }
  });

  it('is not used for other files or another parse mode', async () => {
    const files = many();
    const ahead = new ParsedAhead(files.slice(0, 40), false);
    for (let t = 0; t < 10; t += 1) await new Promise<void>((resolve) => setImmediate(resolve));
    await ahead.stop();
    // Another list (the batches would not line up): parsed afresh, same findings.
    expect(await lintFiles(files, { pgVersion: 150000 }, ahead)).toEqual(await lintFiles(files, { pgVersion: 150000 }));
    expect(ahead.take(1)).toBeDefined();
  });
});
