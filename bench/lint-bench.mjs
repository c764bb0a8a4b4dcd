// The pre-run lint of 1000 pending files (issue 10): CPU, wall time and peak memory of linting the migrations
// bench/gen.mjs writes, through the CLI (`migrate lint`) and through the library (`createMigrator().lint()`),
// offline and connected to a database whose catalog holds 1000 other tables. Connected, `lint` lints the
// pending files as one run with the live catalog: the same call (core/preflight.ts lintMigrations) as the
// preflight of `up`, without applying anything, so every run sees the same 1000 pending files. Offline each
// file is linted on its own (what `migrate lint` does without a database). `migrate up` is measured as it pays
// its pre-run lint: with LINT_RULES=prefer-identity:error every generated file has an error, so `up` lints all
// 1000 pending files against the catalog and stops there (exit 1), before the runner lock, the backup and any
// migration: start-up, connection, history, files, catalog read and lint. The raw parse (libpg-query, the
// same files in batches of 50, JSON.parse included, baseline tier) is the reference: the lint cannot cost less.
//
//   node bench/lint-bench.mjs                 this tree (built: npm run build)
//   node bench/lint-bench.mjs /tmp/ref        also another built tree, e.g. main's:
//       git worktree add /tmp/ref main && ln -s "$PWD/node_modules" /tmp/ref/ && (cd /tmp/ref && npm run build)
//
// Environment: RUNS (default 5, medians), N (files, default 1000), CELLS (e.g. `cli-up,lib-catalog`: only those
// rows; the modes are parse, cli-offline, cli-catalog, cli-up, lib-offline, lib-catalog, cli-status), BENCH_DATABASE_URL (a superuser's URL,
// default postgres://postgres@127.0.0.1:5432/postgres): a database tidemark_lintbench_<pid> is created and
// dropped. Every cell is a fresh process, run under /usr/bin/time (process CPU = user + system, peak RSS);
// the library cells also time the lint() call alone (`lint` columns). Cells are interleaved run by run, so a
// noisy shared machine hits every candidate alike. CPU time is the steadier figure there: wall time includes
// waiting for a core.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

if (process.argv[2] === '--child') await child(JSON.parse(process.argv[3]));
else await main(process.argv.slice(2));

async function main(refs) {
  const runs = Number(process.env.RUNS ?? 5);
  const n = Number(process.env.N ?? 1000);
  const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  if (!existsSync('/usr/bin/time')) throw new Error('needs /usr/bin/time (GNU time) for process CPU and peak RSS');
  const trees = [{ name: 'this tree', dir: root }, ...refs.map((dir) => ({ name: dir, dir: resolve(dir) }))];
  for (const tree of trees) {
    if (!existsSync(join(tree.dir, 'dist', 'index.js'))) throw new Error(`${tree.dir}: not built (npm run build)`);
  }
  const work = mkdtempSync(join(tmpdir(), 'tidemark-lint-bench-'));
  const dbName = `tidemark_lintbench_${process.pid}`;
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const dbUrl = withDatabase(adminUrl, dbName);
  const cleanup = async () => {
    rmSync(work, { recursive: true, force: true });
    await admin.query(`drop database if exists ${dbName} with (force)`).catch(() => undefined);
    await admin.end().catch(() => undefined);
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    const gen = spawnSync(process.execPath, [join(root, 'bench', 'gen.mjs'), String(n), work], { encoding: 'utf8' });
    if (gen.status !== 0) throw new Error(gen.stderr);
    const migrationsDir = join(work, 'sql', 'migrations');
    await admin.query(`create database ${dbName}`);
    const db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
    // 1000 existing tables, none of the names the pending files use: a non-empty database with a catalog.
    await db.query(`do $$ begin for i in 0..999 loop
      execute format('create table legacy_%s (id bigint primary key, name text, status text check (status <> ''''),
                      amount numeric(12,2), created_at timestamptz not null default now())', i);
      execute format('create index legacy_%s_status on legacy_%s (status)', i, i);
    end loop; end $$`);
    await db.end();

    const cells = [{ tree: trees[0], mode: 'parse' }];
    for (const tree of trees) {
      for (const mode of ['cli-offline', 'cli-catalog', 'cli-up', 'lib-offline', 'lib-catalog', 'cli-status']) {
        cells.push({ tree, mode });
      }
    }
    const only = process.env.CELLS?.split(',');
    if (only) cells.splice(0, cells.length, ...cells.filter((c) => only.includes(c.mode)));
    for (const cell of cells) cell.samples = [];
    for (let r = 0; r < runs; r++) {
      for (const cell of cells) cell.samples.push(measure(cell, { migrationsDir, dbUrl, work }));
    }
    const median = (cell, key) => {
      const values = cell.samples.map((s) => s[key]).filter((v) => v !== undefined);
      if (values.length === 0) return undefined;
      return values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
    };
    const fmt = (v) => (v === undefined ? '' : v.toFixed(0));
    const load = loadavg().map((l) => l.toFixed(2));
    console.log(`${n} files, ${runs} run(s), medians; load average ${load.join(' ')} (1/5/15 min) at the end`);
    console.log('');
    console.log(
      '| tree | what | catalog | lint CPU (ms) | lint wall (ms) | process CPU (ms) | process wall (ms) | peak RSS (MB) | findings |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const cell of cells) {
      const what = {
        parse: 'raw parse (reference)',
        'cli-offline': 'CLI `migrate lint`',
        'cli-catalog': 'CLI `migrate lint`',
        'cli-up': 'CLI `migrate up` (stops after its pre-run lint)',
        'lib-offline': 'library `lint({ offline: true })`',
        'lib-catalog': 'library `lint()`',
        'cli-status': 'CLI `migrate status` (no lint: startup, connect, files)',
      }[cell.mode];
      const catalog = cell.mode.endsWith('offline') || cell.mode === 'parse' ? 'none' : '1000 tables';
      console.log(
        `| ${cell.tree.name} | ${what} | ${catalog} | ${fmt(median(cell, 'lintCpuMs'))} | ${fmt(median(cell, 'lintWallMs'))} | ${fmt(median(cell, 'cpuMs'))} | ${fmt(median(cell, 'wallMs'))} | ${fmt(median(cell, 'rssMB'))} | ${cell.samples[0].findings ?? ''} |`,
      );
    }
  } finally {
    await cleanup();
  }
}

/** One fresh process for `cell`, under /usr/bin/time. */
function measure(cell, { migrationsDir, dbUrl, work }) {
  const timeFile = join(work, 'time.txt');
  const env = { PATH: process.env.PATH, HOME: process.env.HOME ?? work, NO_COLOR: '1', MIGRATIONS_DIR: migrationsDir };
  const connected = cell.mode.endsWith('catalog') || cell.mode === 'cli-status' || cell.mode === 'cli-up';
  if (connected) env.DATABASE_URL = dbUrl;
  // Every generated file has a bigserial: as an error, it makes `up` refuse after linting all of them.
  if (cell.mode === 'cli-up') env.LINT_RULES = 'prefer-identity:error';
  let args;
  if (cell.mode.startsWith('cli-')) {
    const command = { 'cli-status': 'status', 'cli-up': 'up' }[cell.mode] ?? 'lint';
    args = ['--', join(cell.tree.dir, 'bin', 'migrate.js'), command];
  } else {
    const spec = { mode: cell.mode, dir: cell.tree.dir, migrationsDir, dbUrl: connected ? dbUrl : undefined };
    args = [fileURLToPath(import.meta.url), '--child', JSON.stringify(spec)];
  }
  const res = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', '-o', timeFile, process.execPath, ...args], {
    encoding: 'utf8',
    env,
    cwd: work,
    maxBuffer: 64 * 1024 * 1024,
  });
  // `migrate lint` exits 1 when it finds errors; anything else is a failed cell. `up` must be refused by the
  // lint (exit 1, lint-blocked): had it run a migration, the next run would not see 1000 pending files.
  const refused =
    cell.mode === 'cli-up' && res.status === 1 && /cannot start: \d+ unacknowledged lint error/.test(res.stderr);
  if (cell.mode === 'cli-up' ? !refused : res.status !== 0 && !(cell.mode.startsWith('cli-') && res.status === 1)) {
    throw new Error(`${cell.mode} (${cell.tree.dir}) exited ${res.status}: ${res.stderr}`);
  }
  const [wall, user, sys, maxKb] = readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
  const sample = { wallMs: wall * 1000, cpuMs: (user + sys) * 1000, rssMB: maxKb / 1024 };
  if (cell.mode.startsWith('cli-')) {
    const summary = /(\d+) errors?, (\d+) warnings?/.exec(`${res.stdout}\n${res.stderr}`);
    if (summary) sample.findings = Number(summary[1]) + Number(summary[2]);
    const blocked = /cannot start: (\d+) unacknowledged/.exec(res.stderr);
    if (blocked) sample.findings = Number(blocked[1]);
  } else {
    Object.assign(sample, JSON.parse(res.stdout));
  }
  return sample;
}

async function child(spec) {
  const files = () =>
    readdirSync(spec.migrationsDir)
      .sort()
      .map((name) => readFileSync(join(spec.migrationsDir, name), 'utf8'));
  if (spec.mode === 'parse') {
    // What the lint cannot go below: the grammar over every statement, as the CLI runs it (baseline tier).
    (await import('node:v8')).setFlagsFromString('--liftoff-only');
    const texts = files();
    const lib = await import(pathToFileURL(join(spec.dir, 'node_modules', 'libpg-query', 'wasm', 'index.js')).href);
    await lib.loadModule();
    const started = performance.now();
    const cpu = process.cpuUsage();
    let statements = 0;
    for (let i = 0; i < texts.length; i += 50) {
      statements += lib.parseSync(texts.slice(i, i + 50).join('\n;')).stmts.length;
    }
    report(started, cpu, { statements });
    return;
  }
  const { createMigrator } = await import(pathToFileURL(join(spec.dir, 'dist', 'index.js')).href);
  const migrator = createMigrator({
    migrations: { directory: spec.migrationsDir },
    ...(spec.dbUrl ? { database: spec.dbUrl } : {}),
  });
  const started = performance.now();
  const cpu = process.cpuUsage();
  const result = await migrator.lint(spec.dbUrl ? {} : { offline: true });
  report(started, cpu, { findings: result.findings.length });
  await migrator.close?.();
}

function report(started, cpu, extra) {
  const lintWallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  process.stdout.write(JSON.stringify({ lintWallMs, lintCpuMs: (used.user + used.system) / 1000, ...extra }));
}

function withDatabase(url, name) {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}
