/** The catalog snapshot against a real PostgreSQL: what it holds, what it leaves out, and that it is stable. */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeChange, diffSnapshots } from '../../src/schema/diff.js';
import { IncrementalSnapshot } from '../../src/schema/incremental.js';
import { snapshotSchema, type SchemaSnapshot } from '../../src/schema/snapshot.js';
import { adminQuery, testDatabase, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let client: pg.Client;
const tracking = { schema: 'public', table: 'schema_migrations' };
// Roles are cluster-wide: a name of this run's own.
const reader = `tm_reader_${process.pid}`;
const take = (grants = true) => snapshotSchema(client, { trackingTable: tracking, grants });

beforeAll(async () => {
  db = await testDatabase('schema_snapshot');
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  await client.query(`
    create extension if not exists pgcrypto;
    create schema app;
    comment on schema app is 'the app';
    create type app.mood as enum ('happy', 'sad');
    create domain app.email as text check (value like '%@%');
    create table app.users (
      id bigint generated always as identity primary key,
      email app.email not null unique,
      mood app.mood default 'happy',
      name text collate "C",
      lower_name text generated always as (lower(name)) stored,
      title text
    );
    comment on column app.users.email is 'login';
    create index users_name_idx on app.users (name desc nulls last) include (mood) where name is not null;
    create index users_lower_idx on app.users (lower(email));
    create function app.touch() returns trigger language plpgsql as $$ begin return new; end $$;
    create trigger users_touch before update on app.users for each row execute function app.touch();
    alter table app.users enable row level security;
    create policy own on app.users using (name = current_user);
    create view app.recent as select id from app.users where now() > '2024-01-01'::timestamp;
    create view app.frozen as select 1 as one where now() > 'now'::timestamp;
    create materialized view app.counts as select count(*) as n from app.users;
    create sequence app.tickets start 100 increment 5;
    create role ${reader};
    grant select on app.users to ${reader};
    revoke execute on function app.touch() from public;
    -- tidemark's own tables: never part of a snapshot, nor their sequences and indexes.
    create table schema_migrations (version text primary key, name text);
    create table db_backups (id bigserial primary key, file_name text);
    create table schema_migrations_repairs (id bigserial primary key, version text);
  `);
});

afterAll(async () => {
  // The role holds grants in this database: revoke them here, so that it can be dropped whatever becomes of the database.
  await client.query(`drop owned by ${reader}`);
  await client.end();
  await db.drop();
  await adminQuery(`drop role if exists ${reader}`);
});

function names(s: SchemaSnapshot): string[] {
  return Object.keys(s.objects).sort();
}

describe('snapshotSchema', () => {
  it('reads every kind of object the comparison needs', async () => {
    const s = await take();
    const keys = names(s);
    for (const key of [
      'schema:app',
      'extension:pgcrypto',
      'enum:app.mood',
      'domain:app.email',
      'table:app.users',
      'column:app.users.email',
      'constraint:app.users.users_pkey',
      'index:app.users_name_idx',
      'index:app.users_lower_idx',
      'function:app.touch()',
      'trigger:app.users.users_touch',
      'policy:app.users.own',
      'view:app.recent',
      'materialized view:app.counts',
      'sequence:app.tickets',
      'sequence:app.users_id_seq',
    ]) {
      expect(keys).toContain(key);
    }
    expect(s.objects['enum:app.mood']!.props.values).toBe("'happy', 'sad'");
    expect(s.objects['domain:app.email']!.props.checks).toMatch(/CHECK \(\(VALUE ~~ '%@%'::text\)\)/);
    expect(s.objects['column:app.users.id']!.props).toMatchObject({ type: 'bigint', 'not null': true, identity: 'a' });
    expect(s.objects['column:app.users.email']!.props).toMatchObject({ type: 'app.email', comment: 'login' });
    expect(s.objects['column:app.users.name']!.props.collation).toBe('C');
    expect(s.objects['column:app.users.lower_name']!.props.generated).toBe('lower(name)');
    expect(s.objects['index:app.users_name_idx']!.props.definition).toBe(
      'USING btree (name DESC NULLS LAST) INCLUDE (mood) WHERE (name IS NOT NULL)',
    );
    expect(s.objects['index:app.users_lower_idx']!.props).toMatchObject({
      definition: 'USING btree (expression)',
      expressions: 'lower((email)::text)',
    });
    expect(s.objects['table:app.users']!.props['row level security']).toBe('enabled');
    expect(s.objects['table:app.users']!.props.grants).toBe(`${reader}=SELECT`);
    expect(s.objects['function:app.touch()']!.props.grants ?? null).toBeNull();
    expect(s.objects['schema:app']!.props.comment).toBe('the app');
    expect(s.objects['sequence:app.tickets']!.props).toMatchObject({ start: '100', increment: '5' });
    expect(s.columnOrder['table:app.users']).toEqual(['id', 'email', 'mood', 'name', 'lower_name', 'title']);
  });

  it("leaves out tidemark's tables with their sequences and indexes, and extension members", async () => {
    const keys = names(await take());
    expect(keys.filter((k) => /schema_migrations|db_backups/.test(k))).toEqual([]);
    // pgcrypto's functions belong to the extension.
    expect(keys.filter((k) => k.includes('gen_random_bytes'))).toEqual([]);
  });

  it("is the same twice, including a view that folded 'now' into its definition", async () => {
    const first = await take();
    await client.query(`create or replace view app.frozen as select 1 as one where now() > 'now'::timestamp`);
    const second = await take();
    expect(String(first.objects['view:app.frozen']!.props.definition)).toContain("'<volatile>'::timestamp");
    expect(diffSnapshots(first, second).changes.map(describeChange)).toEqual([]);
  });

  it('sees a changed column, a dropped index and an enum re-created in another order', async () => {
    const before = await take();
    await client.query(`
      drop index app.users_lower_idx;
      alter table app.users alter column title type varchar(20);
      alter table app.users alter column mood drop default;
      alter table app.users alter column mood type text;
      drop type app.mood;
      create type app.mood as enum ('sad', 'happy');
    `);
    const after = await take();
    const lines = diffSnapshots(before, after).changes.map(describeChange);
    expect(lines).toContain('missing index app.users_lower_idx');
    expect(lines).toContain("changed enum app.mood: values 'happy', 'sad' -> 'sad', 'happy'");
    expect(lines.find((l) => l.startsWith('changed column app.users.title'))).toContain(
      'type text -> character varying(20)',
    );
    expect(lines.find((l) => l.startsWith('changed column app.users.mood'))).toContain(
      "default 'happy'::app.mood -> (none)",
    );
  });

  // The indexes query returns the keys raw (attnums, opclasses, options) and the definition is written from
  // the columns query's rows: every way a key can read, against the text the SQL-built definition had.
  it('writes index definitions (quoted, renamed and dropped columns, opclasses, orders, INCLUDE, WHERE, a materialized view) and owning columns', async () => {
    await client.query(`
      create schema "Idx Cases";
      create table "Idx Cases"."T" (id int, gone int, "Select" text, "user" text, v text, ts timestamptz, n numeric,
                                    unique nulls not distinct (v));
      alter table "Idx Cases"."T" drop column gone;
      alter table "Idx Cases"."T" add column later int;
      create index t_wide on "Idx Cases"."T" ("Select" text_pattern_ops desc nulls last, "user" nulls first, lower(v), id)
        include (later, n) where id > 0;
      create index t_hash on "Idx Cases"."T" using hash (v);
      create index t_expr on "Idx Cases"."T" (ts desc, (n + 1) desc nulls last);
      alter table "Idx Cases"."T" rename column v to "v renamed";
      create materialized view "Idx Cases".mv as select id, "Select" as s from "Idx Cases"."T";
      create unique index mv_key on "Idx Cases".mv (s varchar_pattern_ops, id);
      create table "Idx Cases".g (r int4range);
      create index g_r on "Idx Cases".g using gist (r range_ops);
      create sequence "Idx Cases"."S q" owned by "Idx Cases"."T"."Select";
    `);
    try {
      const s = await take();
      const def = (name: string) => s.objects[`index:"Idx Cases".${name}`]?.props;
      expect(def('"T_v_key"')).toEqual({
        definition: 'UNIQUE USING btree ("v renamed") NULLS NOT DISTINCT',
        valid: true,
      });
      expect(def('t_wide')).toEqual({
        definition:
          'USING btree ("Select" text_pattern_ops DESC NULLS LAST, "user" NULLS FIRST, expression, id) INCLUDE (later, n) WHERE (id > 0)',
        expressions: 'lower("v renamed")',
        valid: true,
      });
      expect(def('t_hash')).toEqual({ definition: 'USING hash ("v renamed")', valid: true });
      expect(def('t_expr')).toEqual({
        definition: 'USING btree (ts DESC, expression DESC NULLS LAST)',
        expressions: '(n + (1)::numeric)',
        valid: true,
      });
      expect(def('mv_key')).toEqual({ definition: 'UNIQUE USING btree (s varchar_pattern_ops, id)', valid: true });
      expect(s.objects['index:"Idx Cases".mv_key']!.parent).toBe('materialized view:"Idx Cases".mv');
      expect(def('g_r')).toEqual({ definition: 'USING gist (r)', valid: true });
      // A materialized view's columns name its indexes' keys; they are not objects of their own.
      expect(names(s).filter((k) => k.startsWith('column:"Idx Cases".mv'))).toEqual([]);
      expect(s.columnOrder['materialized view:"Idx Cases".mv']).toBeUndefined();
      // The owning column's name comes from pg_identify_object: quoted and qualified the same way.
      expect(s.objects['sequence:"Idx Cases"."S q"']!.props['owned by']).toBe('"Idx Cases"."T"."Select"');
      expect(s.columnOrder['table:"Idx Cases"."T"']).toEqual([
        'id',
        '"Select"',
        '"user"',
        '"v renamed"',
        'ts',
        'n',
        'later',
      ]);
    } finally {
      await client.query('drop schema "Idx Cases" cascade');
    }
  });

  it('leaves grants out when asked to', async () => {
    const s = await take(false);
    expect(s.objects['table:app.users']!.props.grants).toBeUndefined();
  });

  /** Every kind of change a migration makes: after each, the kept snapshot equals a whole one. */
  const CHANGES = [
    'create table app.extra (id int primary key, note text)',
    'create index extra_note_idx on app.extra (note)',
    "comment on index app.extra_note_idx is 'for search'",
    'drop index app.extra_note_idx',
    'alter table app.extra drop column note',
    'alter table app.extra add column note varchar(10) not null default $$x$$',
    "comment on constraint extra_pkey on app.extra is 'the key'",
    `grant insert on app.extra to ${reader}`,
    `grant update (note) on app.extra to ${reader}`,
    `revoke insert on app.extra from ${reader}`,
    'create or replace function app.touch() returns trigger language plpgsql as $$ begin return old; end $$',
    "alter type app.mood add value if not exists 'meh'",
    "alter type app.mood rename value 'meh' to 'fine'",
    'drop trigger users_touch on app.users',
    'drop policy own on app.users',
    'create policy mine on app.users using (true)',
    "comment on policy mine on app.users is 'everyone'",
    'create sequence app.counter',
    'alter sequence app.counter owned by app.extra.id',
    'create or replace view app.recent as select id, name from app.users',
    'create table app.child (id int primary key, extra_id int references app.extra (id))',
    'create view app.child_view as select c.id from app.child c join app.extra e on e.id = c.extra_id',
    'alter table app.extra rename to extra2',
    'alter table app.extra2 rename column id to ident',
    'alter table app.extra2 drop constraint extra_pkey cascade',
    'create function app.twice(i int) returns int language sql immutable as $$ select i * 2 $$',
    'alter table app.child add column doubled int default app.twice(1)',
    'alter function app.twice(int) rename to double_it',
    'drop function app.double_it(int) cascade',
    'create rule child_log as on delete to app.child do also notify child_deleted',
    "comment on rule child_log on app.child is 'tell'",
    'alter table app.child disable rule child_log',
    'drop rule child_log on app.child',
    'create table app.parts (id int, at date) partition by range (at)',
    "create table app.parts_2024 partition of app.parts for values from ('2024-01-01') to ('2025-01-01')",
    'create index parts_at_idx on app.parts (at)',
    'alter table app.parts add column note text',
    'create materialized view app.part_notes as select at, note from app.parts',
    'create index part_notes_idx on app.part_notes (note text_pattern_ops desc, at) where note is not null',
    'alter table app.parts rename column at to on_day',
    'create index parts_note_idx on app.parts (note nulls first) include (on_day)',
    'alter table app.parts rename column note to remark',
    'drop materialized view app.part_notes',
    'alter table app.parts detach partition app.parts_2024',
    "alter table app.parts attach partition app.parts_2024 for values from ('2024-01-01') to ('2025-01-01')",
    'create type app.pair as (a int, b text)',
    'alter type app.pair add attribute c date',
    'create table app.pairs (p app.pair)',
    'alter type app.pair rename to couple',
    'alter domain app.email add constraint short check (length(value) < 200)',
    'alter domain app.email drop constraint short',
    `alter default privileges in schema app grant select on tables to ${reader}`,
    `alter default privileges in schema app revoke select on tables from ${reader}`,
    'create function app.on_ddl() returns event_trigger language plpgsql as $$ begin end $$',
    'create event trigger app_on_ddl on ddl_command_start execute function app.on_ddl()',
    'alter event trigger app_on_ddl disable',
    'drop event trigger app_on_ddl',
    'create schema other',
    'create table other.t (id int)',
    'create view app.over_other as select id from other.t',
    'alter schema other rename to elsewhere',
    'drop schema elsewhere cascade',
    'drop table app.extra2 cascade',
    // Back to the start, so that the next strategy's case runs the same changes.
    'drop table app.child, app.pairs, app.parts cascade',
    'drop type app.couple',
    "alter type app.mood rename value 'fine' to 'meh'",
    'drop policy mine on app.users',
    'create policy own on app.users using (name = current_user)',
    'create trigger users_touch before update on app.users for each row execute function app.touch()',
    'drop function app.on_ddl()',
  ];

  for (const strategy of ['watch', 'census'] as const) {
    it(`kept up to date incrementally (${strategy}), equals a whole snapshot after every kind of change`, async () => {
      const incremental = new IncrementalSnapshot(client, { trackingTable: tracking }, strategy);
      try {
        await incremental.take();
        expect(incremental.strategy).toBe(strategy);
        for (const sql of CHANGES) {
          await client.query(sql);
          const [kept, whole] = [await incremental.take(), await take()];
          expect(diffSnapshots(whole, kept).changes.map(describeChange), sql).toEqual([]);
          expect(diffSnapshots(whole, kept).columnOrder, sql).toEqual([]);
        }
      } finally {
        await incremental.close();
      }
    });
  }
});
