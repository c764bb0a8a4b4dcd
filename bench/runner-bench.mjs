// The runner benchmark: every speed and memory target of issues 9 and 12 in one run, each tool beside its
// reference, interleaved round by round (A B C A B C ...) so that a noisy neighbour hits every tool alike.
//
//   noop   N migrations already applied (what every pod start pays):
//            node-pg-bare     node + pg: connect, `select 1`, exit (bench/bare-pg.cjs; the floor of a Node.js CLI)
//            tidemark up      no-op `migrate up` (bin/migrate.js, as the package and the image run it)
//            dbmate up        dbmate's no-op `up` as npm installs it (node_modules/.bin/dbmate: a Node.js launcher
//                             that spawns the Go binary); dbmate-go: the Go binary alone, for scale
//            tidemark status / dbmate status
//          with NODE_EXTRA_CA_CERTS set, each of these also runs without it ("CA unset"), interleaved, and both sets
//          of ratios are printed
//   up     `up` of N generated migrations (bench/gen.mjs full) on an empty database, beside the one-session psql
//          floor (BEGIN; \i file; COMMIT; per migration, one psql) and dbmate; then `down --all` beside the psql
//          floor of the rollbacks (newest first), and `down --all --skip-lint` (the runner's part of it, without the
//          lint of the rollback files; the history is applied again, untimed, before it)
//   tiny   the same `up` on N tiny migrations (bench/gen.mjs tiny: one short statement each)
//
// Each process is timed by bash around it (wall from $EPOCHREALTIME, CPU from `times`, both finer than
// /usr/bin/time's 10 ms) and /usr/bin/time for its peak RSS; without them, what is there (wall at least).
// Prints medians, the ratios against the targets (wall and CPU), and the load average before and after.
//
//   node bench/runner-bench.mjs                  # N=1000, RUNS=5, every case (bench/run-runner.sh builds first)
//   N=100 RUNS=3 BENCH_CASES=noop node bench/runner-bench.mjs
// Settings (environment): N, RUNS, BENCH_CASES (comma-separated: noop,up,tiny), BENCH_DATABASE_URL (a superuser
// URL of the maintenance database; default from PGHOST/PGPORT/PGUSER, else postgres://postgres@127.0.0.1:5432/
// postgres), BENCH_PEERS (a folder for the peers; default a temporary one, removed after), BENCH_JSON (write the
// results there too). Peers come from the npm registry (`npm install pg dbmate` into BENCH_PEERS); psql must be
// on PATH. Databases are bench_<tool>_<pid>, dropped at the end, on failure too.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { dropAtExit } from './bench-db.mjs';
import { generate, migrations, tinyMigrations } from './gen.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const N = Number(process.env.N ?? 1000);
const RUNS = Number(process.env.RUNS ?? 5);
const CASES = (process.env.BENCH_CASES ?? 'noop,up,tiny').split(',').map((c) => c.trim());
const adminUrl =
  process.env.BENCH_DATABASE_URL ??
  `postgres://${process.env.PGUSER ?? 'postgres'}@${process.env.PGHOST ?? '127.0.0.1'}:${process.env.PGPORT ?? 5432}/postgres`;
const cli = join(root, 'bin', 'migrate.js');
if (!existsSync(join(root, 'dist', 'cli.cjs'))) {
  console.error('runner-bench: dist/ is not built; run npm run build (or bench/run-runner.sh)');
  process.exit(2);
}
const TIME = ['/usr/bin/time', '/bin/time'].find((p) => existsSync(p));

const ownPeers = !process.env.BENCH_PEERS;
const peers = process.env.BENCH_PEERS ?? mkdtempSync(join(tmpdir(), 'tidemark-bench-peers-'));
const work = mkdtempSync(join(tmpdir(), 'tidemark-bench-'));
const created = new Set();
// A signal before the finally at the end still drops them (bench/bench-db.mjs).
dropAtExit(created, { adminDb: adminUrl });
const dbName = (tool) => `bench_${tool}_${process.pid}`;
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

async function recreate(db) {
  created.add(db);
  await admin(`drop database if exists ${db} with (force)`);
  await admin(`create database ${db}`);
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

const BASH = ['/bin/bash', '/usr/bin/bash'].find((p) => existsSync(p));
/**
 * Wraps a command in bash, which takes the wall time around it from $EPOCHREALTIME (µs; bash's own start is not
 * in it) and its CPU from `times` (the children's user and sys, in ms): /usr/bin/time's %U and %S come in 10 ms
 * steps, ±15-30 % of a 30-60 ms no-op cell.
 */
const TIMED = 't0=$EPOCHREALTIME; "$@"; s=$?; t1=$EPOCHREALTIME; { echo "$t0 $t1"; times; } > "$BENCH_TIMES"; exit $s';

/** "0m0.045s" -> 45 (ms). */
function bashTime(text) {
  const [, m, sec] = /^(\d+)m([\d.]+)s$/.exec(text) ?? [];
  return Number(m) * 60_000 + Number(sec) * 1000;
}

/**
 * Runs a command once; { wall, cpu, rss } in ms and MB. With bash: wall and CPU from it (TIMED), peak RSS from
 * /usr/bin/time around it (its largest process, the command). Without bash, /usr/bin/time's 10 ms CPU; without
 * either, wall only.
 */
function measure(cmd, args, env) {
  const out = join(work, 'time.txt');
  const times = join(work, 'times.txt');
  const wrapped = BASH ? [BASH, '-c', TIMED, 'bash', cmd, ...args] : [cmd, ...args];
  const started = process.hrtime.bigint();
  const result = spawnSync(TIME ?? wrapped[0], TIME ? ['-f', '%e %U %S %M', '-o', out, ...wrapped] : wrapped.slice(1), {
    env: { ...(env ?? process.env), BENCH_TIMES: times },
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  let wall = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} exited ${result.status}: ${result.stderr.slice(-800)}`);
  let cpu;
  if (BASH) {
    const [span, , children] = readFileSync(times, 'utf8').trim().split('\n');
    const [t0, t1] = span.split(' ').map(Number);
    wall = (t1 - t0) * 1000;
    const [user, sys] = children.split(' ').map(bashTime);
    cpu = user + sys;
  }
  if (!TIME) return { wall, cpu, rss: undefined };
  const [, user, sys, rssKb] = readFileSync(out, 'utf8').trim().split('\n').at(-1).split(' ').map(Number);
  return { wall, cpu: cpu ?? (user + sys) * 1000, rss: rssKb / 1024 };
}

function median(values) {
  const s = values.filter((v) => v !== undefined).sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const psqlArgs = (db, file) => ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', urlOf(db), '-f', file];
/** One psql session running every file in its own transaction: the floor of any runner. */
function sessionScript(name, files) {
  const path = join(work, name);
  writeFileSync(path, files.map((f) => `BEGIN;\n\\i ${f}\nCOMMIT;\n`).join(''));
  return path;
}

const tidemarkEnv = (db, dir) => ({
  ...process.env,
  CI: '1',
  DATABASE_URL: urlOf(db),
  MIGRATIONS_DIR: join(dir, 'sql/migrations'),
  ROLLBACK_DIR: join(dir, 'sql/rollback'),
  BACKUP_BEFORE_MIGRATE: 'false',
});
const dbmateArgs = (db, dir) => [
  '--url',
  `${urlOf(db)}?sslmode=disable`,
  '--no-dump-schema',
  '--migrations-dir',
  join(dir, 'dbmate'),
];

const rows = [];
const ratios = [];
const cellsOf = (c) => c.samples;
function record(group, cells) {
  for (const c of cells) {
    const s = cellsOf(c);
    rows.push({
      case: group,
      tool: c.tool,
      phase: c.phase,
      wall_ms: median(s.map((x) => x.wall)),
      cpu_ms: median(s.map((x) => x.cpu)),
      rss_mb: median(s.map((x) => x.rss)),
      max_rss_mb: s.some((x) => x.rss !== undefined) ? Math.max(...s.map((x) => x.rss ?? 0)) : undefined,
      min_wall_ms: Math.min(...s.map((x) => x.wall)),
      max_wall_ms: Math.max(...s.map((x) => x.wall)),
      runs: s.length,
    });
  }
}
function ratio(what, group, a, b, target) {
  const find = ([tool, phase]) => rows.find((r) => r.case === group && r.tool === tool && r.phase === phase);
  const [x, y] = [find(a), find(b)];
  ratios.push({
    what,
    wall: x.wall_ms / y.wall_ms,
    cpu: x.cpu_ms !== undefined && y.cpu_ms !== undefined ? x.cpu_ms / y.cpu_ms : undefined,
    target,
  });
}

/** The environment without NODE_EXTRA_CA_CERTS (see noopCase). */
function withoutExtraCa(env) {
  const copy = { ...env };
  delete copy.NODE_EXTRA_CA_CERTS;
  return copy;
}

async function noopCase(dbmateBin, dbmateGo) {
  const dir = join(work, 'full');
  generate(N, dir);
  const [tm, dm] = [dbName('tm'), dbName('dbmate')];
  await recreate(tm);
  await recreate(dm);
  // Apply everything once (untimed): the cells below all time "nothing to do".
  must(process.execPath, [cli, 'up', '--skip-lint'], { env: tidemarkEnv(tm, dir) });
  must(dbmateBin, [...dbmateArgs(dm, dir), 'up']);
  // NODE_EXTRA_CA_CERTS (a CA bundle every node process parses at start, ~70 ms of CPU on the session-4 machine)
  // is a constant that narrows every ratio: when it is set, each cell also runs without it, interleaved, and
  // both sets of ratios are reported (a pod without the variable sees the second). Go's dbmate ignores it.
  const variants = process.env.NODE_EXTRA_CA_CERTS
    ? [
        { suffix: ', CA set', env: (e) => e },
        { suffix: ', CA unset', env: withoutExtraCa },
      ]
    : [{ suffix: '', env: (e) => e }];
  const cells = [];
  for (const v of variants) {
    cells.push(
      {
        tool: 'node-pg-bare',
        phase: `connect+select 1${v.suffix}`,
        run: () =>
          measure(
            process.execPath,
            [join(root, 'bench', 'bare-pg.cjs')],
            v.env({ ...process.env, DATABASE_URL: urlOf(tm), PEERS: peers }),
          ),
      },
      {
        tool: 'tidemark',
        phase: `noop up${v.suffix}`,
        run: () => measure(process.execPath, [cli, 'up'], v.env(tidemarkEnv(tm, dir))),
      },
      {
        tool: 'dbmate',
        phase: `noop up${v.suffix}`,
        run: () => measure(dbmateBin, [...dbmateArgs(dm, dir), 'up'], v.env(process.env)),
      },
      {
        tool: 'tidemark',
        phase: `status${v.suffix}`,
        run: () => measure(process.execPath, [cli, 'status'], v.env(tidemarkEnv(tm, dir))),
      },
      {
        tool: 'dbmate',
        phase: `status${v.suffix}`,
        run: () => measure(dbmateBin, [...dbmateArgs(dm, dir), 'status'], v.env(process.env)),
      },
    );
  }
  cells.push({ tool: 'dbmate-go', phase: 'noop up', run: () => measure(dbmateGo, [...dbmateArgs(dm, dir), 'up']) });
  for (const c of cells) c.samples = [];
  for (let round = 0; round <= RUNS; round += 1) {
    for (const c of cells) {
      const sample = c.run();
      if (round > 0) c.samples.push(sample); // round 0 warms the page cache and the server
    }
  }
  record('noop', cells);
  for (const { suffix } of variants) {
    const up = ['tidemark', `noop up${suffix}`];
    ratio(`no-op up / bare node+pg${suffix}`, 'noop', up, ['node-pg-bare', `connect+select 1${suffix}`], 1.0);
    ratio(`no-op up / dbmate no-op up${suffix}`, 'noop', up, ['dbmate', `noop up${suffix}`], 1.1);
    ratio(
      `status / dbmate status${suffix}`,
      'noop',
      ['tidemark', `status${suffix}`],
      ['dbmate', `status${suffix}`],
      1.3,
    );
  }
}

async function upCase(group, kind, dbmateBin) {
  const dir = join(work, kind);
  generate(N, dir, kind);
  const list = kind === 'tiny' ? tinyMigrations(N) : migrations(N);
  const ups = list.map((m) => join(dir, 'sql/migrations', `${m.version}_${m.name}.sql`));
  const downs = list.map((m) => join(dir, 'sql/rollback', `${m.version}_${m.name}_rollback.sql`)).reverse();
  const upScript = sessionScript(`${kind}-up.sql`, ups);
  const downScript = sessionScript(`${kind}-down.sql`, downs);
  const [floor, tm, dm] = [dbName(`floor_${kind}`), dbName(`tm_${kind}`), dbName(`dbmate_${kind}`)];
  const cells = {
    floorUp: { tool: 'psql-session', phase: 'up', samples: [] },
    tmUp: { tool: 'tidemark', phase: 'up', samples: [] },
    dmUp: { tool: 'dbmate', phase: 'up', samples: [] },
    floorDown: { tool: 'psql-session', phase: 'down all', samples: [] },
    tmDown: { tool: 'tidemark', phase: 'down --all', samples: [] },
    tmDownNoLint: { tool: 'tidemark', phase: 'down --all --skip-lint', samples: [] },
  };
  for (let round = 0; round < RUNS; round += 1) {
    for (const db of [floor, tm, dm]) await recreate(db);
    cells.floorUp.samples.push(measure('psql', psqlArgs(floor, upScript)));
    cells.tmUp.samples.push(measure(process.execPath, [cli, 'up'], tidemarkEnv(tm, dir)));
    cells.dmUp.samples.push(measure(dbmateBin, [...dbmateArgs(dm, dir), 'up']));
    if (group === 'up') {
      cells.floorDown.samples.push(measure('psql', psqlArgs(floor, downScript)));
      cells.tmDown.samples.push(measure(process.execPath, [cli, 'down', '--all', '--yes'], tidemarkEnv(tm, dir)));
      // The runner's own part of down --all, without the lint of the rollback files (the lint's topic): the
      // same history applied again (untimed), then rolled back with --skip-lint.
      must(process.execPath, [cli, 'up', '--skip-lint'], { env: tidemarkEnv(tm, dir) });
      cells.tmDownNoLint.samples.push(
        measure(process.execPath, [cli, 'down', '--all', '--yes', '--skip-lint'], tidemarkEnv(tm, dir)),
      );
    }
  }
  const kept = group === 'up' ? Object.values(cells) : [cells.floorUp, cells.tmUp, cells.dmUp];
  record(group, kept);
  const label = group === 'up' ? 'up' : 'up (tiny)';
  ratio(`${label} / psql floor`, group, ['tidemark', 'up'], ['psql-session', 'up'], group === 'up' ? 1.0 : 1.15);
  ratio(`${label} / dbmate up`, group, ['tidemark', 'up'], ['dbmate', 'up'], 1.0);
  if (group === 'up') {
    ratio('down --all / psql floor', group, ['tidemark', 'down --all'], ['psql-session', 'down all'], 1.1);
    ratio(
      'down --all --skip-lint / psql floor',
      group,
      ['tidemark', 'down --all --skip-lint'],
      ['psql-session', 'down all'],
      1.1,
    );
  }
}

function fmt(v, digits = 0) {
  return v === undefined ? '-' : v.toFixed(digits);
}

async function main() {
  const dbmateBin = join(peers, 'node_modules', '.bin', 'dbmate');
  if (!existsSync(dbmateBin) || !existsSync(join(peers, 'node_modules', 'pg'))) {
    console.error(`runner-bench: installing the peers (pg, dbmate) into ${peers} from npm`);
    must('npm', ['install', '--prefix', peers, '--no-audit', '--no-fund', '--no-save', 'pg@8', 'dbmate@2']);
  }
  const dbmateGo = join(peers, 'node_modules', '@dbmate', `${process.platform}-${process.arch}`, 'bin', 'dbmate');
  const loadBefore = loadavg();
  if (CASES.includes('noop')) await noopCase(dbmateBin, dbmateGo);
  if (CASES.includes('up')) await upCase('up', 'full', dbmateBin);
  if (CASES.includes('tiny')) await upCase('tiny', 'tiny', dbmateBin);
  const loadAfter = loadavg();

  const dbmateVersion = must(dbmateBin, ['--version']).stdout.trim();
  console.log(
    `# runner-bench: N=${N}, ${RUNS} runs each (interleaved; noop after 1 warm-up round), node ${process.version}, ${dbmateVersion}, psql ${must('psql', ['--version']).stdout.trim().split(' ').at(-1)}`,
  );
  console.log(
    `# load average (1/5/15 min): before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`,
  );
  if (process.env.NODE_EXTRA_CA_CERTS)
    console.log(
      "# NODE_EXTRA_CA_CERTS is set: every node process (tidemark, bare node+pg, dbmate's launcher) parses that file at start, a constant that narrows the ratios; the no-op cells ran with it (CA set) and without it (CA unset), interleaved; `up` and `tiny` ran with it",
    );
  if (!TIME) console.log('# no /usr/bin/time here: wall time only');
  console.log(
    '| case | tool | phase | wall ms | CPU ms (user+sys) | peak RSS MB (median / max) | wall min-max | runs |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows)
    console.log(
      `| ${r.case} | ${r.tool} | ${r.phase} | ${fmt(r.wall_ms)} | ${fmt(r.cpu_ms)} | ${fmt(r.rss_mb, 1)} / ${fmt(r.max_rss_mb, 1)} | ${fmt(r.min_wall_ms)}-${fmt(r.max_wall_ms)} | ${r.runs} |`,
    );
  console.log('\n| ratio | wall | CPU | target |\n| --- | --- | --- | --- |');
  for (const r of ratios)
    console.log(
      `| ${r.what} | ${r.wall.toFixed(2)}x | ${r.cpu === undefined ? '-' : `${r.cpu.toFixed(2)}x`} | <= ${r.target.toFixed(2)}x ${r.wall <= r.target ? '(met on wall)' : '(missed on wall)'} |`,
    );
  const rssRow = rows.find((r) => r.case === 'up' && r.tool === 'tidemark' && r.phase === 'up');
  if (rssRow?.max_rss_mb !== undefined)
    console.log(
      `\nPeak RSS of tidemark \`up\` of ${N} migrations: ${rssRow.max_rss_mb.toFixed(1)} MB (target <= 64 MB).`,
    );
  if (process.env.BENCH_JSON)
    writeFileSync(
      process.env.BENCH_JSON,
      JSON.stringify(
        { N, RUNS, node: process.version, load: { before: loadBefore, after: loadAfter }, rows, ratios },
        null,
        2,
      ),
    );
}

try {
  await main();
} finally {
  for (const db of created) await admin(`drop database if exists ${db} with (force)`).catch(() => {});
  rmSync(work, { recursive: true, force: true });
  if (ownPeers) rmSync(peers, { recursive: true, force: true });
}
