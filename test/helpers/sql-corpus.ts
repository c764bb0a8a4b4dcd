/**
 * A corpus of real SQL for tests that compare two ways of linting or reading the same files (the shortcut past
 * the grammar, the catalog read for named objects only): the rule pages' examples and the repository's own
 * migration folders, with each test's cases after them.
 *
 *   corpusFiles([...repositorySql(['migrations', 'rollback']), 'drop index hidden_idx;'])
 */
import { readFileSync, readdirSync } from 'node:fs';
import type { LintInputFile } from '../../src/sql/lint/index.js';

/** Every ```sql block of the rule pages (docs/rules/), then every file of `folders` (from the root), by name. */
export function repositorySql(folders: readonly string[]): string[] {
  const texts: string[] = [];
  const docs = new URL('../../docs/rules/', import.meta.url);
  for (const page of readdirSync(docs)) {
    const md = readFileSync(new URL(page, docs), 'utf8');
    for (const block of md.split('```sql\n').slice(1)) texts.push(block.split('\n```')[0]!);
  }
  for (const folder of folders) {
    const dir = new URL(`../../${folder}/`, import.meta.url);
    for (const name of readdirSync(dir).sort()) texts.push(readFileSync(new URL(name, dir), 'utf8'));
  }
  return texts;
}

/**
 * The texts as lint input, one file each (migrations/0001_corpus.sql, ...), in a transaction unless
 * `noTransaction` says otherwise for a text and its index.
 */
export function corpusFiles(
  texts: readonly string[],
  noTransaction: (text: string, index: number) => boolean = () => false,
): LintInputFile[] {
  return texts.map((text, i) => ({
    displayPath: `migrations/${String(i + 1).padStart(4, '0')}_corpus.sql`,
    text,
    directives: { noTransaction: noTransaction(text, i), allow: [] },
  }));
}
