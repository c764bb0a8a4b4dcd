// The cold-start benchmark: what every pod start pays. Times, in one run and interleaved (A B C A B C ...
// so that a noisy neighbour hits every tool alike), on N migrations already applied:
//   node-pg-bare    node + pg: connect, `select 1`, exit (the floor of any Node.js CLI)
//   tidemark up     no-op `migrate up` (bin/migrate.js: the bundled CLI, as the package and the image run it)
//   dbmate up       dbmate's no-op `up` as npm installs it (node_modules/.bin/dbmate: a Node.js launcher that
//                   spawns the Go binary); dbmate-go: the Go binary alone, for scale
//   tidemark status / dbmate status
// and prints medians, min/max and the ratios against the targets of issue 9.
//
//   node bench/runner-bench.mjs                 # N=1000, RUNS=7 (after one warm-up round)
//   N=100 RUNS=5 node bench/runner-bench.mjs
// Settings (environment): N, RUNS, BENCH_DATABASE_URL (a superuser URL of the maintenance database; default from
// PGHOST/PGPORT/PGUSER, else postgres://postgres@127.0.0.1:5432/postgres), BENCH_PEERS (a folder for the peers;
// default a temporary one, removed after), BENCH_JSON (write the results there too).
// Peers come from the npm registry (`npm install pg dbmate` into BENCH_PEERS); databases are bench_tm_<pid> and
// bench_dbmate_<pid>, dropped at the end, on failure too. Run `npm run build` first (bench/run-runner.sh does).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { benchDatabase, dropAtExit } from './bench-db.mjs';
import { generate } from './gen.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const N = Number(process.env.N ?? 1000);
const RUNS = Number(process.env.RUNS ?? 7);
const adminUrl =
  process.env.BENCH_DATABASE_URL ??
  `postgres://${process.env.PGUSER ?? 'postgres'}@${process.env.PGHOST ?? '127.0.0.1'}:${process.env.PGPORT ?? 5432}/postgres`;
const cli = join(root, 'bin', 'migrate.js');
if (!existsSync(join(root, 'dist', 'cli.js'))) {
  console.error('runner-bench: dist/ is not built; run npm run build (or bench/run-runner.sh)');
  process.exit(2);
}

const ownPeers = !process.env.BENCH_PEERS;
const peers = process.env.BENCH_PEERS ?? mkdtempSync(join(tmpdir(), 'tidemark-bench-peers-'));
const work = mkdtempSync(join(tmpdir(), 'tidemark-bench-'));
const dbs = { tidemark: benchDatabase('bench_tm'), dbmate: benchDatabase('bench_dbmate') };
// A signal or an error before the finally below still drops them.
dropAtExit(Object.values(dbs), { adminDb: adminUrl });
const urlOf = (db) => {
  const url = new URL(adminUrl);
  url.pathname = `/${db}`;
  return url.toString();
};

async function admin(sql) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

function must(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${result.status}: ${(result.stderr || result.stdout || '').slice(-800)}`,
    );
  }
  return result;
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main() {
  const dbmateBin = join(peers, 'node_modules', '.bin', 'dbmate');
  if (!existsSync(dbmateBin) || !existsSync(join(peers, 'node_modules', 'pg'))) {
    console.error(`runner-bench: installing the peers (pg, dbmate) into ${peers} from npm`);
    must('npm', ['install', '--prefix', peers, '--no-audit', '--no-fund', '--no-save', 'pg@8', 'dbmate@2']);
  }
  generate(N, work);
  console.error(`runner-bench: ${N} migrations in ${work}`);
  for (const db of Object.values(dbs)) {
    await admin(`drop database if exists ${db} with (force)`);
    await admin(`create database ${db}`);
  }

  const tmEnv = {
    ...process.env,
    CI: '1',
    DATABASE_URL: urlOf(dbs.tidemark),
    MIGRATIONS_DIR: join(work, 'sql/migrations'),
    ROLLBACK_DIR: join(work, 'sql/rollback'),
    BACKUP_BEFORE_MIGRATE: 'false',
  };
  const dbmateArgs = [
    '--url',
    `${urlOf(dbs.dbmate)}?sslmode=disable`,
    '--no-dump-schema',
    '--migrations-dir',
    join(work, 'dbmate'),
  ];
  // Apply everything once (untimed): the cells below all time "nothing to do".
  must(process.execPath, [cli, 'up', '--skip-lint'], { env: tmEnv });
  must(dbmateBin, [...dbmateArgs, 'up']);
  const dbmateGo = join(peers, 'node_modules', '@dbmate', `${process.platform}-${process.arch}`, 'bin', 'dbmate');

  const cells = [
    {
      tool: 'node-pg-bare',
      phase: 'noop',
      cmd: process.execPath,
      args: [join(root, 'bench', 'bare-pg.cjs')],
      env: { ...process.env, DATABASE_URL: urlOf(dbs.tidemark), PEERS: peers },
    },
    { tool: 'tidemark', phase: 'noop up', cmd: process.execPath, args: [cli, 'up'], env: tmEnv },
    { tool: 'dbmate', phase: 'noop up', cmd: dbmateBin, args: [...dbmateArgs, 'up'] },
    // What `npx dbmate` / node_modules/.bin/dbmate runs: a Node.js launcher that spawns the Go binary (the
    // reference of the targets); and the Go binary alone, for scale.
    { tool: 'dbmate-go', phase: 'noop up', cmd: dbmateGo, args: [...dbmateArgs, 'up'] },
    { tool: 'tidemark', phase: 'status', cmd: process.execPath, args: [cli, 'status'], env: tmEnv },
    { tool: 'dbmate', phase: 'status', cmd: dbmateBin, args: [...dbmateArgs, 'status'] },
  ];
  for (const cell of cells) cell.times = [];
  for (let round = 0; round <= RUNS; round += 1) {
    for (const cell of cells) {
      const started = process.hrtime.bigint();
      const result = spawnSync(cell.cmd, cell.args, {
        env: cell.env ?? process.env,
        stdio: ['ignore', 'ignore', 'pipe'],
        encoding: 'utf8',
      });
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (result.status !== 0)
        throw new Error(`${cell.tool} ${cell.phase} exited ${result.status}: ${result.stderr.slice(-800)}`);
      if (round > 0) cell.times.push(ms); // round 0 warms the page cache and the server
    }
  }
  const med = (tool, phase) => median(cells.find((c) => c.tool === tool && c.phase === phase).times);
  const rows = cells.map((c) => ({
    tool: c.tool,
    phase: c.phase,
    median_ms: +median(c.times).toFixed(1),
    min_ms: +Math.min(...c.times).toFixed(1),
    max_ms: +Math.max(...c.times).toFixed(1),
    runs: c.times.length,
  }));
  const ratios = [
    { what: 'no-op up / bare node+pg', ratio: med('tidemark', 'noop up') / med('node-pg-bare', 'noop'), target: 1.0 },
    { what: 'no-op up / dbmate no-op up', ratio: med('tidemark', 'noop up') / med('dbmate', 'noop up'), target: 1.1 },
    { what: 'status / dbmate status', ratio: med('tidemark', 'status') / med('dbmate', 'status'), target: 1.3 },
  ];
  const dbmateVersion = must(dbmateBin, ['--version']).stdout.trim();
  console.log(
    `# runner-bench: N=${N}, ${RUNS} runs each (interleaved, after 1 warm-up round), node ${process.version}, ${dbmateVersion}`,
  );
  console.log('| tool | phase | median ms | min | max | runs |\n| --- | --- | --- | --- | --- | --- |');
  for (const r of rows)
    console.log(`| ${r.tool} | ${r.phase} | ${r.median_ms} | ${r.min_ms} | ${r.max_ms} | ${r.runs} |`);
  console.log('\n| ratio | value | target |\n| --- | --- | --- |');
  for (const r of ratios)
    console.log(
      `| ${r.what} | ${r.ratio.toFixed(2)}x | <= ${r.target.toFixed(1)}x ${r.ratio <= r.target ? '(met)' : '(missed)'} |`,
    );
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify({ N, RUNS, rows, ratios }, null, 2));
}

try {
  await main();
} finally {
  for (const db of Object.values(dbs)) await admin(`drop database if exists ${db} with (force)`).catch(() => {});
  rmSync(work, { recursive: true, force: true });
  if (ownPeers) rmSync(peers, { recursive: true, force: true });
}
