// Measures the SQL module: parser load, splitting and linting 1000 statements (issue 4 and 6 closing notes).
// Run: node bench/sql-bench.mjs   (bundles src/sql with esbuild under node_modules/.cache, then runs it)
import { build } from 'esbuild';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// Inside node_modules so that the bundle resolves libpg-query from the project (ESM ignores NODE_PATH).
await mkdir(join(root, 'node_modules', '.cache'), { recursive: true });
const out = await mkdtemp(join(root, 'node_modules', '.cache', 'tidemark-bench-'));
try {
  await build({
    stdin: {
      contents: `export * from './src/sql/parser.ts'; export * from './src/sql/split.ts'; export { lintFiles, LintRun } from './src/sql/lint/index.ts';`,
      resolveDir: root,
      loader: 'ts',
    },
    outfile: join(out, 'sql.mjs'),
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: ['libpg-query'],
    logLevel: 'warning',
  });
  const sql = await import(pathToFileURL(join(out, 'sql.mjs')).href);
  await run(sql);
} finally {
  await rm(out, { recursive: true, force: true });
}

function statements(n) {
  const kinds = [
    (i) => `alter table t${i % 50} add column c${i} text`,
    (i) => `create index concurrently i${i} on t${i % 50} (c${i})`,
    (i) => `update t${i % 50} set c = 'x;y' where id = ${i}`,
    (i) => `create function f${i}() returns int language plpgsql as $fn$ begin return ${i}; end $fn$`,
    (i) => `-- a comment ; with a semicolon\nalter table t${i % 50} add constraint k${i} check (c${i} <> '') not valid`,
    (i) => `insert into log (msg) values (E'row\\'s ${i}; 😀')`,
    (i) => `alter table t${i % 50} alter column c${i} set not null`,
    (i) => `select * from t${i % 50} where "we;ird" = $$${i}$$`,
  ];
  return Array.from({ length: n }, (_, i) => kinds[i % kinds.length](i)).join(';\n') + ';\n';
}

function time(fn, runs = 20) {
  fn(); // warm-up
  const samples = [];
  for (let r = 0; r < runs; r++) {
    const started = performance.now();
    fn();
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)], min: samples[0] };
}

async function run(sql) {
  const started = performance.now();
  await sql.loadParser();
  const loadMs = performance.now() - started;

  const text = statements(1000);
  const file = { displayPath: 'bench.sql', text, directives: { noTransaction: false, allow: [] } };
  const split = time(() => {
    const result = sql.parseStatementsSync(text);
    if (result.length !== 1000) throw new Error(`split ${result.length} statements`);
  });
  const lint = time(() => new sql.LintRun({ pgVersion: 150000 }).lintFile(file));
  const findings = new sql.LintRun({ pgVersion: 150000 }).lintFile(file).length;

  const fmt = (ms) => `${ms.toFixed(1)} ms`;
  console.log(`parser load (import + WebAssembly init): ${fmt(loadMs)}`);
  console.log(
    `split 1000 statements (${(text.length / 1024).toFixed(0)} KiB): median ${fmt(split.median)}, best ${fmt(split.min)}`,
  );
  console.log(
    `lint 1000 statements (parse + 30 rules, ${findings} findings): median ${fmt(lint.median)}, best ${fmt(lint.min)}`,
  );
}
