/**
 * Each test file gets its own database on the run's server (see test/global-setup.ts), cloned from the run's
 * empty template database.
 *
 *   const db = await testDatabase('runner');   // in beforeAll
 *   db.url                                      // postgres:// URL of the fresh database
 *   await db.query('select 1')                  // a query on it (new connection each time)
 *   await db.reset()                            // in beforeEach: an empty database under the same name
 *   await db.drop()                             // in afterAll
 *
 * Why clone and rename instead of drop and create: on PostgreSQL 15 every DROP DATABASE forces an immediate
 * checkpoint and waits for it (dbcommands.c, dropdb), which flushes every dirty buffer of the server, other
 * runs' included. That was most of a reset (~200 ms quiet, seconds on a loaded shared server), paid before
 * every test of the CLI files. A reset now renames the used database aside (a catalog update) and clones the
 * template (CREATE DATABASE ... TEMPLATE, WAL-logged, no checkpoint); the run's databases are dropped together
 * at the end of the run (test/global-setup.ts), where concurrent drops share their checkpoints.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, inject } from 'vitest';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  readonly adminUrl: string;
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<T[]>;
  /** Replaces the database with a fresh clone of the empty template, under the same name and URL. */
  reset(): Promise<void>;
  /** Puts the database out of the way (renamed, no connections); the run drops it at the end. */
  drop(): Promise<void>;
}

export function adminUrl(): string {
  return inject('adminUrl');
}

export function urlFor(database: string, base = adminUrl()): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * A short-lived client that reports failures only through its promises. Without a listener, a backend ended
 * under it (a reset terminating the database's sessions while a test that timed out still polls) would be an
 * uncaught 'error' in whichever test file the worker runs next.
 */
function shortLived(url: string): pg.Client {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  return client;
}

export async function adminQuery(text: string, values?: unknown[]): Promise<pg.QueryResult> {
  const client = shortLived(adminUrl());
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

export async function queryUrl<T extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  text: string,
  values?: unknown[],
): Promise<T[]> {
  const client = shortLived(url);
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** `tm_<run>_`: every database of this run starts with it, so the run's teardown finds them all. */
export function runPrefix(): string {
  return inject('databasePrefix');
}

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

async function cloneTemplate(name: string): Promise<void> {
  await adminQuery(`create database ${ident(name)} template ${ident(inject('templateDatabase'))}`);
}

/**
 * Renames `name` to a retired name (the run drops it at its end, with the others: a DROP DATABASE now would
 * wait for a checkpoint of the whole server). ALTER DATABASE RENAME refuses while anyone is connected (55006), and a
 * test may leave a connection behind, or a CLI child may still be closing its own: end them and try again.
 */
export async function retire(name: string): Promise<void> {
  const retired = `${runPrefix()}retired_${randomBytes(6).toString('hex')}`;
  const client = shortLived(adminUrl());
  await client.connect();
  try {
    for (let attempt = 1; ; attempt += 1) {
      await client.query(
        'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
        [name],
      );
      try {
        await client.query(`alter database ${ident(name)} rename to ${ident(retired)}`);
        return;
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === '3D000') return; // already gone (a test dropped it itself)
        if (code !== '55006' || attempt >= 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  } finally {
    await client.end();
  }
}

/** A fresh database named after the test file's topic (letters, digits and _ only). */
export async function testDatabase(topic: string): Promise<TestDatabase> {
  const slug = topic
    .replace(/[^a-z0-9_]/gi, '_')
    .toLowerCase()
    .slice(0, 30);
  const name = `${runPrefix()}${slug}_${randomBytes(4).toString('hex')}`;
  await cloneTemplate(name);
  const url = urlFor(name);
  return {
    name,
    url,
    adminUrl: adminUrl(),
    query: (text, values) => queryUrl(url, text, values),
    async reset() {
      await retire(name);
      await cloneTemplate(name);
    },
    drop: () => retire(name),
  };
}

/**
 * The test file's database, taken before its first test and put away after its last: what nearly every
 * file needs, in one line at the top level (or in a describe, for that block's tests only).
 *
 *   const db = useTestDatabase('runner');                      // db.url, db.query(...), db.reset()
 *   const db = useTestDatabase('runner', { resetEach: true }); // an empty database before every test
 *
 * The handle is usable from the first hook or test on; reading it at the file's top level throws.
 */
export function useTestDatabase(topic: string, options: { resetEach?: boolean } = {}): TestDatabase {
  let db: TestDatabase | undefined;
  const current = (): TestDatabase => {
    if (!db) throw new Error(`the test database "${topic}" is made in beforeAll: use it inside a hook or a test`);
    return db;
  };
  beforeAll(async () => {
    db = await testDatabase(topic);
  });
  afterAll(async () => {
    await db?.drop();
  });
  if (options.resetEach) beforeEach(() => current().reset());
  return {
    get name() {
      return current().name;
    },
    get url() {
      return current().url;
    },
    get adminUrl() {
      return current().adminUrl;
    },
    query: (text, values) => current().query(text, values),
    reset: () => current().reset(),
    drop: () => current().drop(),
  };
}
