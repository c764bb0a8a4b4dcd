/**
 * Each test file gets its own database on the run's server (see test/global-setup.ts).
 *
 *   const db = await testDatabase('runner');   // in beforeAll
 *   db.url                                      // postgres:// URL of the fresh database
 *   await db.query('select 1')                  // a query on it (new connection each time)
 *   await db.drop()                             // in afterAll
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  readonly adminUrl: string;
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<T[]>;
  /** Drops and re-creates the database: an empty schema for the next test. */
  reset(): Promise<void>;
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

export async function adminQuery(text: string, values?: unknown[]): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: adminUrl() });
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
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

async function createDatabase(name: string): Promise<void> {
  await adminQuery(`create database "${name}"`);
}

async function dropDatabase(name: string): Promise<void> {
  await adminQuery(`drop database if exists "${name}" with (force)`);
}

/** A fresh database named after the test file's topic (letters, digits and _ only). */
export async function testDatabase(topic: string): Promise<TestDatabase> {
  const name = `tm_${topic.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  await createDatabase(name);
  const url = urlFor(name);
  return {
    name,
    url,
    adminUrl: adminUrl(),
    query: (text, values) => queryUrl(url, text, values),
    async reset() {
      await dropDatabase(name);
      await createDatabase(name);
    },
    drop: () => dropDatabase(name),
  };
}
