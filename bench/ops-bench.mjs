// Issue 14's three measurements, on a 1M-row table with a pgbench write load (8 clients, one UPDATE of a
// random row per transaction), each against its reference in the same run:
//
//  (a) backfill: the writers' p99 latency during `migrate backfill` vs. without it, and the backfill's time vs.
//      one `UPDATE` of the whole table (under the same load);
//  (b) a schema change queued behind a 12 s transaction: the writers' longest stall with tidemark's defaults vs.
//      a plain `psql -c 'ALTER TABLE ...'` (no lock_timeout) and the pre-issue-14 defaults (lock_timeout 5 s,
//      3 retries 1/2/4 s apart, emulated with psql);
//  (c) the lock monitor's own cost: CPU of its backend plus the CLI's extra CPU (monitor on vs. off) while a
//      30 s migration runs, as a share of one core.
//
//   npm run build && node bench/ops-bench.mjs            (SECONDS=20 ROWS=1000000 CLIENTS=8 to change)
//
// Connection: PG* variables (default 127.0.0.1:5432, user postgres, a superuser); database bench_ops_<pid> is
// dropped at the end (also on an error or a signal).
// Needs pgbench and psql on PATH. Not a test: figures vary with the machine's load; compare within one run.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { benchDatabase, dropAtExit } from './bench-db.mjs';
import { cpuSeconds } from './server-cpu.mjs';

const here = resolve(import.meta.dirname, '..');
const CLI = join(here, 'bin', 'migrate.js');
const ROWS = Number(process.env.ROWS ?? 1_000_000);
const CLIENTS = Number(process.env.CLIENTS ?? 8);
const SECONDS = Number(process.env.SECONDS ?? 20);
const DB = benchDatabase('bench_ops');
const host = process.env.PGHOST ?? '127.0.0.1';
const port = process.env.PGPORT ?? '5432';
const user = process.env.PGUSER ?? 'postgres';
const env = { ...process.env, PGHOST: host, PGPORT: port, PGUSER: user, PGDATABASE: DB };
const url = `postgres://${encodeURIComponent(user)}@${host}:${port}/${DB}`;
const work = mkdtempSync(join(tmpdir(), 'tidemark-ops-bench-'));
const dropDatabase = dropAtExit([DB], { env });

const psql = (sql, db = DB) =>
  execFileSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', db, '-c', sql], {
    env,
    encoding: 'utf8',
  }).trim();
const now = () => performance.now();
const log = (...a) => console.error(...a);

/** Runs a command to its end; resolves with its exit code and output. */
function run(cmd, args, options = {}) {
  return new Promise((resolvePromise) => {
    const child = spawn(cmd, args, {
      env: { ...env, ...(options.env ?? {}) },
      cwd: options.cwd ?? work,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    options.onSpawn?.(child);
    child.on('close', (code) => resolvePromise({ code, out, err }));
  });
}

/** pgbench with per-transaction logs; returns a function giving the latencies (ms) completed in a time window. */
async function writers(seconds, tag) {
  const dir = join(work, `pgbench-${tag}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(work, 'writer.sql'),
    `\\set id random(1, ${ROWS})\nupdate accounts set balance = balance + 1 where id = :id;\n`,
  );
  const started = Date.now();
  const result = await run('pgbench', [
    '-n',
    '-c',
    String(CLIENTS),
    '-j',
    '2',
    '-T',
    String(seconds),
    '-f',
    join(work, 'writer.sql'),
    '-l',
    `--log-prefix=${join(dir, 'w')}`,
    DB,
  ]);
  if (result.code !== 0) throw new Error(`pgbench failed: ${result.err}`);
  const rows = [];
  for (const f of readdirSync(dir)) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      const p = line.trim().split(/\s+/);
      if (p.length < 6) continue;
      // client_id transaction_no latency_us script_no epoch_s epoch_us
      const latencyMs = Number(p[2]) / 1000;
      const endMs = Number(p[4]) * 1000 + Number(p[5]) / 1000;
      rows.push({ latencyMs, endMs, startMs: endMs - latencyMs });
    }
  }
  return { started, rows };
}

function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const fmt = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

async function setup() {
  psql(`drop database if exists ${DB}`, 'postgres');
  psql(`create database ${DB}`, 'postgres');
  log(`setup: ${ROWS} rows ...`);
  psql(`create table accounts (id bigint primary key, balance int not null default 0, note text)`);
  psql(`insert into accounts (id, balance) select g, (g % 1000) from generate_series(1, ${ROWS}) g`);
  psql('vacuum analyze accounts');
  mkdirSync(join(work, 'migrations'), { recursive: true });
}

/** (a) */
async function backfillBench() {
  log('(a) writers alone ...');
  const alone = await writers(SECONDS, 'alone');
  const p99Alone = percentile(
    alone.rows.map((r) => r.latencyMs),
    99,
  );

  psql('alter table accounts add column b int, add column b2 int');
  log('(a) writers + migrate backfill (batch 1000, no pause) ...');
  let window = {};
  const load = writers(SECONDS * 3, 'backfill');
  await sleep(2000);
  window.start = Date.now();
  const t0 = now();
  const bf = await run(
    'node',
    [CLI, 'backfill', 'accounts', '--set', 'b = balance', '--batch-size', '1000', '--pause', '0', '--json'],
    { env: { DATABASE_URL: url, CI: '1' } },
  );
  const backfillMs = now() - t0;
  window.end = Date.now();
  if (bf.code !== 0) throw new Error(`backfill failed: ${bf.err}`);
  // Every transaction that overlapped the window: one that waited through it ends after it.
  const during = (await load).rows.filter((r) => r.endMs >= window.start && r.startMs <= window.end);
  const p99Backfill = percentile(
    during.map((r) => r.latencyMs),
    99,
  );

  log('(a) writers + one UPDATE of the whole table ...');
  const load2 = writers(SECONDS * 3, 'update');
  await sleep(2000);
  const w2 = { start: Date.now() };
  const t1 = now();
  psql('update accounts set b2 = balance');
  const updateMs = now() - t1;
  w2.end = Date.now();
  const during2 = (await load2).rows.filter((r) => r.endMs >= w2.start && r.startMs <= w2.end);
  const p99Update = percentile(
    during2.map((r) => r.latencyMs),
    99,
  );
  const stallUpdate = Math.max(...during2.map((r) => r.latencyMs));
  return {
    p99Alone,
    p99Backfill,
    p99Update,
    stallUpdate,
    backfillMs,
    updateMs,
    txAlone: alone.rows.length / SECONDS,
    txBackfill: during.length / ((window.end - window.start) / 1000),
  };
}

/** (b) one scenario: the writers' longest stall while `change` runs behind a 12 s reader. */
async function stallWith(tag, change) {
  const load = writers(25, tag);
  await sleep(3000);
  // The long transaction: ACCESS SHARE on accounts for 12 s (a report, a pg_dump, an idle-in-transaction bug).
  const reader = run('psql', [
    '-X',
    '-q',
    '-d',
    DB,
    '-c',
    'begin; select count(*) from accounts where id = 1; select pg_sleep(12); commit;',
  ]);
  await sleep(1000);
  const started = Date.now();
  const result = await change();
  const ended = Date.now();
  await reader;
  const rows = (await load).rows;
  const stall = Math.max(...rows.filter((r) => r.endMs >= started - 1000).map((r) => r.latencyMs));
  const p99 = percentile(
    rows.map((r) => r.latencyMs),
    99,
  );
  return { stall, p99, changeMs: ended - started, outcome: result };
}

async function queuedBench() {
  const results = {};
  log('(b) plain psql ALTER TABLE (no lock_timeout) ...');
  results.psql = await stallWith('psql', async () => {
    psql('alter table accounts add column c1 int');
    return 'applied (waited for the reader)';
  });
  log('(b) pre-issue-14 defaults: lock_timeout 5 s, 3 retries 1/2/4 s apart ...');
  results.old = await stallWith('old', async () => {
    for (let attempt = 1; attempt <= 4; attempt += 1) {
      try {
        psql(`set lock_timeout = '5s'; alter table accounts add column c2 int`);
        return `applied on attempt ${attempt}`;
      } catch {
        if (attempt < 4) await sleep(1000 * 2 ** (attempt - 1));
      }
    }
    return 'gave up after 4 attempts';
  });
  log('(b) tidemark defaults (migrate up) ...');
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-ops-bench-mig-'));
  mkdirSync(join(dir, 'migrations'));
  writeFileSync(join(dir, 'migrations', '001_c3.sql'), 'alter table accounts add column c3 int;\n');
  results.tidemark = await stallWith('tidemark', async () => {
    const r = await run('node', [CLI, 'up', '--no-backup', '--skip-lint'], {
      cwd: dir,
      env: { DATABASE_URL: url, CI: '1' },
    });
    const retries = (r.err.match(/Lock timeout in/g) ?? []).length;
    return r.code === 0 ? `applied after ${retries} lock timeouts` : `exit ${r.code} after ${retries} lock timeouts`;
  });
  return results;
}

/** (c) CPU of one 30 s migration's run with the monitor on (DB_POOL_SIZE=2) and off (1), under the write load. */
async function monitorCost(poolSize) {
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-ops-bench-mon-'));
  mkdirSync(join(dir, 'migrations'));
  writeFileSync(join(dir, 'migrations', `00${poolSize}_hold.sql`), 'select pg_sleep(30);\n');
  psql('drop table if exists schema_migrations');
  const load = writers(40, `monitor-${poolSize}`);
  await sleep(2000);
  let child;
  const done = run('node', [CLI, 'up', '--no-backup', '--skip-lint'], {
    cwd: dir,
    env: { DATABASE_URL: url, CI: '1', DB_POOL_SIZE: String(poolSize) },
    onSpawn: (c) => (child = c),
  });
  await sleep(5000);
  const monitorPid = Number(
    psql(`select coalesce(max(pid), 0) from pg_stat_activity where application_name = 'tidemark-monitor'`),
  );
  const c0 = { node: cpuSeconds(child.pid), monitor: monitorPid ? cpuSeconds(monitorPid) : 0, t: now() };
  await sleep(20_000);
  const c1 = { node: cpuSeconds(child.pid), monitor: monitorPid ? cpuSeconds(monitorPid) : 0, t: now() };
  await done;
  await load;
  const wall = (c1.t - c0.t) / 1000;
  return {
    nodePct: ((c1.node - c0.node) / wall) * 100,
    monitorPct: ((c1.monitor - c0.monitor) / wall) * 100,
    monitorPid,
    wall,
  };
}

await setup();
const a = await backfillBench();
const b = await queuedBench();
const off = await monitorCost(1);
const on = await monitorCost(2);
dropDatabase();

const lines = [
  `(a) backfill of ${ROWS} rows under ${CLIENTS} writers`,
  `    writers p99 alone: ${fmt(a.p99Alone)} ms (${fmt(a.txAlone, 0)} tx/s); during migrate backfill: ${fmt(a.p99Backfill)} ms (${fmt(a.txBackfill, 0)} tx/s) -> ratio ${fmt(a.p99Backfill / a.p99Alone, 2)} (target <= 2)`,
  `    migrate backfill: ${fmt(a.backfillMs / 1000)} s; one UPDATE of the table: ${fmt(a.updateMs / 1000)} s -> ratio ${fmt(a.backfillMs / a.updateMs, 2)} (target <= 2)`,
  `    (during the single UPDATE the writers' p99 was ${fmt(a.p99Update)} ms, longest stall ${fmt(a.stallUpdate)} ms)`,
  `(b) ALTER TABLE queued behind a 12 s transaction, ${CLIENTS} writers: longest writer stall`,
  `    plain psql (no lock_timeout): ${fmt(b.psql.stall)} ms (${b.psql.outcome}, ${fmt(b.psql.changeMs / 1000)} s)`,
  `    pre-issue-14 defaults (5 s x 4): ${fmt(b.old.stall)} ms (${b.old.outcome}, ${fmt(b.old.changeMs / 1000)} s)`,
  `    tidemark defaults: ${fmt(b.tidemark.stall)} ms (${b.tidemark.outcome}, ${fmt(b.tidemark.changeMs / 1000)} s) (target <= 500 ms)`,
  `(c) lock monitor cost over ${fmt(on.wall, 0)} s of a running migration, ${CLIENTS} writers`,
  `    monitor backend: ${fmt(on.monitorPct, 2)} % of a core; CLI process: ${fmt(on.nodePct, 2)} % with the monitor, ${fmt(off.nodePct, 2)} % without -> monitor total ${fmt(on.monitorPct + on.nodePct - off.nodePct, 2)} % (target < 1 %)`,
];
console.log(lines.join('\n'));
