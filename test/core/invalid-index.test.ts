/**
 * Two runners at once while one builds an index concurrently. CREATE INDEX CONCURRENTLY waits for every
 * transaction whose snapshot is older than its own; a second runner blocked inside pg_advisory_lock() holds
 * such a snapshot while it waits for the first runner's lock, so the two would wait for each other. tidemark's
 * waiters poll pg_try_advisory_lock between idle periods instead (src/db/lock.ts). Real processes, real server.
 */
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { lockKey } from '../../src/db/lock.js';
import { useTestDatabase } from '../helpers/db.js';
import { makeProject, runCli, type CliResult } from '../helpers/project.js';
import { until } from '../helpers/until.js';

const db = useTestDatabase('concurrent_index');

/**
 * A project of two files, a table of 5000 rows and a CREATE INDEX CONCURRENTLY on it, with the table applied;
 * `env` runs the CLI on the file's database.
 */
async function itemsAtVersion1(): Promise<{ dir: string; env: Record<string, string> }> {
  const dir = makeProject({
    'migrations/001_items.sql':
      "create table items (id int primary key, sku text);\ninsert into items select g, 'sku' || g from generate_series(1, 5000) g;\n",
    'migrations/002_items_sku.sql':
      '-- migrate:no-transaction\ncreate index concurrently items_sku_idx on items (sku);\n',
  });
  // MAX_LOCK_WAIT bounds how long the build may wait for other sessions; the tests make it wait on purpose.
  const env = { DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false', MAX_LOCK_WAIT: '120' };
  expect((await runCli(['up', '--to', '1'], { cwd: dir, env })).code).toBe(0);
  return { dir, env };
}

describe('two runners and CREATE INDEX CONCURRENTLY', () => {
  it('the waiting runner does not hold up the build: A finishes, B then exits 0 with nothing to do', async () => {
    const { dir, env } = await itemsAtVersion1();

    // A session in the middle of a write: the concurrent build must wait for it, which keeps runner A busy
    // (and holding the runner lock) for as long as the test wants.
    const writer = new pg.Client({ connectionString: db.url });
    await writer.connect();
    let a: Promise<CliResult> | undefined;
    let b: Promise<CliResult> | undefined;
    let bChild: ChildProcess | undefined;
    try {
      await writer.query('begin');
      await writer.query("insert into items values (0, 'held')");

      a = runCli(['up'], { cwd: dir, env, timeoutMs: 90_000, spawn: true });
      const buildPid = await until('runner A to start building the index', async () => {
        const rows = await db.query<{ pid: number }>(
          "select pid from pg_stat_activity where datname = current_database() and query ilike 'create index concurrently%' and wait_event_type = 'Lock'",
        );
        return rows[0]?.pid;
      });

      let bStderr = '';
      b = runCli(['up', '--wait', '60'], {
        cwd: dir,
        env,
        timeoutMs: 90_000,
        onSpawn: (child) => {
          bChild = child;
          child.stderr?.on('data', (d) => (bStderr += d));
        },
      });
      await until('runner B to wait for the runner lock', () => /Waiting for the runner lock/.test(bStderr));
      expect(bChild).toBeDefined();
      // Let B poll a few times while the build is still in progress.
      await new Promise((r) => setTimeout(r, 1500));
      const stillBuilding = await db.query('select 1 from pg_stat_activity where pid = $1 and query ilike $2', [
        buildPid,
        'create index concurrently%',
      ]);
      expect(stillBuilding).toHaveLength(1);

      await writer.query('commit');
    } finally {
      await writer.end().catch(() => {});
    }

    const resultA = await a!;
    expect(resultA.code, resultA.stderr).toBe(0);
    expect(resultA.stderr).toMatch(/applied 002_items_sku/);
    const resultB = await b!;
    expect(resultB.code, resultB.stderr).toBe(0);
    expect(resultB.stdout).toMatch(/Nothing to apply/);
    expect(resultB.stderr).toMatch(/Got the runner lock/);

    const [index] = await db.query<{ valid: boolean }>(
      "select indisvalid as valid from pg_index where indexrelid = 'items_sku_idx'::regclass",
    );
    expect(index!.valid).toBe(true);
    const rows = await db.query<{ version: string; dirty: boolean }>(
      'select version, dirty from schema_migrations order by version',
    );
    expect(rows).toEqual([
      { version: '001', dirty: false },
      { version: '002', dirty: false },
    ]);
  });

  it('the hazard it avoids: a waiter blocked inside pg_advisory_lock() deadlocks with the build', async () => {
    await db.reset();
    const { dir, env } = await itemsAtVersion1();

    const writer = new pg.Client({ connectionString: db.url });
    const blocked = new pg.Client({ connectionString: db.url });
    await writer.connect();
    await blocked.connect();
    try {
      await writer.query('begin');
      await writer.query("insert into items values (0, 'held')");
      const a = runCli(['up'], { cwd: dir, env, timeoutMs: 90_000, spawn: true });
      await until('runner A to start building the index', async () => {
        const rows = await db.query(
          "select 1 from pg_stat_activity where datname = current_database() and query ilike 'create index concurrently%'",
        );
        return rows.length > 0;
      });
      // What a naive second runner does: wait for the runner lock inside one long statement (with a snapshot).
      const key = lockKey(db.name, { schema: 'public', table: 'schema_migrations' });
      const waiting = blocked.query('select pg_advisory_lock($1::bigint)', [key.toString()]).then(
        () => undefined,
        (error: { code?: string }) => error,
      );
      await until('the naive waiter to block', async () => {
        const rows = await db.query(
          "select 1 from pg_stat_activity where query like 'select pg_advisory_lock%' and wait_event = 'advisory'",
        );
        return rows.length > 0;
      });
      await writer.query('commit');
      const resultA = await a;
      const waiterError = await waiting;
      // PostgreSQL's deadlock detector breaks the cycle by failing one side, whichever checks first.
      if (waiterError) {
        expect(waiterError.code).toBe('40P01');
      } else {
        expect(resultA.code).toBe(1);
        expect(resultA.stderr).toMatch(/40P01: deadlock detected/);
        expect(resultA.stderr).toContain('DROP INDEX CONCURRENTLY IF EXISTS "public"."items_sku_idx";');
      }
    } finally {
      await writer.end().catch(() => {});
      await blocked.end().catch(() => {});
    }
  });
});
