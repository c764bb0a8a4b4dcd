/**
 * The schema view on real histories (issue 10): objects of every kind that pending files create, rename and
 * drop; DROP ... IF EXISTS of what provably is not there; names resolved with the runner's search_path.
 * Connected cases read the catalog of a real database.
 */
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readCatalog } from '../../src/db/catalog.js';
import { lintFiles, type Finding } from '../../src/sql/lint/index.js';
import { loadParser } from '../../src/sql/parser.js';
import { testDatabase, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
beforeAll(async () => {
  await loadParser();
  db = await testDatabase('schema_view');
});
afterAll(async () => {
  await db.drop();
});
beforeEach(async () => {
  await db.reset();
});

function file(text: string, name = 'migrations/002_x.sql') {
  return { displayPath: name, text, directives: { noTransaction: false, allow: [] } };
}

/** Lints `texts` as one run against the live catalog of the test database (after `setup` ran there). */
async function lintConnected(
  setup: string,
  texts: string[],
  options: { searchPath?: string } = {},
): Promise<Finding[]> {
  if (setup !== '') await db.query(setup);
  const client = new pg.Client({
    connectionString: db.url,
    ...(options.searchPath ? { options: `-c search_path=${options.searchPath}` } : {}),
  });
  await client.connect();
  try {
    const catalog = await readCatalog(client);
    return await lintFiles(
      texts.map((t, i) => file(t, `migrations/00${i + 2}_x.sql`)),
      { pgVersion: catalog.serverVersionNum, catalog, sizeThresholdBytes: 0 },
    );
  } finally {
    await client.end();
  }
}

const rules = (findings: Finding[]) => findings.filter((f) => f.severity === 'error').map((f) => f.rule);

describe('DROP ... IF EXISTS of something that provably does not exist', () => {
  it('is not a finding when the schema does not exist (PostgreSQL skips it)', async () => {
    const findings = await lintConnected('create table keep (id bigint)', ['drop index if exists s.i;']);
    expect(rules(findings)).toEqual([]);
  });

  it('is not a finding when the index does not exist, but is when it does', async () => {
    const setup =
      'create table t (id bigint, x text); create index t_x_idx on t (x); insert into t select g, g::text from generate_series(1, 10) g';
    expect(rules(await lintConnected(setup, ['drop index if exists missing_idx;']))).toEqual([]);
    expect(rules(await lintConnected('', ['drop index if exists t_x_idx;']))).toContain(
      'require-concurrent-index-deletion',
    );
  });

  it('is judged per object: the absent one is dropped from the statement, the present one still found', async () => {
    const findings = await lintConnected('create table t (id bigint); create table u (id bigint)', [
      'drop table if exists nothing_here, u;',
    ]);
    expect(findings.filter((f) => f.rule === 'ban-drop-table').map((f) => f.table)).toEqual(['public.u']);
  });

  it('covers ALTER TABLE IF EXISTS and DROP COLUMN IF EXISTS', async () => {
    const findings = await lintConnected('create table t (id bigint)', [
      'alter table if exists gone drop column x;\nalter table t drop column if exists never_was;',
    ]);
    expect(rules(findings)).toEqual([]);
  });

  it('offline, where nothing can be proved, the finding stays', async () => {
    const findings = await lintFiles([file('drop index if exists s.i;')], { pgVersion: 150000 });
    expect(rules(findings)).toContain('require-concurrent-index-deletion');
  });
});

describe('objects created, renamed and dropped by earlier pending files', () => {
  it('follows an index renamed by an earlier file on a table the same run created', async () => {
    const findings = await lintConnected('create table keep (id bigint)', [
      'create table t (id bigint primary key, x text);\ncreate index a on t (x);',
      'alter index a rename to b;',
      'drop index b;',
    ]);
    expect(rules(findings)).toEqual([]);
  });

  it('knows the primary key index CREATE TABLE makes, and follows its constraint rename', async () => {
    const findings = await lintConnected('create table keep (id bigint)', [
      'create table t (id bigint primary key);',
      'alter table t rename constraint t_pkey to t_id_pk;\ndrop index t_id_pk;',
    ]);
    expect(rules(findings)).toEqual([]);
  });

  it('follows a table renamed by an earlier file: its indexes are still on a new table', async () => {
    const findings = await lintConnected('create table keep (id bigint)', [
      'create table t (id bigint, x text);\ncreate index t_x on t (x);\nalter table t rename to t2;',
      'drop index t_x;\nalter table t2 drop column x;',
    ]);
    expect(rules(findings)).toEqual([]);
  });

  it('follows schemas, sequences, views and types created and dropped in the run', async () => {
    const findings = await lintConnected('create table keep (id bigint)', [
      "create schema app;\ncreate sequence app.s;\ncreate view app.v as select 1 as one;\ncreate type app.mood as enum ('a');",
      'drop view app.v;\ndrop sequence app.s;\ndrop type app.mood;\ndrop schema app;',
    ]);
    expect(rules(findings)).toEqual([]);
  });

  it('an index of a catalog table renamed and dropped is still on that (old, big) table', async () => {
    const findings = await lintConnected('create table t (id bigint, x text); create index a on t (x)', [
      'alter index a rename to b;',
      'drop index b;',
    ]);
    expect(findings.find((f) => f.rule === 'require-concurrent-index-deletion')?.table).toBe('public.t');
  });
});

describe('unqualified names follow the search_path the runner uses', () => {
  it("resolves against the server's current_schemas: a table in the second schema of the path", async () => {
    const setup =
      'create schema app; create table app.orders (id bigint, note text); create table public.keep (id bigint)';
    const findings = await lintConnected(setup, ['alter table orders drop column note;'], { searchPath: 'app,public' });
    expect(findings.find((f) => f.rule === 'ban-drop-column')?.table).toBe('app.orders');
  });

  it('a table created in the run under SET search_path is new where it was created', async () => {
    const findings = await lintConnected('create schema app; create table public.t (id bigint)', [
      'set local search_path = app;\ncreate table t (id bigint, x text);\nalter table t drop column x;',
    ]);
    expect(rules(findings)).toEqual([]);
  });

  it("a file's SET search_path ends with the file (the runner resets the session)", async () => {
    const findings = await lintConnected('create schema app; create table public.t (id bigint, x text)', [
      'set search_path = app;\ncreate table t (id bigint, x text);',
      'alter table t drop column x;',
    ]);
    expect(findings.find((f) => f.rule === 'ban-drop-column')?.table).toBe('public.t');
  });
});
