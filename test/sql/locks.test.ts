/**
 * The lock report checked against what PostgreSQL really takes: each statement runs in a transaction on a
 * real database, pg_locks is read for that backend before rolling back, and a rewrite is seen as a new
 * pg_relation_filenode.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { readCatalog, type Catalog } from '../../src/db/catalog.js';
import { loadParser } from '../../src/sql/parser.js';
import { lockReport, pgLockName, LOCK_MODES } from '../../src/sql/locks.js';
import { SchemaView } from '../../src/sql/schema.js';
import { parseStatementsSync } from '../../src/sql/split.js';
import { testDatabase, type TestDatabase } from '../helpers/db.js';

const SETUP = `
create table users (id int primary key, email text, name varchar(20), balance numeric(10,2));
create index users_email_idx on users (email);
insert into users select g, 'u' || g || '@x', 'n' || g, g from generate_series(1, 500) g;
alter table users add constraint users_id_pos check (id > 0) not valid;
alter table users add constraint users_email_nn check (email is not null);
create table orders (id int primary key, user_id int);
insert into orders select g, g from generate_series(1, 100) g;
create function touch() returns trigger language plpgsql as $$ begin return new; end $$;
analyze users;
`;

// [statement, expected { relation: lock }, rewrite, the filenode changes (when it differs from rewrite)]
const CASES: Array<[string, Record<string, string>, boolean, boolean?]> = [
  ['alter table users add column a text', { users: 'ACCESS EXCLUSIVE' }, false],
  ['alter table users add column b uuid default gen_random_uuid()', { users: 'ACCESS EXCLUSIVE' }, true],
  ['alter table users add column c timestamptz default now()', { users: 'ACCESS EXCLUSIVE' }, false],
  ['alter table users add column n bigserial', { users: 'ACCESS EXCLUSIVE' }, true],
  ['alter table users add column g int generated always as (id * 2) stored', { users: 'ACCESS EXCLUSIVE' }, true],
  ['alter table users add column i bigint generated always as identity', { users: 'ACCESS EXCLUSIVE' }, true],
  ['alter table users alter column name type varchar(40)', { users: 'ACCESS EXCLUSIVE' }, false],
  ['alter table users alter column name type text', { users: 'ACCESS EXCLUSIVE' }, false],
  ['alter table users alter column name type varchar(10)', { users: 'ACCESS EXCLUSIVE' }, true],
  ['alter table users alter column balance type numeric(12,2)', { users: 'ACCESS EXCLUSIVE' }, false],
  ['alter table users alter column id type bigint', { users: 'ACCESS EXCLUSIVE' }, true],
  ['alter table users alter column email set not null', { users: 'ACCESS EXCLUSIVE' }, false],
  ['alter table users add constraint c check (id < 100000)', { users: 'ACCESS EXCLUSIVE' }, false],
  ['alter table users validate constraint users_id_pos', { users: 'SHARE UPDATE EXCLUSIVE' }, false],
  ['alter table users add constraint u unique (email)', { users: 'ACCESS EXCLUSIVE' }, false],
  [
    'alter table orders add constraint fk foreign key (user_id) references users (id)',
    { orders: 'SHARE ROW EXCLUSIVE', users: 'SHARE ROW EXCLUSIVE' },
    false,
  ],
  [
    'alter table orders add constraint fk foreign key (user_id) references users (id) not valid',
    { orders: 'SHARE ROW EXCLUSIVE', users: 'SHARE ROW EXCLUSIVE' },
    false,
  ],
  ['alter table users set (fillfactor = 70)', { users: 'SHARE UPDATE EXCLUSIVE' }, false],
  ['alter table users rename column name to full_name', { users: 'ACCESS EXCLUSIVE' }, false],
  ['alter table users rename to accounts', { users: 'ACCESS EXCLUSIVE' }, false],
  ['alter index users_email_idx rename to users_email_index', { users_email_idx: 'SHARE UPDATE EXCLUSIVE' }, false],
  ['create index users_name_idx on users (name)', { users: 'SHARE' }, false],
  ['drop index users_email_idx', { users: 'ACCESS EXCLUSIVE', users_email_idx: 'ACCESS EXCLUSIVE' }, false],
  ['reindex index users_email_idx', { users: 'SHARE', users_email_idx: 'ACCESS EXCLUSIVE' }, false],
  ['reindex table users', { users: 'SHARE' }, false],
  // TRUNCATE swaps in a new, empty file: a new filenode, but no row is copied.
  ['truncate orders', { orders: 'ACCESS EXCLUSIVE' }, false, true],
  ['drop table orders', { orders: 'ACCESS EXCLUSIVE' }, false],
  ["update users set email = 'x' where id = 1", { users: 'ROW EXCLUSIVE' }, false],
  ['delete from orders where id = 1', { orders: 'ROW EXCLUSIVE' }, false],
  [
    'create table items (id int primary key, user_id int references users (id))',
    { items: 'ACCESS EXCLUSIVE', users: 'SHARE ROW EXCLUSIVE' },
    false,
  ],
  [
    'create trigger t before update on users for each row execute function touch()',
    { users: 'SHARE ROW EXCLUSIVE' },
    false,
  ],
  ['lock table users in share mode', { users: 'SHARE' }, false],
  ['cluster users using users_pkey', { users: 'ACCESS EXCLUSIVE' }, true],
];

let db: TestDatabase;
let client: pg.Client;
let catalog: Catalog;

beforeAll(async () => {
  await loadParser();
  db = await testDatabase('locks');
  await db.query(SETUP);
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  catalog = await readCatalog(client);
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

/** Strongest lock this backend holds per relation; names resolved with `names` (oid -> name, taken before a DROP). */
async function strongestLocks(names: Map<string, string>): Promise<Map<string, string>> {
  const rows = (
    await client.query<{ oid: string; relation: string; mode: string }>(
      `select relation::int8::text as oid, coalesce(to_regclass(relation::regclass::text)::text, relation::text) as relation, mode
         from pg_locks where pid = pg_backend_pid() and locktype = 'relation' and relation is not null`,
    )
  ).rows.map((row) => ({ ...row, relation: names.get(row.oid) ?? row.relation }));
  const modes = LOCK_MODES.map(pgLockName);
  const out = new Map<string, string>();
  for (const row of rows) {
    const prior = out.get(row.relation);
    if (prior === undefined || modes.indexOf(row.mode) > modes.indexOf(prior)) out.set(row.relation, row.mode);
  }
  return out;
}

describe('readCatalog', () => {
  it('reads column types with their modifiers, constraints, indexes, rows and size', () => {
    const users = catalog.tables.get('public.users')!;
    expect(catalog.serverVersionNum).toBeGreaterThanOrEqual(100000);
    expect(users.columns.map((c) => [c.name, c.typeName, c.mods])).toEqual([
      ['id', 'int4', []],
      ['email', 'text', []],
      ['name', 'varchar', [20]],
      ['balance', 'numeric', [10, 2]],
    ]);
    expect(users.constraints.find((c) => c.name === 'users_id_pos')).toMatchObject({ type: 'c', validated: false });
    expect(users.indexes.map((i) => i.name).sort()).toEqual(['users_email_idx', 'users_pkey']);
    expect(users.estimatedRows).toBe(500);
    expect(users.sizeBytes).toBeGreaterThan(0);
    expect(catalog.indexTables.get('public.users_email_idx')).toBe('public.users');
    expect(catalog.functionVolatility.get('gen_random_uuid')).toBe('v');
    expect(catalog.functionVolatility.get('now')).toBe('s');
  });
});

describe('lock report against pg_locks', () => {
  it.each(CASES)('%s', async (sql, expected, rewrite, filenodeChanges = rewrite) => {
    const [report] = lockReport(parseStatementsSync(sql), {
      pgVersion: catalog.serverVersionNum,
      schema: new SchemaView(catalog),
    });
    const reported = Object.fromEntries(report!.locks.map((l) => [l.relation.replace(/^public\./, ''), l.mode]));
    expect(reported).toEqual(expected);
    expect(report!.rewrite).toBe(rewrite);

    await client.query('begin');
    try {
      const before = (await client.query<{ f: string }>(`select pg_relation_filenode('users')::text as f`)).rows[0]!.f;
      const beforeOrders = (await client.query<{ f: string }>(`select pg_relation_filenode('orders')::text as f`))
        .rows[0]!.f;
      const names = new Map(
        (
          await client.query<{ oid: string; name: string }>(
            `select c.oid::int8::text as oid, c.relname as name from pg_class c
             join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public'`,
          )
        ).rows.map((r) => [r.oid, r.name] as const),
      );
      await client.query(sql);
      const held = await strongestLocks(names);
      for (const [relation, mode] of Object.entries(expected)) {
        // A renamed relation shows under its new name.
        const shown =
          held.get(relation) ?? held.get(sql.includes('rename to') ? sql.split('rename to ')[1]!.trim() : relation);
        expect({ relation, mode: shown }).toEqual({ relation, mode: pgLockName(mode as (typeof LOCK_MODES)[number]) });
      }
      const after = (
        await client.query<{ f: string | null }>(`select pg_relation_filenode(to_regclass('users'))::text as f`)
      ).rows[0]!.f;
      const afterOrders = (
        await client.query<{ f: string | null }>(`select pg_relation_filenode(to_regclass('orders'))::text as f`)
      ).rows[0]!.f;
      const rewritten = (after !== null && after !== before) || (afterOrders !== null && afterOrders !== beforeOrders);
      expect(rewritten).toBe(filenodeChanges);
    } finally {
      await client.query('rollback');
    }
  });

  it('says how big the table is when connected, and that it scans', () => {
    const [report] = lockReport(
      parseStatementsSync(
        'alter table users alter column email set not null;\nalter table users alter column name set not null',
      ),
      {
        pgVersion: 150000,
        schema: new SchemaView(catalog),
      },
    );
    expect(report!.locks[0]).toMatchObject({ relation: 'public.users', estimatedRows: 500 });
    expect(report!.locks[0]!.sizeBytes).toBeGreaterThan(0);
    // email has a validated CHECK (email IS NOT NULL): PostgreSQL 12+ uses it instead of scanning.
    expect(report!.scan).toBe(false);
  });
});
