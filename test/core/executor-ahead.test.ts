/**
 * The next migration is sent while the one before it runs (core/executor #sendAhead). Whatever way the running
 * one fails, exactly the migrations before it stay applied: nothing of the one sent behind it may run. Each case
 * records what went over the wire, so that it also proves the next migration really was sent before the failure
 * came back (else it would test the one-at-a-time path).
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MigrationFailedError } from '../../src/core/results.js';
import { createMigrator, type MigrationDefinition } from '../../src/index.js';
import { testDatabase, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let client: pg.Client;
/** `sent NNN` when a migration's query is written, `rollback` when ours is, `error` when the server reports one. */
let wire: string[];

beforeAll(async () => {
  db = await testDatabase('executor_ahead');
});
afterAll(async () => {
  await db?.drop();
});

beforeEach(async () => {
  await db.reset();
  await db.query('create sequence probe');
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  wire = [];
  const connection = (client as unknown as { connection: pg.Connection & { stream: NodeJS.WritableStream } })
    .connection;
  const write = connection.stream.write.bind(connection.stream) as (...args: unknown[]) => boolean;
  connection.stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    const text = Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk);
    const version = /tidemark\.migration', '(\d+)'|tidemark\.migration = '(\d+)'/.exec(text);
    if (version) wire.push(`sent ${version[1] ?? version[2]}`);
    else if (/\brollback\b/.test(text)) wire.push('rollback');
    return write(chunk, ...rest);
  }) as typeof connection.stream.write;
  connection.on('errorMessage', () => wire.push('error'));
});

afterEach(async () => {
  await client.end();
});

const ok = (version: string, table: string): MigrationDefinition => ({
  version,
  name: table,
  up: `create table ${table} (id int);\n`,
  down: `drop table ${table};\n`,
});
/** Runs nextval('probe') first: had any of it run, even rolled back, the sequence would show it. */
const probe = (version: string): MigrationDefinition => ({
  version,
  name: 'probe',
  up: "select nextval('probe');\ncreate table probed (id int);\n",
  down: "select nextval('probe');\ndrop table probed;\n",
});

async function applied(): Promise<string[]> {
  const rows = await db.query<{ version: string }>('select version from schema_migrations order by version');
  return rows.map((r) => r.version);
}

async function probeRan(): Promise<boolean> {
  const rows = await db.query<{ called: boolean }>('select is_called as called from probe');
  return rows[0]!.called;
}

async function failedUp(migrations: MigrationDefinition[]): Promise<MigrationFailedError> {
  const error = await createMigrator({ database: client, migrations })
    .up()
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(MigrationFailedError);
  return error as MigrationFailedError;
}

/**
 * The migration after `version` was written behind it, before the executor had handled its failure (its
 * `rollback`): the server had it in hand when `version` failed, so only the server-side checks kept it from running.
 */
function sentBeforeFailure(version: string, next: string): void {
  const at = wire.indexOf(`sent ${version}`);
  expect(at, wire.join(', ')).toBeGreaterThanOrEqual(0);
  const sent = wire.indexOf(`sent ${next}`, at);
  expect(sent, wire.join(', ')).toBeGreaterThan(at);
  expect(sent, wire.join(', ')).toBeLessThan(wire.indexOf('rollback', at));
}

describe('a failure with the next migration already sent', () => {
  it('an error inside the transaction: the earlier ones stay, nothing of the next one runs, the run goes on after a fix', async () => {
    const migrations = [
      ok('001', 'a'),
      ok('002', 'b'),
      { version: '003', name: 'broken', up: 'create table c (id int);\nselect 1 / 0;\n' },
      probe('004'),
      ok('005', 'e'),
    ];
    const error = await failedUp(migrations);
    expect(error.result.applied.map((m) => m.version)).toEqual(['001', '002']);
    expect(error.result.failed).toMatchObject({ version: '003', error: { line: 2, sqlstate: '22012' } });
    expect(error.result.notRun.map((m) => m.version)).toEqual(['004', '005']);
    expect(await applied()).toEqual(['001', '002']);
    expect(await probeRan()).toBe(false);
    sentBeforeFailure('003', '004');
    // The session was rolled back and reset: the same client runs the fixed list to the end.
    migrations[2] = ok('003', 'c');
    const result = await createMigrator({ database: client, migrations }).up();
    expect(result.applied.map((m) => m.version)).toEqual(['003', '004', '005']);
    expect(await applied()).toEqual(['001', '002', '003', '004', '005']);
  });

  it('a syntax error (no transaction was opened): the next one finds it did not commit and runs nothing', async () => {
    const error = await failedUp([
      ok('001', 'a'),
      { version: '002', name: 'typo', up: 'create table b (id int);\ncreat table nope (id int);\n' },
      probe('003'),
    ]);
    expect(error.result.failed).toMatchObject({ version: '002', error: { line: 2, column: 1, sqlstate: '42601' } });
    expect(await applied()).toEqual(['001']);
    expect(await probeRan()).toBe(false);
    sentBeforeFailure('002', '003');
  });

  it('a failure at commit (a deferred constraint): the next one runs nothing', async () => {
    const error = await failedUp([
      ok('001', 'a'),
      {
        version: '002',
        name: 'deferred',
        up:
          'create table parent (id int primary key);\n' +
          'create table child (p int references parent deferrable initially deferred);\n' +
          'insert into child values (1);\n',
      },
      probe('003'),
    ]);
    expect(error.result.failed).toMatchObject({ version: '002', error: { sqlstate: '23503' } });
    expect(await applied()).toEqual(['001']);
    expect(await probeRan()).toBe(false);
    sentBeforeFailure('002', '003');
  });

  it('a file that ends the transaction itself: reported as before, the next one runs nothing', async () => {
    const error = await failedUp([
      ok('001', 'a'),
      { version: '002', name: 'commits', up: 'create table b (id int);\ncommit;\ncreate table b2 (id int);\n' },
      probe('003'),
    ]);
    expect(error.code).toBe('transaction-ended');
    expect(error.message).toMatch(/002_commits ended tidemark's transaction itself/);
    expect(await applied()).toEqual(['001']);
    // Before its COMMIT: committed (as the message says). After it: rolled back with our failed record.
    const tables = await db.query<{ t: string }>(
      "select string_agg(tablename, ',' order by tablename) as t from pg_tables where schemaname = 'public'",
    );
    expect(tables[0]!.t).toBe('a,b,schema_migrations');
    expect(await probeRan()).toBe(false);
    sentBeforeFailure('002', '003');
  });

  it('down: a failing rollback keeps the ones rolled back before it, and nothing of the next rollback runs', async () => {
    const migrations = [
      probe('001'),
      { version: '002', name: 'b', up: 'create table b (id int);\n', down: 'drop table b;\nselect 1 / 0;\n' },
      ok('003', 'c'),
      ok('004', 'd'),
    ];
    await createMigrator({ database: client, migrations }).up();
    await db.query('alter sequence probe restart');
    wire = [];
    const error = (await createMigrator({ database: client, migrations })
      .down({ all: true })
      .catch((e: unknown) => e)) as MigrationFailedError;
    expect(error).toBeInstanceOf(MigrationFailedError);
    expect(error.result.applied.map((m) => m.version)).toEqual(['004', '003']);
    expect(error.result.failed?.version).toBe('002');
    expect(await applied()).toEqual(['001', '002']);
    expect(await probeRan()).toBe(false);
    sentBeforeFailure('002', '001');
  });

  it('a lock timeout with the next one sent: the retry applies both, each once', async () => {
    await createMigrator({ database: client, migrations: [ok('001', 'a')] }).up();
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    try {
      await blocker.query('begin');
      await blocker.query('lock table a in access share mode');
      wire = [];
      const run = createMigrator({
        database: client,
        migrations: [
          ok('001', 'a'),
          { version: '002', name: 'alter_a', up: 'alter table a add column x int;\n' },
          probe('003'),
        ],
        timeouts: { lockWaitSeconds: 0.1 },
        lockRetries: 20,
      }).up();
      // Let the first attempt of 002 time out (the probe sent behind it fails with it), then let go.
      await expect.poll(() => wire.filter((w) => w === 'error').length, { timeout: 10_000 }).toBeGreaterThan(1);
      await blocker.query('rollback');
      const result = await run;
      expect(result.applied.map((m) => m.version)).toEqual(['002', '003']);
    } finally {
      await blocker.end();
    }
    expect(await applied()).toEqual(['001', '002', '003']);
    expect((await db.query<{ n: string }>('select last_value as n from probe'))[0]!.n).toBe('1');
    sentBeforeFailure('002', '003');
  });
});

describe('what each migration sent ahead runs under', () => {
  it("its own timeouts and marker, and the server's watch on the session, whatever the migration before it SET", async () => {
    const seen = (version: string): MigrationDefinition => ({
      version,
      name: `seen_${version}`,
      up:
        `insert into seen select '${version}', current_setting('tidemark.migration'), current_setting('statement_timeout'), ` +
        `current_setting('lock_timeout'), current_setting('client_connection_check_interval');\n`,
    });
    await db.query(
      'create table seen (version text, marker text, statement_timeout text, lock_timeout text, check_interval text)',
    );
    const migrations = [
      seen('001'),
      // Session-level settings in a file: `reset all` before its commit undoes them, and the watch is set again.
      { version: '002', name: 'sets', up: "set client_connection_check_interval = 0;\nset lock_timeout = '7s';\n" },
      seen('003'),
      seen('004'),
    ];
    const result = await createMigrator({
      database: client,
      migrations,
      timeouts: { statementMs: 12_345, lockWaitSeconds: 5, migrationSeconds: 60 },
    }).up();
    expect(result.applied.map((m) => m.version)).toEqual(['001', '002', '003', '004']);
    const rows = await db.query<{ version: string }>('select * from seen order by version');
    expect(rows).toEqual(
      ['001', '003', '004'].map((version) => ({
        version,
        marker: version,
        statement_timeout: '12345ms',
        lock_timeout: expect.stringMatching(/ms$/),
        check_interval: '1s',
      })),
    );
    // Each one's lock_timeout is its first attempt's (the file's session-level 7s never reached them).
    expect(new Set(rows.map((r) => (r as { lock_timeout?: string }).lock_timeout)).size).toBe(1);
    expect(wire.filter((w) => w.startsWith('sent')).length).toBe(4);
  });
});
