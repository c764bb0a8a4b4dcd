// The pre-run lint of 1000 pending files (issue 10): time and peak memory of one `lintFiles` over the 1000
// migrations the runner benchmark generates (bench/gen.mjs, in memory: a table with two indexes, a column
// on the previous table, a plpgsql function, a few rows), without and with a catalog (1000 existing tables).
//
//   node bench/lint-bench.mjs                 this tree
//   node bench/lint-bench.mjs /tmp/ref        also a reference tree (e.g. git archive <commit> src | tar -x -C /tmp/ref)
//
// Each figure comes from fresh child processes (median of RUNS, default 5): the time is the lint alone after
// the parser is loaded (what every `up` on a non-empty database pays), wall and CPU (user + system), the
// memory the child's peak RSS.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { migrations } from './gen.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

if (process.argv[2] === '--child') {
  await child(process.argv[3], process.argv[4]);
} else {
  await main(process.argv.slice(2));
}

async function main(refs) {
  await mkdir(join(root, 'node_modules', '.cache'), { recursive: true });
  const out = await mkdtemp(join(root, 'node_modules', '.cache', 'tidemark-lint-bench-'));
  const runs = Number(process.env.RUNS ?? 5);
  try {
    const trees = [{ name: 'this tree', dir: root }, ...refs.map((dir) => ({ name: dir, dir: resolve(dir) }))];
    const cells = [];
    for (const [i, tree] of trees.entries()) {
      const bundle = join(out, `lint-${i}.mjs`);
      await build({
        stdin: {
          contents: `export { loadParser } from './src/sql/parser.ts'; export { lintFiles } from './src/sql/lint/index.ts';`,
          resolveDir: tree.dir,
          loader: 'ts',
        },
        outfile: bundle,
        bundle: true,
        format: 'esm',
        platform: 'node',
        target: 'node20',
        external: ['libpg-query'],
        logLevel: 'warning',
      });
      const modes = i === 0 ? ['offline', 'catalog', 'offline+cli', 'catalog+cli'] : ['offline', 'catalog'];
      for (const mode of modes) cells.push({ tree: tree.name, mode, bundle, samples: [] });
    }
    // Interleaved run by run, so that a noisy shared machine hits every candidate alike.
    for (let r = 0; r < runs; r++) {
      for (const cell of cells) {
        const res = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', cell.bundle, cell.mode], {
          encoding: 'utf8',
        });
        if (res.status !== 0) throw new Error(res.stderr);
        cell.samples.push(JSON.parse(res.stdout));
      }
    }
    const rows = cells.map((cell) => {
      const median = (k) =>
        [...cell.samples.map((s) => s[k])].sort((a, b) => a - b)[Math.floor(cell.samples.length / 2)];
      return {
        tree: cell.tree,
        mode: cell.mode,
        lintMs: median('lintMs'),
        cpuMs: median('cpuMs'),
        loadMs: median('loadMs'),
        rssMB: median('rssMB'),
        findings: cell.samples[0].findings,
      };
    });
    // CPU time is the steadier figure on a shared machine: wall time there includes waiting for a core.
    console.log(
      '| tree | catalog | lint 1000 files: wall (ms) | CPU (ms) | parser load (ms) | peak RSS (MB) | findings |',
    );
    console.log('|---|---|---|---|---|---|---|');
    for (const r of rows)
      console.log(
        `| ${r.tree}${r.mode.endsWith('+cli') ? ' (as the CLI: --liftoff-only)' : ''} | ${r.mode.startsWith('catalog') ? '1000 tables' : 'none (offline)'} | ${r.lintMs.toFixed(0)} | ${r.cpuMs.toFixed(0)} | ${r.loadMs.toFixed(0)} | ${r.rssMB.toFixed(0)} | ${r.findings} |`,
      );
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

async function child(bundle, mode) {
  // `--liftoff-only`: what bin/migrate.js sets for the CLI (the library leaves V8's flags alone).
  if (mode.endsWith('+cli')) (await import('node:v8')).setFlagsFromString('--liftoff-only');
  const sql = await import(pathToFileURL(bundle).href);
  const files = generate(1000);
  const context = { pgVersion: 150000, ...(mode.startsWith('catalog') ? { catalog: catalog(1000) } : {}) };
  const loadStarted = performance.now();
  await sql.loadParser();
  const loadMs = performance.now() - loadStarted;
  const started = performance.now();
  const cpu = process.cpuUsage();
  const findings = await sql.lintFiles(files, context);
  const lintMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000;
  const rssMB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ lintMs, cpuMs, loadMs, rssMB, findings: findings.length }));
}

/** The up files of bench/gen.mjs (the runner benchmark's generator), as the lint reads them. */
function generate(n) {
  return migrations(n).map(({ version, name, up }) => ({
    displayPath: `migrations/${version}_${name}.sql`,
    text: up,
    directives: { noTransaction: false, allow: [] },
  }));
}

/** A catalog of `n` existing tables (other names than the pending files create), as db/catalog.ts reads one. */
function catalog(n) {
  const tables = new Map();
  const indexTables = new Map();
  const relations = new Map();
  for (let i = 0; i < n; i++) {
    const name = `legacy_${i}`;
    tables.set(`public.${name}`, {
      schema: 'public',
      name,
      estimatedRows: 100_000,
      sizeBytes: 50_000_000,
      columns: ['id', 'name', 'status', 'amount', 'created_at'].map((c) => ({
        name: c,
        type: 'text',
        typeName: 'text',
        mods: [],
        notNull: false,
      })),
      constraints: [
        { name: `${name}_pkey`, type: 'p', validated: true, definition: 'PRIMARY KEY (id)' },
        { name: `${name}_ck`, type: 'c', validated: true, definition: "CHECK ((status <> ''::text))" },
      ],
      indexes: [
        {
          name: `${name}_pkey`,
          unique: true,
          valid: true,
          definition: `CREATE UNIQUE INDEX ${name}_pkey ON public.${name} USING btree (id)`,
        },
      ],
    });
    indexTables.set(`public.${name}_pkey`, `public.${name}`);
    relations.set(`public.${name}`, 'r');
    relations.set(`public.${name}_pkey`, 'i');
  }
  return {
    serverVersionNum: 150004,
    tables,
    indexTables,
    relations,
    functionVolatility: new Map([
      ['now', 's'],
      ['gen_random_uuid', 'v'],
    ]),
    schemas: new Set(['public', 'pg_catalog']),
    types: new Set(),
    searchPath: ['public'],
  };
}
