/** The shared database helpers: the one transaction helper, the catalog reads, the one connect path. */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClient } from '../../src/backup/session.js';
import { connect } from '../../src/db/connection.js';
import { HistoryStore } from '../../src/db/history.js';
import { serverVersionNum, tableColumns } from '../../src/db/introspect.js';
import { paramsFromUrl, withDatabase } from '../../src/db/params.js';
import { inTransaction } from '../../src/db/transaction.js';
import { MigrateError } from '../../src/errors.js';
import { testDatabase, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  db = await testDatabase('db_layer');
  client = await connect(paramsFromUrl(db.url));
  await client.query(`
    create schema other;
    create table other.t (id int not null, label varchar(20));
    alter table other.t drop column label;
    alter table other.t add column note text;
    create table no_columns ();
    create table history (version text primary key);
    insert into history values ('2'), ('010'), ('x9');
  `);
});
afterAll(async () => {
  await client.end();
  await db.drop();
});

describe('inTransaction', () => {
  it('commits the work and returns its value', async () => {
    const value = await inTransaction(client, async () => {
      await client.query('create table kept (id int)');
      return 42;
    });
    expect(value).toBe(42);
    expect((await client.query(`select to_regclass('kept')::text as t`)).rows[0].t).toBe('kept');
  });

  it('rolls back and rethrows the error of the work', async () => {
    const error = await inTransaction(client, async () => {
      await client.query('create table gone (id int)');
      throw new Error('boom');
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('boom');
    expect((await client.query(`select to_regclass('gone') as t`)).rows[0].t).toBeNull();
    // The connection is usable again: no transaction left open.
    expect((await client.query('select 1 as one')).rows[0].one).toBe(1);
  });

  it('rolls back a rehearsal that succeeded, and honours the BEGIN mode', async () => {
    await inTransaction(client, () => client.query('create table rehearsed (id int)'), { rollback: true });
    expect((await client.query(`select to_regclass('rehearsed') as t`)).rows[0].t).toBeNull();
    const error = await inTransaction(client, () => client.query('create table ro (id int)'), {
      mode: 'read only',
    }).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('25006');
  });
});

describe('catalog reads', () => {
  it('tableColumns: names and types in column order, dropped columns left out', async () => {
    expect(await tableColumns(client, { schema: 'other', table: 't' })).toEqual(
      new Map([
        ['id', 'integer'],
        ['note', 'text'],
      ]),
    );
  });

  it('tableColumns: an empty map for a table without columns, undefined for no table', async () => {
    expect(await tableColumns(client, { schema: 'public', table: 'no_columns' })).toEqual(new Map());
    expect(await tableColumns(client, { schema: 'public', table: 'missing' })).toBeUndefined();
  });

  it('serverVersionNum reads the server version as a number', async () => {
    const num = await serverVersionNum(client);
    expect(num).toBeGreaterThanOrEqual(100000);
    expect(String(num)).toBe((await client.query(`show server_version_num`)).rows[0].server_version_num);
  });

  it('the history store reads the newest numeric version, or null without a table', async () => {
    expect(await new HistoryStore(client, { schema: 'public', table: 'history' }).latestVersion()).toBe('010');
    expect(await new HistoryStore(client, { schema: 'public', table: 'absent' }).latestVersion()).toBeNull();
  });
});

describe('one connect path', () => {
  it('explains a missing database the same way for the runner and the backup module', async () => {
    const params = withDatabase(paramsFromUrl(db.url), 'tidemark_no_such_db');
    const runner = (await connect(params).catch((e: unknown) => e)) as MigrateError;
    const backup = (await openClient(params).catch((e: unknown) => e)) as MigrateError;
    expect(runner).toBeInstanceOf(MigrateError);
    expect([backup.code, backup.exitCode, backup.message]).toEqual([runner.code, runner.exitCode, runner.message]);
    expect(runner.code).toBe('db-not-found');
  });
});
