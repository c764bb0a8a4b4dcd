/**
 * The pre-run reads are bounded: a table locked by another session does not stall the catalog read (lint,
 * `up`, `up --dry-run`); its size is estimated from pg_class and the output says so, naming the holder.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCatalog, readTableDetails, withTableDetails } from '../../src/db/catalog.js';
import { testDatabase, type TestDatabase } from '../helpers/db.js';
import { makeProject, runCli } from '../helpers/project.js';

let db: TestDatabase;
let holder: pg.Client;

beforeAll(async () => {
  db = await testDatabase('catalog_locks');
  await db.query(
    'create table busy (id bigint primary key, v text); insert into busy select g, md5(g::text) from generate_series(1, 2000) g',
  );
  await db.query('vacuum analyze busy');
  await db.query('create table other (id bigint primary key)');
  holder = new pg.Client({ connectionString: db.url, application_name: 'the-holder' });
  await holder.connect();
  await holder.query('begin; lock table busy in access exclusive mode');
});

afterAll(async () => {
  await holder.query('rollback').catch(() => {});
  await holder.end();
  await db.drop();
});

describe('a catalog read while another session holds ACCESS EXCLUSIVE on a table', () => {
  it('estimates the locked table size from pg_class, leaves its indexes out and names the holder, instead of waiting', async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const notes: string[] = [];
      const catalog = await readCatalog(client, { onNote: (m) => notes.push(m) });
      expect(notes).toEqual([
        expect.stringMatching(
          /did not wait for locked tables: public\.busy is locked \(ACCESS EXCLUSIVE\) by pid \d+ \(the-holder\): begin; lock table busy.*sizes are estimates/,
        ),
      ]);
      // What it could not read without waiting is left out, the rest is read as usual.
      expect(catalog.tables.get('public.busy')?.indexes).toEqual([]);
      expect(catalog.tables.get('public.other')?.indexes.map((i) => i.name)).toEqual(['other_pkey']);
      // VACUUM ANALYZE left relpages: the estimate is a real size, not zero.
      expect(catalog.tables.get('public.busy')?.sizeBytes).toBeGreaterThan(8192);
      expect(catalog.tables.get('public.busy')?.estimatedRows).toBe(2000);
      // The session's lock_timeout is put back.
      expect((await client.query('show lock_timeout')).rows[0].lock_timeout).toBe('0');
    } finally {
      await client.end();
    }
  });

  it('reads details afterwards (a read without them, as the lint makes) the same way: the locked one estimated, its definitions unknown', async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const catalog = await readCatalog(client, { details: false, onNote: () => {} });
      // Without details nothing waits for the lock: busy's constraint and index names are read.
      const other = catalog.tables.get('public.other')!;
      expect(other.sizeBytes).toBeNaN();
      expect(other.indexes).toEqual([{ name: 'other_pkey', unique: true, valid: true, definition: undefined }]);
      expect(catalog.tables.get('public.busy')?.constraints.map((c) => [c.name, c.definition])).toEqual([
        ['busy_pkey', undefined],
      ]);
      const notes: string[] = [];
      const details = await readTableDetails(
        client,
        [
          { schema: 'public', name: 'busy' },
          { schema: 'public', name: 'other' },
          { schema: 'public', name: 'gone' },
        ],
        (m) => notes.push(m),
      );
      expect(notes).toEqual([expect.stringMatching(/did not wait for locked tables: public\.busy is locked/)]);
      expect([...details.keys()].sort()).toEqual(['public.busy', 'public.other']);
      expect(details.get('public.busy')?.sizeBytes).toBeGreaterThan(8192);
      expect(details.get('public.busy')?.indexes.size).toBe(0);
      // other: its primary key index's pages (pg_total_relation_size).
      expect(details.get('public.other')?.sizeBytes).toBe(
        Number((await client.query(`select pg_total_relation_size('other') as n`)).rows[0].n),
      );
      expect((await client.query('show lock_timeout')).rows[0].lock_timeout).toBe('0');
      // Put in, other reads as a read with details has it; busy keeps its unknown definitions.
      const completed = withTableDetails(catalog, details);
      expect(completed.tables.get('public.other')).toEqual(
        (await readCatalog(client, { onNote: () => {} })).tables.get('public.other'),
      );
      expect(completed.tables.get('public.busy')?.constraints[0]?.definition).toBeUndefined();
      expect(completed.tables.get('public.busy')?.columns.map((c) => c.type)).toEqual(['bigint', 'text']);
    } finally {
      await client.end();
    }
  });

  it('`up --dry-run` finishes and says what it did not wait for; `up` finishes without waiting', async () => {
    // The catalog read asks only for what the files name: this one names busy (in a PL/pgSQL body, which
    // CREATE FUNCTION does not check, so the run itself takes no lock on busy).
    const dir = makeProject({
      'migrations/001_add.sql':
        'alter table other add column note text;\n' +
        'create function busy_count() returns bigint language plpgsql as $$ begin return (select count(*) from busy); end $$;',
    });
    const env = { DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false' };
    const dry = await runCli(['up', '--dry-run'], { cwd: dir, env });
    expect(dry.code).toBe(0);
    expect(dry.stderr).toMatch(/did not wait for locked tables: public\.busy is locked/);
    const up = await runCli(['up'], { cwd: dir, env });
    expect(up.code).toBe(0);
    // Its lint reads no detail of busy (no rule asks for its size or definitions; the lock report of
    // --dry-run prints every size), and nothing else of the read waits for a table lock: nothing to say.
    expect(up.stderr).not.toMatch(/did not wait/);
    expect(
      await db.query(
        `select count(*)::int as n from information_schema.columns where table_name = 'other' and column_name = 'note'`,
      ),
    ).toEqual([{ n: 1 }]);
  });
});
