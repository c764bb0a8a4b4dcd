/**
 * `-- migrate:no-transaction` end to end: statements run one by one outside a transaction, the row is dirty
 * while they run, a failure names its statement and what already ran, and a failed concurrent index build
 * is named with the statement that drops it.
 */
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { invalidIndexFilterOf } from '../../src/core/invalid-index.js';
import { loadParser } from '../../src/sql/parser.js';
import { useTestDatabase } from '../helpers/db.js';
import { makeProject, runCli, writeFiles } from '../helpers/project.js';

const db = useTestDatabase('no_transaction', { resetEach: true });

function cli(dir: string, args: string[], env: Record<string, string> = {}) {
  return runCli(args, { cwd: dir, env: { DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false', ...env } });
}

const TABLE = {
  'migrations/001_items.sql':
    "create table items (id int primary key, sku text, kind text);\ninsert into items select g, 'sku' || g, 'a' from generate_series(1, 1000) g;\n",
  'rollback/001_items_rollback.sql': 'drop table items;\n',
};

async function row(version: string) {
  const rows = await db.query<{ dirty: boolean; checksum: string }>(
    'select dirty, checksum from schema_migrations where version = $1',
    [version],
  );
  return rows[0];
}

async function indexValid(name: string): Promise<boolean | undefined> {
  const rows = await db.query<{ valid: boolean }>(
    'select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = $1',
    [name],
  );
  return rows[0]?.valid;
}

describe('-- migrate:no-transaction', () => {
  it('runs CREATE INDEX CONCURRENTLY and a function whose $$ body holds semicolons, each on its own, and leaves the row clean', async () => {
    const dir = makeProject({
      ...TABLE,
      'migrations/002_concurrently.sql': `-- migrate:no-transaction
create index concurrently items_sku_idx on items (sku);

create function item_count(k text) returns bigint language plpgsql as $$
declare
  n bigint;
begin
  select count(*) into n from items where kind = k; -- a ; inside the body
  return n;
end;
$$;

create function label(i int) returns text language sql as $fn$ select 'item;' || i; $fn$;
comment on index items_sku_idx is 'built concurrently; outside a transaction';
`,
    });
    const result = await cli(dir, ['up', '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).applied.map((m: { version: string }) => m.version)).toEqual(['001', '002']);
    expect(await indexValid('items_sku_idx')).toBe(true);
    expect(await db.query<{ n: string }>("select item_count('a')::text as n")).toEqual([{ n: '1000' }]);
    expect(await db.query<{ l: string }>('select label(7) as l')).toEqual([{ l: 'item;7' }]);
    expect(await db.query<{ d: string }>("select obj_description('items_sku_idx'::regclass) as d")).toEqual([
      { d: 'built concurrently; outside a transaction' },
    ]);
    expect(await row('002')).toMatchObject({ dirty: false });

    const verify = await cli(dir, ['verify', '--allow-missing-rollback', '--json']);
    expect(JSON.parse(verify.stdout).findings).toMatchObject([{ code: 'rollback-missing', severity: 'warning' }]);
  });

  it('on a failure in the middle: exit 1, the row stays dirty, the statement is named by file:line, earlier ones reported', async () => {
    const dir = makeProject({
      ...TABLE,
      'migrations/002_steps.sql': `-- migrate:no-transaction
create table step_one (id int);
insert into step_one values (1);

insert into step_one values ('not a number');
create table step_four (id int);
`,
    });
    const result = await cli(dir, ['up']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/002_steps failed at migrations\/002_steps\.sql:5:30/);
    expect(result.stderr).toMatch(/22P02/);
    expect(result.stderr).toMatch(/\(statement 3 of 4 in the file\)/);
    expect(result.stderr).toMatch(/Statements of 002_steps that ran and stay: line 2, line 3/);
    expect(result.stderr).toMatch(/marked dirty.*run migrate up again: it resumes at statement 3/);
    expect(await row('002')).toMatchObject({ dirty: true });
    expect(await db.query('select id from step_one')).toEqual([{ id: 1 }]);
    expect(await db.query("select 1 from pg_tables where tablename = 'step_four'")).toEqual([]);

    // The same facts as JSON; the next run resumes at the failed statement (and fails the same way: the file
    // was not fixed), and verify reports the dirty row.
    await db.query("delete from schema_migrations where version = '002'");
    await db.query('drop table step_one');
    const json = await cli(dir, ['up', '--json']);
    expect(json.code, json.stderr).toBe(1);
    const failed = JSON.parse(json.stdout).result.failed;
    expect(failed).toMatchObject({
      version: '002',
      dirty: true,
      error: { line: 5, statement: 3, statements: 4, sqlstate: '22P02' },
    });
    expect(failed.statementsRun.map((s: { line: number }) => s.line)).toEqual([2, 3]);
    const again = await cli(dir, ['up']);
    expect(again.code, again.stderr).toBe(1);
    expect(again.stderr).toMatch(/Resuming 002_steps at statement 3 of 4: statements 1-2 ran before and stay/);
    expect(again.stderr).toMatch(/\(statement 3 of 4 in the file\)/);
    expect(await db.query('select id from step_one')).toEqual([{ id: 1 }]);
    const verify = await cli(dir, ['verify', '--json']);
    expect(verify.code, verify.stderr).toBe(1);
    expect(JSON.parse(verify.stdout).findings).toContainEqual(
      expect.objectContaining({ code: 'dirty', version: '002', file: 'migrations/002_steps.sql' }),
    );
  });

  it('names the INVALID index a failed CREATE INDEX CONCURRENTLY leaves, and how to drop it', async () => {
    // An unrelated INVALID index made before the run must not be blamed on this migration.
    await db.query('create table other (v int); insert into other values (1), (1);');
    await expect(db.query('create unique index concurrently other_v_key on other (v)')).rejects.toThrow(
      /could not create unique index/,
    );
    expect(await indexValid('other_v_key')).toBe(false);

    const dir = makeProject({
      ...TABLE,
      'migrations/002_unique_kind.sql': `-- migrate:no-transaction
create index concurrently items_sku_idx on items (sku);
create unique index concurrently items_kind_key on items (kind);
`,
    });
    const result = await cli(dir, ['up']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/002_unique_kind failed at migrations\/002_unique_kind\.sql:3:1/);
    expect(result.stderr).toMatch(/INVALID index it left, public\.items_kind_key/);
    expect(result.stderr).toContain('DROP INDEX CONCURRENTLY IF EXISTS "public"."items_kind_key";');
    expect(result.stderr).not.toMatch(/other_v_key/);
    expect(result.stderr).toMatch(/Statements of 002_unique_kind that ran and stay: line 2/);
    expect(await indexValid('items_kind_key')).toBe(false);
    expect(await indexValid('items_sku_idx')).toBe(true);

    // The statement from the hint does what it says.
    await db.query('DROP INDEX CONCURRENTLY IF EXISTS "public"."items_kind_key";');
    expect(await indexValid('items_kind_key')).toBeUndefined();
  });

  it('names the generated name of a failed unnamed concurrent index, as JSON too', async () => {
    const dir = makeProject({
      ...TABLE,
      'migrations/002_unnamed.sql': '-- migrate:no-transaction\ncreate unique index concurrently on items (kind);\n',
    });
    const result = await cli(dir, ['up', '--json']);
    expect(result.code, result.stderr).toBe(1);
    const doc = JSON.parse(result.stdout);
    expect(doc.error.message).toMatch(/INVALID index behind: public\.items_kind_idx/);
    expect(doc.error.hint).toContain('DROP INDEX CONCURRENTLY IF EXISTS "public"."items_kind_idx";');
    expect(doc.result.failed).toMatchObject({ dirty: true, statementsRun: [] });
  });

  // CONCURRENTLY statements run without lock_timeout (their lock never queues the application; see
  // core/executor #runStatements): MIGRATION_TIMEOUT is what cuts a stuck one short.
  it('names the _ccnew copy a REINDEX CONCURRENTLY cut short by MIGRATION_TIMEOUT leaves', async () => {
    const dir = makeProject({ ...TABLE, 'migrations/002_index.sql': 'create index items_sku_idx on items (sku);\n' });
    expect((await cli(dir, ['up'])).code).toBe(0);
    writeFiles(dir, {
      'migrations/003_reindex.sql': '-- migrate:no-transaction\nreindex index concurrently items_sku_idx;\n',
    });
    const writer = new pg.Client({ connectionString: db.url });
    await writer.connect();
    try {
      await writer.query('begin');
      await writer.query("insert into items values (0, 'held')");
      const result = await cli(dir, ['up'], { MAX_LOCK_WAIT: '0.1', MIGRATION_TIMEOUT: '2' });
      expect(result.code, result.stderr).toBe(3);
      expect(result.stderr).toMatch(/MIGRATION_TIMEOUT/);
      expect(result.stderr).toMatch(/INVALID index it left, public\.items_sku_idx_ccnew/);
      expect(result.stderr).toContain('DROP INDEX CONCURRENTLY IF EXISTS "public"."items_sku_idx_ccnew";');
      expect(await indexValid('items_sku_idx_ccnew')).toBe(false);
      expect(await indexValid('items_sku_idx')).toBe(true);
    } finally {
      await writer.query('rollback').catch(() => {});
      await writer.end();
    }
  });

  it('does not mention indexes when a plain statement fails', async () => {
    const dir = makeProject({
      ...TABLE,
      'migrations/002_bad.sql': '-- migrate:no-transaction\ncreate index concurrently on items (nope);\n',
    });
    const result = await cli(dir, ['up']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/column "nope" does not exist/);
    expect(result.stderr).not.toMatch(/INVALID/);
  });
});

describe('invalidIndexFilterOf (pure)', () => {
  beforeAll(async () => {
    await loadParser();
  });

  it('asks about the named index, or the table of an unnamed one, of CREATE INDEX CONCURRENTLY', () => {
    expect(invalidIndexFilterOf('create unique index concurrently if not exists "Idx" on shop.orders (x)')).toEqual({
      table: '"shop"."orders"',
      name: 'Idx',
    });
    expect(invalidIndexFilterOf('CREATE INDEX CONCURRENTLY ON "Orders" (x)')).toEqual({
      table: '"Orders"',
      name: undefined,
    });
  });

  it("asks about REINDEX CONCURRENTLY's _ccnew copies", () => {
    expect(invalidIndexFilterOf('reindex index concurrently shop.i')).toEqual({ namePattern: '^i_ccnew[0-9]*$' });
    expect(invalidIndexFilterOf('reindex table concurrently orders')).toEqual({
      table: '"orders"',
      namePattern: '_ccnew[0-9]*$',
    });
  });

  it('asks nothing for statements that cannot leave an INVALID index', () => {
    expect(invalidIndexFilterOf('create index i on t (x)')).toBeUndefined();
    expect(invalidIndexFilterOf("insert into t values ('concurrently')")).toBeUndefined();
    expect(invalidIndexFilterOf('reindex index i')).toBeUndefined();
  });
});
