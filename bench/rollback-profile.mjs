// Per-step cost of the incremental snapshot at N tables: client CPU vs server CPU, and (with --explain) the
// nested statements of the read function that take longest.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
const root = process.env.ROOT ?? '/work/wt/rollback';
const { migrations } = await import(pathToFileURL(join(root, 'bench/gen.mjs')).href);
const args = process.argv.slice(2);
const N = Number(args[0] ?? 1000);
const K = Number(args[1] ?? 20);
const explain = args.includes('--explain');
const db = `rollback_prof_${N}`;
const admin = 'postgres://postgres@127.0.0.1:5432/postgres';
const url = `postgres://postgres@127.0.0.1:5432/${db}`;
const all = migrations(N + K + 1);
const exists = execFileSync('psql', ['-XAtd', admin, '-c', `select 1 from pg_database where datname='${db}'`], { encoding: 'utf8' }).trim();
if (!exists || args.includes('--fresh')) {
  execFileSync('psql', ['-Xqd', admin, '-c', `drop database if exists ${db}`]);
  execFileSync('psql', ['-Xqd', admin, '-c', `create database ${db}`]);
  execFileSync('psql', ['-Xq', '-v', 'ON_ERROR_STOP=1', '-d', url, '-1', '-c', 'create table schema_migrations (version text primary key)'], {});
  const text = all.slice(0, N).map((m) => m.up).join('\n');
  execFileSync('psql', ['-Xq', '-v', 'ON_ERROR_STOP=1', '-d', url, '-1'], { input: text });
}
const bundle = join(root, 'node_modules/.cache/rbprof-inc.mjs');
await build({ entryPoints: [join(root, 'src/schema/incremental.ts')], outfile: bundle, bundle: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning', external: ['pg'] });
const { IncrementalSnapshot } = await import(pathToFileURL(bundle).href + '?' + Date.now());
const pg = (await import(join(root, 'node_modules/pg/lib/index.js'))).default;
const client = new pg.Client({ connectionString: url });
await client.connect();
const pid = (await client.query('select pg_backend_pid() as p')).rows[0].p;
const scpu = () => Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
const inc = new IncrementalSnapshot(client, { trackingTable: { schema: 'public', table: 'schema_migrations' } }, args.includes('--census') ? 'census' : undefined);
let t = performance.now();
await inc.update();
console.log(`first update ${(performance.now() - t).toFixed(0)} ms, strategy ${inc.strategy}`);
// PERF=file: the server backend's profile over the steps (perf record -g; root or perf_event_paranoid <= 1).
const { spawn } = await import('node:child_process');
const perf = process.env.PERF ? spawn('perf', ['record', '-q', '-g', '-p', String(pid), '-o', process.env.PERF], { stdio: 'inherit' }) : undefined;
if (perf) await new Promise((r) => setTimeout(r, 500));
const acc = { wall: 0, ccpu: 0, scpu: 0, n: 0 };
const accM = { wall: 0, scpu: 0, n: 0 };
async function upd() {
  const c0 = process.cpuUsage(); const s0 = scpu(); const t0 = performance.now();
  const r = await inc.update();
  acc.wall += performance.now() - t0; const c = process.cpuUsage(c0); acc.ccpu += (c.user + c.system) / 1000; acc.scpu += scpu() - s0; acc.n++;
  return r;
}
async function mig(sql) { const s0 = scpu(); const t0 = performance.now(); await client.query(`begin; ${sql}; commit`); accM.wall += performance.now() - t0; accM.scpu += scpu() - s0; accM.n++; }
for (let i = N; i < N + K; i++) {
  const m = all[i];
  await mig(m.up); 
  await mig(m.down);
  const ch = await upd();
  const nd = Object.keys(ch.before.objects).length;
  await mig(m.up);
  await upd();
  if (i === N) console.log(`objects in a compare: ${nd}`);
  if ((i - N + 1) % 100 === 0) console.log(`after ${i - N + 1} steps: update server CPU ${(acc.scpu / acc.n).toFixed(1)} ms so far`);
}
if (perf) { perf.kill('SIGINT'); await new Promise((r) => perf.on('exit', r)); }
console.log(`N=${N}: update wall ${(acc.wall / acc.n).toFixed(1)} ms, client CPU ${(acc.ccpu / acc.n).toFixed(1)} ms, server CPU ${(acc.scpu / acc.n).toFixed(1)} ms (of ${acc.n}); migration wall ${(accM.wall / accM.n).toFixed(1)} server CPU ${(accM.scpu / accM.n).toFixed(1)} ms`);
if (args.includes('--idle')) {
  const a0 = { ...acc };
  for (let j = 0; j < 20; j++) await upd();
  console.log(`idle update: wall ${((acc.wall - a0.wall) / 20).toFixed(1)} ms, client CPU ${((acc.ccpu - a0.ccpu) / 20).toFixed(1)} ms, server CPU ${((acc.scpu - a0.scpu) / 20).toFixed(1)} ms`);
}
if (explain) {
  await client.query(`load 'auto_explain'`);
  await client.query(`set auto_explain.log_min_duration = 0; set auto_explain.log_nested_statements = on; set auto_explain.log_analyze = on; set auto_explain.log_timing = on; set auto_explain.log_level = notice; set client_min_messages = notice`);
  const notices = [];
  client.on('notice', (n) => notices.push(n.message));
  const m = all[N + K];
  await mig(m.up);
  await mig(m.down);
  await upd();
  const parsed = notices.map((s) => { const d = /duration: ([\d.]+) ms/.exec(s); return { ms: d ? Number(d[1]) : 0, s }; }).sort((a, b) => b.ms - a.ms);
  for (const p of parsed.slice(0, Number(process.env.TOP ?? 8))) console.log(`---- ${p.ms} ms\n${p.s.slice(0, Number(process.env.CHARS ?? 3000))}`);
  // restore state
  await mig(m.up); await mig(m.down);
}
// Roll back the K extra migrations so the db can be reused.
for (let i = N + K - 1; i >= N; i--) await client.query(`begin; ${all[i].down}; commit`).catch(async (e) => { console.log("cleanup", i, e.message); await client.query("rollback"); });
await inc.close();
await client.end();
