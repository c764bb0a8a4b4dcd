#!/usr/bin/env node
// Benchmark of the backup step (issue 5): tidemark's takeBackup (pg_dump -Fc + validation: pg_restore --list,
// TABLE DATA match, archive walk + sha256) against a bare `pg_dump -Fc` of the same database, same binary,
// same run, rounds interleaved so that cache warmth and background noise hit both alike. Target: <= 1.1x.
//
//   node bench/backup-bench.mjs [--size-mb 1024] [--rounds 3] [--regenerate]
//   BENCH_DATABASE_URL=postgres://user@host:5432/postgres   server to use (default: the local one)
//
// The database (tm_bench_<size>mb) is generated once by bench/backup-generate.sql (orders, customers, events
// with text, numeric, timestamps, jsonb and indexes; see the file) and kept for later runs unless --regenerate.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const sizeMb = Number(opt('--size-mb', '1024'));
const rounds = Number(opt('--rounds', '3'));
const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/postgres';
const dbName = `tm_bench_${sizeMb}mb`;
const dbUrl = (() => {
  const u = new URL(adminUrl);
  u.pathname = `/${dbName}`;
  return u.toString();
})();

// Bundle the library's backup module (TypeScript) for plain node.
const work = mkdtempSync(join(tmpdir(), 'tidemark-bench-'));
const bundle = join(work, 'backup.mjs');
await build({
  entryPoints: [join(here, '..', 'src', 'backup', 'index.ts')],
  outfile: bundle,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  logLevel: 'warning',
});
const backupLib = await import(pathToFileURL(bundle).href);
const paramsLib = await import(
  pathToFileURL(
    await (async () => {
      const out = join(work, 'params.mjs');
      await build({
        entryPoints: [join(here, '..', 'src', 'db', 'params.ts')],
        outfile: out,
        bundle: true,
        format: 'esm',
        platform: 'node',
        logLevel: 'warning',
        banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
      });
      return out;
    })(),
  ).href
);

const psql = (url, sqlArgs) =>
  execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, ...sqlArgs], { encoding: 'utf8' });
const exists = psql(adminUrl, ['-Atc', `select count(*) from pg_database where datname = '${dbName}'`]).trim() === '1';
if (!exists || args.includes('--regenerate')) {
  if (exists) psql(adminUrl, ['-c', `drop database "${dbName}" with (force)`]);
  psql(adminUrl, ['-c', `create database "${dbName}"`]);
  const t = Date.now();
  psql(dbUrl, ['-v', `size_mb=${sizeMb}`, '-f', join(here, 'backup-generate.sql')]);
  console.error(`generated ${dbName} in ${((Date.now() - t) / 1000).toFixed(0)} s`);
}
psql(dbUrl, ['-c', 'checkpoint']);
const dbBytes = Number(psql(dbUrl, ['-Atc', 'select pg_database_size(current_database())']).trim());

const params = paramsLib.paramsFromUrl(dbUrl);
const pg = await import('pg');
const probe = new pg.default.Client({ connectionString: dbUrl });
await probe.connect();
const server = await backupLib.serverVersion(probe);
await probe.end();
const tools = await backupLib.findPgTools({ serverVersionNum: server.num });
const env = paramsLib.libpqChildEnv(params);

const bare = [];
const ours = [];
let dumpBytes = 0;
let lastBackup;
const validation = [];
/** tidemark's own work around the dump: checks, snapshot, validation, rename (total minus the pg_dump run). */
const overhead = [];
const runBare = () => {
  // Bare pg_dump, as the seed's script runs it.
  const file = join(work, 'bare.dump');
  const t = process.hrtime.bigint();
  const r = spawnSync(tools.pgDump.path, ['--format=custom', `--file=${file}`, '--no-password'], {
    env,
    stdio: 'inherit',
  });
  if (r.status !== 0) throw new Error('bare pg_dump failed');
  bare.push(Number(process.hrtime.bigint() - t) / 1e6);
  dumpBytes = statSync(file).size;
  rmSync(file);
};
const runOurs = async (round) => {
  // tidemark: the backup step's dump + validation.
  const dir = join(work, `round-${round}`);
  const t = process.hrtime.bigint();
  lastBackup = await backupLib.takeBackup({ params, dir, versionBefore: null, tools });
  ours.push(Number(process.hrtime.bigint() - t) / 1e6);
  validation.push(lastBackup.validateMs);
  overhead.push(ours.at(-1) - lastBackup.dumpMs);
  rmSync(dir, { recursive: true, force: true });
};
for (let round = 1; round <= rounds; round++) {
  // Alternate which goes first, so neither always meets a warmer cache.
  if (round % 2 === 1) {
    runBare();
    await runOurs(round);
  } else {
    await runOurs(round);
    runBare();
  }
  console.error(
    `round ${round}: bare ${(bare.at(-1) / 1000).toFixed(2)} s, tidemark ${(ours.at(-1) / 1000).toFixed(2)} s (dump ${(lastBackup.dumpMs / 1000).toFixed(2)} s + validation ${(lastBackup.validateMs / 1000).toFixed(2)} s)`,
  );
}
rmSync(work, { recursive: true, force: true });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mb = (b) => `${(b / 1024 / 1024).toFixed(0)} MB`;
const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
const min = (xs) => Math.min(...xs);
console.log(
  `| database (pg_database_size) | dump file | rounds | bare pg_dump -Fc: median / best | tidemark dump + validation: median / best | ratio of medians / of bests | tidemark's own work (median) | own work / its pg_dump run |`,
);
console.log(`| --- | --- | --- | --- | --- | --- | --- | --- |`);
console.log(
  `| ${mb(dbBytes)} | ${mb(dumpBytes)} | ${rounds} | ${s(median(bare))} / ${s(min(bare))} | ${s(median(ours))} / ${s(min(ours))} | ` +
    `${(median(ours) / median(bare)).toFixed(3)}x / ${(min(ours) / min(bare)).toFixed(3)}x | ${s(median(overhead))} (validation ${s(median(validation))}) | ` +
    `${((median(overhead) / (median(ours) - median(overhead))) * 100).toFixed(1)}% |`,
);
console.log(
  `\nper round: bare ${bare.map(s).join(', ')}; tidemark ${ours.map(s).join(', ')}; ${tools.pgDump.version.text}`,
);
