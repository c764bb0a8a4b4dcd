/**
 * The varied schema the catalog read's tests read, on the file's own database, with one client on it: what
 * test/db/catalog-read.test.ts pins part by part, and what test/db/catalog-names.test.ts adds its own tables to.
 *
 *   const schema = useCatalogSchema('catalog_read');                 // schema.client, schema.db.query(...)
 *   const schema = useCatalogSchema('catalog_names', 'create ...');  // more objects, made before the ANALYZE
 */
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { useTestDatabase, type TestDatabase } from './db.js';

/**
 * Every kind of object the read reports: an enum and a domain, a second schema with a table of a name public
 * has too, two functions whose names differ only in case, columns with modifiers, arrays, a domain and a dropped
 * one, unique, check (one NOT VALID), primary and foreign keys, plain and unique indexes, a partitioned table and
 * its partition, a mixed-case table and column, a materialized view, a view and a sequence.
 */
export const VARIED_SCHEMA = `
  create type mood as enum ('ok', 'meh');
  create domain posint as int check (value > 0);
  create schema app;
  create function stamp() returns timestamptz language sql volatile as 'select clock_timestamp()';
  create function "Stamp"() returns int language sql immutable as 'select 1';
  create table users (id int primary key, email varchar(100) unique, name varchar(20), status text
                      check (status <> ''), created_at timestamp, mood mood, score int check (score is not null),
                      c char(3), n numeric, arr int[], nums numeric(5,1)[], p posint);
  alter table users drop column c;
  create index users_email_idx on users (email);
  create table orders (id bigint primary key, user_id int references users, total numeric(10,2));
  alter table orders add constraint total_pos check (total > 0) not valid;
  create unique index orders_total_idx on orders (total);
  create table accounts (id int primary key, balance int not null default 0);
  create table events (id bigint, at timestamptz) partition by range (at);
  create table events_2020 partition of events for values from ('2020-01-01') to ('2021-01-01');
  create table app.users (id int);
  create table "MixedCase" (id int, "Col" text);
  create materialized view page_views as select 1 as n;
  create view v as select 1 as n;
  create sequence s;
`;

export interface CatalogSchema {
  readonly db: TestDatabase;
  /** Connected before the file's first test, ended after its last. */
  readonly client: pg.Client;
}

/**
 * The file's database with VARIED_SCHEMA, then `more`, then ANALYZE (the read's row estimates), and a client on
 * it, made before the file's first test and put away after its last.
 */
export function useCatalogSchema(topic: string, more = ''): CatalogSchema {
  const db = useTestDatabase(topic);
  let client: pg.Client | undefined;
  beforeAll(async () => {
    await db.query(`${VARIED_SCHEMA}\n${more}\nanalyze;`);
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  });
  // Registered after useTestDatabase's: vitest runs afterAll hooks in reverse, so the client ends before the drop.
  afterAll(async () => {
    await client?.end();
  });
  return {
    db,
    get client() {
      if (!client) throw new Error(`the catalog schema "${topic}" is made in beforeAll: use it inside a test`);
      return client;
    },
  };
}
