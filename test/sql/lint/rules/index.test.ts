import { readFileSync, readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadParser } from '../../../../src/sql/parser.js';
import { RULES, lintFiles } from '../../../../src/sql/lint/index.js';

const DOCS = new URL('../../../../docs/rules/', import.meta.url);

beforeAll(async () => {
  await loadParser();
});

describe('rule registry and docs', () => {
  it('has unique kebab-case ids, each in a file named by its id', () => {
    const ids = RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z]+(-[a-z]+)*$/);
    const files = readdirSync(new URL('../../../../src/sql/lint/rules/', import.meta.url)).filter(
      (f) => f !== 'index.ts',
    );
    expect(files.map((f) => f.replace(/\.ts$/, '')).sort()).toEqual([...ids].sort());
  });

  it('has a docs page per rule and none for a rule that does not exist', () => {
    const pages = readdirSync(DOCS).map((f) => f.replace(/\.md$/, ''));
    expect(pages.sort()).toEqual(RULES.map((r) => r.id).sort());
  });

  it.each(RULES.map((r) => [r.id]))("the 'Flagged' example of %s's page is flagged by it", async (id) => {
    const page = readFileSync(new URL(`${id}.md`, DOCS), 'utf8');
    const flagged = page.split('Flagged:\n```sql\n')[1]!.split('\n```')[0]!;
    const findings = await lintFiles(
      [{ displayPath: `${id}.sql`, text: flagged, directives: { noTransaction: false, allow: [] } }],
      { pgVersion: 150000 },
    );
    expect(findings.map((f) => f.rule)).toContain(id);
  });
});
