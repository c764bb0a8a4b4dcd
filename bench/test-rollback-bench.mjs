#!/usr/bin/env node
// Benchmark of issue 13: `migrate test-rollback --mode step` over N generated migrations against `migrate up`
// of the same files (the reference, same run, same server; target <= 4x), and the whole catalog snapshot of
// the resulting N-table schema (target < 300 ms at N = 1000).
//
//   node bench/test-rollback-bench.mjs [--n 1000] [--runs 3] [--snapshots 5] [--mode step|chain]
//   BENCH_DATABASE_URL=postgres://user@host:5432/postgres   server to use (default: the local one; a superuser or CREATEDB)
//
// The migrations are bench/gen.mjs's (each: a table with six columns, a CHECK, two indexes, a column added to
// the previous table, a plpgsql function, three rows) with their exact rollbacks. The reference and
// test-rollback run interleaved (up, step, up, step, ...) so a noisy neighbour hits both alike; medians are
// reported. Each run: wall time; the CLI's CPU (user+sys) and peak RSS (/usr/bin/time); and the CPU of the
// server backends working for it (sampled from /proc every 100 ms by the database name in their process
// title: a backend's last <100 ms is not counted). Most of the work is the server's: both CPUs are shown.
// The snapshot (SNAPSHOTS of them after one that warms the caches, on one connection): wall median, min and
// max, and the median CPU of one, the client's (process.cpuUsage) and its backend's (/proc/<pid>/schedstat).
// Databases are named tm_bench_rollback_<pid>_<run> and dropped however the run ends (test-rollback's scratch database
// carries the CLI's pid and is dropped by the CLI).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropAtExit } from './bench-db.mjs';
import { generate } from './gen.mjs';
import { backendCpuMs, sampleBackends } from './server-cpu.mjs';
import { importSource } from './src-module.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const N = Number(opt('--n', '1000'));
const RUNS = Number(opt('--runs', '3'));
const SNAPSHOTS = Number(opt('--snapshots', '5'));
const MODE = opt('--mode', 'step');
const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const urlOf = (db) => {
  const u = new URL(adminUrl);
  u.pathname = `/${db}`;
  return u.toString();
};
const psql = (sql) =>
  execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', adminUrl, '-c', sql], { encoding: 'utf8' });
const hasTime = existsSync('/usr/bin/time');

// ---- the migrations -------------------------------------------------------------------------------------------
const work = mkdtempSync(join(tmpdir(), 'tidemark-rollback-bench-'));
generate(N, work);
execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
const cli = join(root, 'bin', 'migrate.js');
// Dropped however the run ends (bench/bench-db.mjs): normally, on an error, or on a signal.
const databases = [];
dropAtExit(databases, { adminDb: adminUrl });
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

/** Runs the CLI; wall, the CLI's CPU and RSS, the server's CPU for it. */
function timed(label, argv, database, serverMatch) {
  return new Promise((resolve, reject) => {
    const timeFile = join(work, `time-${label}.txt`);
    const command = hasTime ? '/usr/bin/time' : process.execPath;
    const full = hasTime ? ['-f', '%e %U %S %M', '-o', timeFile, process.execPath, cli, ...argv] : [cli, ...argv];
    const t = performance.now();
    const child = spawn(command, full, {
      cwd: work,
      env: {
        ...process.env,
        DATABASE_URL: urlOf(database),
        MIGRATIONS_DIR: 'sql/migrations',
        ROLLBACK_DIR: 'sql/rollback',
        BACKUP_BEFORE_MIGRATE: 'false',
        CI: '1',
      },
    });
    const seen = new Map();
    const sampler = setInterval(() => sampleBackends(serverMatch(child.pid), seen), 100);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      clearInterval(sampler);
      const wall = performance.now() - t;
      if (code !== 0) {
        process.stderr.write(stdout.slice(-4000) + stderr.slice(-4000));
        reject(new Error(`${label} exited ${code}`));
        return;
      }
      const [, user, sys, rss] = hasTime ? readFileSync(timeFile, 'utf8').trim().split('\n').at(-1).split(' ') : [];
      const server = [...seen.values()].reduce((a, b) => a + b, 0);
      resolve({ wall, cpu: hasTime ? Number(user) + Number(sys) : NaN, rssMb: Number(rss) / 1024, server, stdout });
    });
  });
}

const ups = [];
const steps = [];
let report;
for (let run = 0; run < RUNS; run++) {
  const dbUp = `tm_bench_rollback_${process.pid}_${run}_up`;
  const dbHome = `tm_bench_rollback_${process.pid}_${run}_home`;
  databases.push(dbUp, dbHome);
  psql(`create database "${dbUp}"`);
  psql(`create database "${dbHome}"`);
  ups.push(await timed(`up-${run}`, ['up', '--skip-lint'], dbUp, () => dbUp));
  // The scratch database carries the CLI's pid (under /usr/bin/time: its child's).
  const step = await timed(`step-${run}`, ['test-rollback', '--mode', MODE, '--json'], dbHome, (pid) => {
    if (!hasTime) return `tidemark_scratch_${pid}_`;
    try {
      return `tidemark_scratch_${readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0]}_`;
    } catch {
      return `tidemark_scratch_${pid}_`;
    }
  });
  steps.push(step);
  report = JSON.parse(step.stdout);
  if (!report.ok || report.tested.length !== N)
    throw new Error(`test-rollback did not pass all ${N}: ${JSON.stringify(report.problems.slice(0, 3))}`);
  if (run < RUNS - 1) psql(`drop database if exists "${dbUp}" with (force)`);
}
const sum = (action) => report.steps.filter((s) => s.action === action).reduce((a, s) => a + s.ms, 0);

// ---- snapshot of the N-table schema (the database the last `up` left) ----------------------------------------
const { snapshotSchema } = await importSource('schema/snapshot.ts');
const pg = (await import('pg')).default;
const client = new pg.Client({ connectionString: urlOf(databases.at(-2)) });
await client.connect();
// The server's CPU for the snapshots: its backend's (steadier than wall time on a loaded machine), when the server
// is local and readable; null otherwise.
const backendMs = await backendCpuMs(client);
const times = [];
const clientCpu = [];
const serverCpu = [];
let objects = 0;
for (let i = 0; i < SNAPSHOTS + 1; i++) {
  const t = performance.now();
  const cpu0 = process.cpuUsage();
  const server0 = backendMs();
  const s = await snapshotSchema(client, { trackingTable: { schema: 'public', table: 'schema_migrations' } });
  const server1 = backendMs();
  const cpu = process.cpuUsage(cpu0);
  // The first warms the catalog caches (and the bundle's code).
  if (i > 0) {
    times.push(performance.now() - t);
    clientCpu.push((cpu.user + cpu.system) / 1000);
    if (server0 !== null && server1 !== null) serverCpu.push(server1 - server0);
  }
  objects = Object.keys(s.objects).length;
}
await client.end();

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const f = (ms) => `${(ms / 1000).toFixed(1)} s`;
const m = (pick, list) => median(list.map(pick));
const upWall = m((r) => r.wall, ups);
const stepWall = m((r) => r.wall, steps);
const upCpu = m((r) => r.cpu + r.server, ups);
const stepCpu = m((r) => r.cpu + r.server, steps);
console.log(
  `\n## test-rollback bench (N = ${N}, mode ${MODE}, ${RUNS} runs interleaved, medians; ${new Date().toISOString()}; load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')})\n`,
);
console.log('| run | wall | CLI CPU | server CPU | CLI peak RSS | wall per migration | ratio to up (wall / CPU) |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
const row = (name, list, wallRatio, cpuRatio) =>
  console.log(
    `| ${name} | ${f(m((r) => r.wall, list))} | ${m((r) => r.cpu, list).toFixed(1)} s | ${m((r) => r.server, list).toFixed(1)} s | ${m((r) => r.rssMb, list).toFixed(0)} MB | ${(m((r) => r.wall, list) / N).toFixed(1)} ms | ${wallRatio} / ${cpuRatio} |`,
  );
row('migrate up (reference)', ups, '1.00x', '1.00x');
row(
  `migrate test-rollback --mode ${MODE}`,
  steps,
  `${(stepWall / upWall).toFixed(2)}x`,
  `${(stepCpu / upCpu).toFixed(2)}x (target <= 4x)`,
);
console.log(
  `\nWall of each run (up / ${MODE}): ${ups.map((u, i) => `${f(u.wall)} / ${f(steps[i].wall)}`).join(', ')}.`,
);
console.log(
  `\nPer migration, last run (summed over the run / N): apply ${(sum('apply') / N).toFixed(1)} ms, rollback ${(sum('rollback') / N).toFixed(1)} ms, compare (snapshot after the rollback) ${(sum('compare') / N).toFixed(1)} ms, reapply ${(sum('reapply') / N).toFixed(1)} ms; the rest (snapshot after the reapply, scratch database, start-up) ${((steps.at(-1).wall - sum('apply') - sum('rollback') - sum('compare') - sum('reapply')) / N).toFixed(1)} ms.`,
);
console.log(
  `\nWhole snapshot of the ${N}-table schema (${objects} objects): median ${median(times).toFixed(0)} ms of ${SNAPSHOTS} (min ${Math.min(...times).toFixed(0)}, max ${Math.max(...times).toFixed(0)}; target < 300 ms); CPU a snapshot (median): client ${median(clientCpu).toFixed(0)} ms, server backend ${serverCpu.length > 0 ? `${median(serverCpu).toFixed(0)} ms` : 'not readable (remote server?)'}.`,
);
