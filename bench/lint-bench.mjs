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
// Issue 10's target (the pre-run lint of 1000 pending files: 250 ms, 80 MB) is printed under the table, both
// ways: the lint part of `up` (`up` stopped by its lint minus `status`, which pays the same start-up,
// connection, history and files) and the whole `up` process; the memory is the whole process's peak RSS.
// `down --all --dry-run` of the same 1000 migrations, applied first (a second database), runs the preflight
// of a real `down --all` (the production guard and the lint of the 1000 rollback files, knowing the ups they
// undo) and stops before the runner lock; with `--skip-lint` beside it, their difference is what the lint
// adds to `down --all` (issue 12's down target).
//
//   node bench/lint-bench.mjs                 this tree (built: npm run build)
//   node bench/lint-bench.mjs /tmp/ref        also another built tree, e.g. main's:
//       git worktree add /tmp/ref main && ln -s "$PWD/node_modules" /tmp/ref/ && (cd /tmp/ref && npm run build)
//
// Environment: RUNS (default 5, medians), N (files, default 1000), CELLS (e.g. `cli-up,lib-catalog`: only those
// rows; the modes are parse, cli-offline, cli-catalog, cli-up, lib-offline, lib-catalog, cli-status, cli-down,
// cli-down-skip), BENCH_DATABASE_URL (a superuser's URL, default postgres://postgres@127.0.0.1:5432/postgres):
// databases tidemark_lintbench_<pid> and tidemark_lintbench_<pid>_down are created and dropped. Every cell is a fresh process, run under /usr/bin/time (process CPU = user + system, peak RSS);
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
  const downDbName = `${dbName}_down`;
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const dbUrl = withDatabase(adminUrl, dbName);
  const downDbUrl = withDatabase(adminUrl, downDbName);
  const cleanup = async () => {
    rmSync(work, { recursive: true, force: true });
    await admin.query(`drop database if exists ${dbName} with (force)`).catch(() => undefined);
    await admin.query(`drop database if exists ${downDbName} with (force)`).catch(() => undefined);
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
    const modes = ['cli-offline', 'cli-catalog', 'cli-up', 'lib-offline', 'lib-catalog', 'cli-status'];
    for (const tree of trees) {
      for (const mode of [...modes, 'cli-down', 'cli-down-skip']) cells.push({ tree, mode });
    }
    const only = process.env.CELLS?.split(',');
    if (only) cells.splice(0, cells.length, ...cells.filter((c) => only.includes(c.mode)));
    if (cells.some((c) => c.mode.startsWith('cli-down'))) {
      // The 1000 migrations applied (this tree's CLI, no lint, no backup), for `down --all --dry-run`.
      await admin.query(`create database ${downDbName}`);
      const applied = spawnSync(process.execPath, ['--', join(root, 'bin', 'migrate.js'), 'up', '--skip-lint'], {
        encoding: 'utf8',
        cwd: work,
        env: { ...cellEnv(work, migrationsDir, true), DATABASE_URL: downDbUrl, BACKUP_BEFORE_MIGRATE: 'false' },
      });
      if (applied.status !== 0) throw new Error(`applying the migrations for down: ${applied.stderr}`);
    }
    for (const cell of cells) cell.samples = [];
    for (let r = 0; r < runs; r++) {
      for (const cell of cells) cell.samples.push(measure(cell, { migrationsDir, dbUrl, downDbUrl, work }));
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
        'cli-down': 'CLI `migrate down --all --dry-run` (preflight: guard, lint of the rollbacks)',
        'cli-down-skip': 'CLI `migrate down --all --dry-run --skip-lint`',
      }[cell.mode];
      const catalog =
        cell.mode.endsWith('offline') || cell.mode === 'parse'
          ? 'none'
          : cell.mode.startsWith('cli-down')
            ? '1000 tables + the 1000 applied'
            : '1000 tables';
      console.log(
        `| ${cell.tree.name} | ${what} | ${catalog} | ${fmt(median(cell, 'lintCpuMs'))} | ${fmt(median(cell, 'lintWallMs'))} | ${fmt(median(cell, 'cpuMs'))} | ${fmt(median(cell, 'wallMs'))} | ${fmt(median(cell, 'rssMB'))} | ${cell.samples[0].findings ?? ''} |`,
      );
    }
    // The targets, per tree: the lint's part of a command is the command minus the same command without it.
    const cellOf = (tree, mode) => cells.find((c) => c.tree === tree && c.mode === mode);
    const diff = (a, b, key) =>
      a && b && median(a, key) !== undefined && median(b, key) !== undefined
        ? median(a, key) - median(b, key)
        : undefined;
    console.log('');
    for (const tree of trees) {
      const up = cellOf(tree, 'cli-up');
      const status = cellOf(tree, 'cli-status');
      if (up && status) {
        console.log(
          `${tree.name}: pre-run lint of ${n} pending files (target 250 ms, 80 MB): the lint part of \`up\` (up stopped by its lint minus status) ${fmt(diff(up, status, 'wallMs'))} ms wall, ${fmt(diff(up, status, 'cpuMs'))} ms CPU; the whole \`up\` process ${fmt(median(up, 'wallMs'))} ms wall, ${fmt(median(up, 'cpuMs'))} ms CPU; peak RSS ${fmt(median(up, 'rssMB'))} MB (status ${fmt(median(status, 'rssMB'))} MB)`,
        );
      }
      const down = cellOf(tree, 'cli-down');
      const skip = cellOf(tree, 'cli-down-skip');
      if (down && skip) {
        console.log(
          `${tree.name}: what the lint adds to \`down --all\` of ${n} (down --all --dry-run minus --skip-lint): ${fmt(diff(down, skip, 'wallMs'))} ms wall, ${fmt(diff(down, skip, 'cpuMs'))} ms CPU, ${fmt(diff(down, skip, 'rssMB'))} MB peak RSS (${fmt(median(down, 'rssMB'))} against ${fmt(median(skip, 'rssMB'))})`,
        );
      }
    }
  } finally {
    await cleanup();
  }
}

/**
 * The environment of every cell: minimal (no NODE_EXTRA_CA_CERTS or the like: see decisions). The rollback
 * folder only for `down` (the other cells keep the conditions of earlier sessions' figures).
 */
function cellEnv(work, migrationsDir, rollbacks = false) {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME ?? work, NO_COLOR: '1', MIGRATIONS_DIR: migrationsDir };
  if (rollbacks) env.ROLLBACK_DIR = join(migrationsDir, '..', 'rollback');
  return env;
}

/** One fresh process for `cell`, under /usr/bin/time. */
function measure(cell, { migrationsDir, dbUrl, downDbUrl, work }) {
  const timeFile = join(work, 'time.txt');
  const env = cellEnv(work, migrationsDir, cell.mode.startsWith('cli-down'));
  const connected = cell.mode.endsWith('catalog') || cell.mode === 'cli-status' || cell.mode === 'cli-up';
  if (connected) env.DATABASE_URL = dbUrl;
  if (cell.mode.startsWith('cli-down')) env.DATABASE_URL = downDbUrl;
  // Every generated file has a bigserial: as an error, it makes `up` refuse after linting all of them.
  if (cell.mode === 'cli-up') env.LINT_RULES = 'prefer-identity:error';
  let args;
  if (cell.mode.startsWith('cli-')) {
    const command = {
      'cli-status': ['status'],
      'cli-up': ['up'],
      'cli-down': ['down', '--all', '--dry-run'],
      'cli-down-skip': ['down', '--all', '--dry-run', '--skip-lint'],
    }[cell.mode] ?? ['lint'];
    args = ['--', join(cell.tree.dir, 'bin', 'migrate.js'), ...command];
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
