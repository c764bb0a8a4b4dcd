// Compares builds of the CLI (the targets against the psql floor and dbmate are bench/runner-bench.mjs's):
// `up` of N generated migrations (bench/gen.mjs) from an empty database, and the no-op `up` (every pod start
// after the first), beside the one-session psql floor (BEGIN; \i file; COMMIT; per migration) and psql's bare
// connect, interleaved run by run so that a noisy shared machine hits every
// candidate alike. For a before/after of a change: copy dist/ bin/ package.json of the old build elsewhere
// (with a node_modules symlink), rebuild, and pass both.
//
//   N=1000 RUNS=5 node bench/runner-timing.mjs /tmp/before/bin/migrate.js bin/migrate.js
//
// Connection: PG* variables (default 127.0.0.1:5432, user postgres); databases bench_t_*_<pid> are dropped at the
// end (also on an error or a signal).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { benchDatabase, dropAtExit } from './bench-db.mjs';
import { generate } from './gen.mjs';

const clis = process.argv.slice(2);
if (clis.length === 0) {
  console.error('usage: node bench/runner-timing.mjs CLI [CLI...]   (N, RUNS, PG* in the environment)');
  process.exit(2);
}
const migDir = mkdtempSync(join(tmpdir(), 'tidemark-timing-'));
generate(Number(process.env.N ?? 1000), migDir);
const sessionScript = join(migDir, 'up-session.sql');
writeFileSync(
  sessionScript,
  readdirSync(join(migDir, 'sql', 'migrations'))
    .sort()
    .map((f) => `BEGIN;\n\\i ${join(migDir, 'sql', 'migrations', f)}\nCOMMIT;\n`)
    .join(''),
);
const runs = Number(process.env.RUNS ?? 5);
const host = process.env.PGHOST ?? '127.0.0.1';
const port = process.env.PGPORT ?? '5432';
const user = process.env.PGUSER ?? 'postgres';
const psqlEnv = { ...process.env, PGHOST: host, PGPORT: port, PGUSER: user };
const psql = (db, ...args) =>
  execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db, ...args], {
    env: psqlEnv,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
const recreate = (db) => {
  psql('postgres', '-c', `drop database if exists ${db} with (force)`);
  psql('postgres', '-c', `create database ${db}`);
};
const timed = (cmd, args, env, cwd) => {
  const started = performance.now();
  const r = spawnSync(cmd, args, { env, cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - started;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const sqlDir = resolve(migDir, 'sql');
const candidates = [
  {
    name: 'psql-session',
    db: benchDatabase('bench_t_floor'),
    up: (db) => timed('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db, '-f', sessionScript], psqlEnv),
    noop: (db) => timed('psql', ['-X', '-q', '-d', db, '-c', 'select 1'], psqlEnv),
  },
  ...clis.map((cli, i) => {
    const db = benchDatabase(`bench_t_cli${i}`);
    const env = {
      ...process.env,
      DATABASE_URL: `postgres://${user}@${host}:${port}/${db}`,
      BACKUP_BEFORE_MIGRATE: 'false',
      CI: '1',
    };
    const run = () => timed(process.execPath, [resolve(cli), 'up', '--json'], env, sqlDir);
    return { name: cli, db, up: run, noop: run };
  }),
];

const results = new Map(candidates.map((c) => [c.name, { up: [], noop: [] }]));
const dropDatabases = dropAtExit(
  candidates.map((c) => c.db),
  { env: psqlEnv },
);
try {
  for (let r = 0; r < runs; r += 1) {
    for (const c of candidates) {
      recreate(c.db);
      results.get(c.name).up.push(c.up(c.db));
      results.get(c.name).noop.push(c.noop(c.db));
    }
  }
} finally {
  dropDatabases();
  rmSync(migDir, { recursive: true, force: true });
}
const floor = results.get('psql-session');
console.log(`| tool | up median ms | x floor | no-op up median ms | x connect floor |`);
console.log(`| --- | --- | --- | --- | --- |`);
for (const [name, r] of results) {
  const up = median(r.up);
  const noop = median(r.noop);
  console.log(
    `| ${name} | ${up.toFixed(0)} | ${(up / median(floor.up)).toFixed(2)} | ${noop.toFixed(0)} | ${(noop / median(floor.noop)).toFixed(2)} |`,
  );
}
console.log(
  `(medians of ${runs}; min/max up: ${[...results].map(([n, r]) => `${n} ${Math.min(...r.up).toFixed(0)}/${Math.max(...r.up).toFixed(0)}`).join(', ')})`,
);
