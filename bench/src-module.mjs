// A module of src/ (TypeScript) for a bench in plain node: bundled by esbuild into node_modules/.cache (inside the
// project, so that the packages it leaves external resolve from the project's node_modules), then imported.
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The module src/`entry` (e.g. 'schema/snapshot.ts'), bundled with what it imports but the `external` packages.
 * The bundle is named by this process and removed when it exits.
 */
export async function importSource(entry, { external = [] } = {}) {
  const dir = join(root, 'node_modules', '.cache', 'tidemark-bench');
  mkdirSync(dir, { recursive: true });
  const outfile = join(dir, `${entry.replace(/\W/g, '_')}-${process.pid}.mjs`);
  process.on('exit', () => rmSync(outfile, { force: true }));
  await build({
    entryPoints: [join(root, 'src', entry)],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external,
    // Bundled CommonJS dependencies (pg) call require(); give them one.
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  return import(pathToFileURL(outfile).href);
}
