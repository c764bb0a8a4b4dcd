#!/usr/bin/env node
// Benchmark of issue 13: `migrate test-rollback --mode step` over N generated migrations against `migrate up`
// of the same files (the reference, same run, same server; target <= 4x), and the catalog snapshot of the
// resulting N-table schema (target < 300 ms at N = 1000).
//
//   node bench/test-rollback-bench.mjs [--n 1000] [--snapshots 5]
//   BENCH_DATABASE_URL=postgres://user@host:5432/postgres   server to use (default: the local one; a superuser or CREATEDB)
//
// The migrations are written by this script (each: a table with six columns, a CHECK, two indexes and a
// sequence, a column added to the previous table, a plpgsql function, three rows) with their exact rollbacks.
// Databases are named tm_bench_rollback_* and dropped at the end.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { benchDatabase, dropAtExit } from './bench-db.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const N = Number(opt('--n', '1000'));
const SNAPSHOTS = Number(opt('--snapshots', '5'));
const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const urlOf = (db) => {
  const u = new URL(adminUrl);
  u.pathname = `/${db}`;
  return u.toString();
};
const psql = (sql) =>
  execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', adminUrl, '-c', sql], { encoding: 'utf8' });

// ---- the migrations -------------------------------------------------------------------------------------------
const work = mkdtempSync(join(tmpdir(), 'tidemark-rollback-bench-'));
const words = ['accounts', 'orders', 'invoices', 'shipments', 'products', 'reviews', 'sessions', 'events'];
const width = Math.max(3, String(N).length);
const pad = (i) => String(i).padStart(width, '0');
const table = (i) => `${words[(i - 1) % words.length]}_${pad(i)}`;
mkdirSync(join(work, 'migrations'));
mkdirSync(join(work, 'rollback'));
for (let i = 1; i <= N; i++) {
  const t = table(i);
  const prev = i > 1 ? table(i - 1) : t;
  const up = `CREATE TABLE ${t} (
    id bigserial PRIMARY KEY,
    external_id uuid NOT NULL DEFAULT gen_random_uuid(),
    name text NOT NULL,
    status text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'active', 'closed')),
    amount numeric(12,2) NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ${t}_status_created_idx ON ${t} (status, created_at);
CREATE UNIQUE INDEX ${t}_external_id_key ON ${t} (external_id);
ALTER TABLE ${prev} ADD COLUMN note_${pad(i)} text;
CREATE FUNCTION ${t}_total(p_status text) RETURNS numeric LANGUAGE plpgsql STABLE AS $$
DECLARE v_total numeric;
BEGIN
    SELECT coalesce(sum(amount), 0) INTO v_total FROM ${t} WHERE status = p_status;
    RETURN v_total;
END;
$$;
INSERT INTO ${t} (name, status, amount) VALUES ('alpha', 'new', 10.50), ('beta; with a semicolon', 'active', 20.00), ('gamma', 'closed', 30.25);
`;
  const down = `DROP FUNCTION ${t}_total(text);\nALTER TABLE ${prev} DROP COLUMN note_${pad(i)};\nDROP TABLE ${t};\n`;
  writeFileSync(join(work, 'migrations', `${pad(i)}_create_${t}.sql`), up);
  writeFileSync(
    join(work, 'rollback', `${pad(i)}_create_${t}_rollback.sql`),
    i === 1 ? `DROP FUNCTION ${t}_total(text);\nDROP TABLE ${t};\n` : down,
  );
}

// ---- timed runs ----------------------------------------------------------------------------------------------
spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
const cli = join(root, 'bin', 'migrate.js');
const dbUp = benchDatabase('tm_bench_rollback_up');
const dbHome = benchDatabase('tm_bench_rollback_home');
dropAtExit([dbUp, dbHome], { adminDb: adminUrl });
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

function timed(label, argv, database) {
  const t = performance.now();
  const r = spawnSync(process.execPath, [cli, ...argv], {
    cwd: work,
    env: { ...process.env, DATABASE_URL: urlOf(database), BACKUP_BEFORE_MIGRATE: 'false', CI: '1' },
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  const ms = performance.now() - t;
  if (r.status !== 0) {
    process.stderr.write(r.stdout.slice(-4000) + r.stderr.slice(-4000));
    throw new Error(`${label} exited ${r.status}`);
  }
  return { ms, stdout: r.stdout };
}

psql(`create database "${dbUp}"`);
psql(`create database "${dbHome}"`);
const up = timed('up', ['up', '--skip-lint'], dbUp);
const step = timed('test-rollback', ['test-rollback', '--mode', 'step', '--json'], dbHome);
const report = JSON.parse(step.stdout);
if (!report.ok || report.tested.length !== N)
  throw new Error(`test-rollback did not pass all ${N}: ${JSON.stringify(report.problems.slice(0, 3))}`);
const sum = (action) => report.steps.filter((s) => s.action === action).reduce((a, s) => a + s.ms, 0);

// ---- snapshot of the N-table schema (the database `up` left) ----------------------------------------------------
const bundle = join(work, 'snapshot.mjs');
await build({
  entryPoints: [join(root, 'src', 'schema', 'snapshot.ts')],
  outfile: bundle,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  logLevel: 'warning',
});
const { snapshotSchema } = await import(pathToFileURL(bundle).href);
const pg = (await import('pg')).default;
const client = new pg.Client({ connectionString: urlOf(dbUp) });
await client.connect();
const times = [];
let objects = 0;
for (let i = 0; i < SNAPSHOTS + 1; i++) {
  const t = performance.now();
  const s = await snapshotSchema(client, { trackingTable: { schema: 'public', table: 'schema_migrations' } });
  if (i > 0) times.push(performance.now() - t); // the first warms the catalog caches
  objects = Object.keys(s.objects).length;
}
await client.end();
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];

const f = (ms) => `${(ms / 1000).toFixed(1)} s`;
console.log(
  `\n## test-rollback bench (N = ${N}, ${new Date().toISOString()}, load ${(await import('node:os')).loadavg()[0].toFixed(2)})\n`,
);
console.log('| run | time | per migration | ratio to up |');
console.log('| --- | --- | --- | --- |');
console.log(`| migrate up (reference) | ${f(up.ms)} | ${(up.ms / N).toFixed(1)} ms | 1.00x |`);
console.log(
  `| migrate test-rollback --mode step | ${f(step.ms)} | ${(step.ms / N).toFixed(1)} ms | ${(step.ms / up.ms).toFixed(2)}x (target <= 4x) |`,
);
console.log(
  `\nOne step, summed over the run: apply ${f(sum('apply'))}, rollback ${f(sum('rollback'))}, compare (snapshot after rollback) ${f(sum('compare'))}, reapply ${f(sum('reapply'))}; the rest (snapshots after reapply, scratch database) ${f(step.ms - sum('apply') - sum('rollback') - sum('compare') - sum('reapply'))}.`,
);
console.log(
  `\nSnapshot of the ${N}-table schema (${objects} objects): median ${median.toFixed(0)} ms of ${SNAPSHOTS} (min ${times[0].toFixed(0)}, max ${times.at(-1).toFixed(0)}; target < 300 ms).`,
);
