#!/usr/bin/env node
// What one step of `migrate test-rollback --mode step` costs the incremental snapshot (src/schema/incremental.ts)
// at N tables, client and server apart: N of bench/gen.mjs's migrations are applied (psql, one transaction),
// then K steps run as test-rollback runs them (apply, roll back, update, apply again, update).
//
//   node bench/rollback-profile.mjs [N=1000] [K=20] [--census] [--idle] [--explain]
//   BENCH_DATABASE_URL=postgres://user@host:5432/postgres   a superuser (the watch's event triggers), default local
//
// Prints, every 100 steps and at the end, the mean wall, client CPU and server CPU of an update (server: the
// backend's /proc/<pid>/schedstat, ns resolution; the server must be on this host) and of a migration. A cost
// that grows with the steps is a plan made for a small catalog and kept. --census forces the census strategy;
// --idle also times 20 updates with nothing changed; --explain lists the read's slowest nested statements of
// one more step (auto_explain at notice level, with ANALYZE: durations inflated). PERF=file records the
// backend with `perf record -g` over the steps. The database rollback_prof_<N>_<pid> is dropped at the end.
import { execFileSync, spawn } from 'node:child_process';
import { migrations } from './gen.mjs';
import { backendCpuMs } from './server-cpu.mjs';
import { importSource } from './src-module.mjs';

const args = process.argv.slice(2);
const numbers = args.filter((a) => /^\d+$/.test(a)).map(Number);
const N = numbers[0] ?? 1000;
const K = numbers[1] ?? 20;
const admin = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const db = `rollback_prof_${N}_${process.pid}`;
const url = Object.assign(new URL(admin), { pathname: `/${db}` }).toString();
const psql = (target, sqlArgs, input) =>
  execFileSync('psql', ['-Xq', '-v', 'ON_ERROR_STOP=1', '-d', target, ...sqlArgs], { input, encoding: 'utf8' });
const all = migrations(N + K + 1);

psql(admin, ['-c', `create database "${db}"`]);
process.on('exit', () => psql(admin, ['-c', `drop database if exists "${db}" with (force)`]));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));
psql(
  url,
  ['-1'],
  `create table schema_migrations (version text primary key);\n${all
    .slice(0, N)
    .map((m) => m.up)
    .join('\n')}`,
);

const { IncrementalSnapshot } = await importSource('schema/incremental.ts', { external: ['pg'] });
const pg = (await import('pg')).default;
const client = new pg.Client({ connectionString: url });
await client.connect();
const serverMs = await backendCpuMs(client);
if (serverMs() === null) throw new Error("the backend is not in /proc: run this on the server's host");
const incremental = new IncrementalSnapshot(
  client,
  { trackingTable: { schema: 'public', table: 'schema_migrations' } },
  args.includes('--census') ? 'census' : undefined,
);
let t = performance.now();
await incremental.update();
console.log(`first (whole) update ${(performance.now() - t).toFixed(0)} ms, strategy ${incremental.strategy}`);

const perf = process.env.PERF
  ? spawn('perf', ['record', '-q', '-g', '-p', String(serverMs.pid), '-o', process.env.PERF], { stdio: 'inherit' })
  : undefined;
if (perf) await new Promise((r) => setTimeout(r, 500));
const updates = { wall: 0, client: 0, server: 0, n: 0 };
const runs = { wall: 0, server: 0, n: 0 };
async function update() {
  const c0 = process.cpuUsage();
  const s0 = serverMs();
  const t0 = performance.now();
  const changes = await incremental.update();
  updates.wall += performance.now() - t0;
  const c = process.cpuUsage(c0);
  updates.client += (c.user + c.system) / 1000;
  updates.server += serverMs() - s0;
  updates.n += 1;
  return changes;
}
async function run(sql) {
  const s0 = serverMs();
  const t0 = performance.now();
  await client.query(`begin; ${sql}; commit`);
  runs.wall += performance.now() - t0;
  runs.server += serverMs() - s0;
  runs.n += 1;
}
const mean = (x, n) => (x / Math.max(n, 1)).toFixed(1);
const line = () =>
  `update: wall ${mean(updates.wall, updates.n)} ms, client CPU ${mean(updates.client, updates.n)} ms, server CPU ${mean(updates.server, updates.n)} ms; migration: wall ${mean(runs.wall, runs.n)} ms, server CPU ${mean(runs.server, runs.n)} ms`;
for (let i = N; i < N + K; i++) {
  const m = all[i];
  await run(m.up);
  await run(m.down);
  const changes = await update();
  if (Object.keys(changes.before.objects).length === 0) throw new Error(`step ${i + 1}: the update saw no change`);
  await run(m.up);
  await update();
  if ((i - N + 1) % 100 === 0) console.log(`after ${i - N + 1} steps (means so far): ${line()}`);
}
if (perf) {
  perf.kill('SIGINT');
  await new Promise((r) => perf.on('exit', r));
}
console.log(`N = ${N}, ${K} steps, means: ${line()}`);

if (args.includes('--idle')) {
  const before = { ...updates };
  for (let j = 0; j < 20; j++) await update();
  console.log(
    `an update with nothing changed: wall ${mean(updates.wall - before.wall, 20)} ms, client CPU ${mean(updates.client - before.client, 20)} ms, server CPU ${mean(updates.server - before.server, 20)} ms`,
  );
}
if (args.includes('--explain')) {
  await client.query(`load 'auto_explain'`);
  await client.query(
    `set auto_explain.log_min_duration = 0; set auto_explain.log_nested_statements = on; set auto_explain.log_analyze = on; set auto_explain.log_level = notice; set client_min_messages = notice`,
  );
  const notices = [];
  client.on('notice', (n) => notices.push(n.message));
  const m = all[N + K];
  await run(m.up);
  await run(m.down);
  await update();
  const timed = notices
    .map((s) => ({ ms: Number(/duration: ([\d.]+) ms/.exec(s)?.[1] ?? 0), s }))
    .sort((a, b) => b.ms - a.ms);
  for (const { ms, s } of timed.slice(0, Number(process.env.TOP ?? 8)))
    console.log(`---- ${ms} ms\n${s.slice(0, Number(process.env.CHARS ?? 3000))}`);
}
await incremental.close();
await client.end();
