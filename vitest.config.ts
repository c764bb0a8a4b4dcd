import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

const { version } = JSON.parse(readFileSync(new URL('package.json', import.meta.url), 'utf8')) as { version: string };

export default defineConfig({
  // What scripts/build.mjs puts into the bundle, for tests that import src/ directly.
  define: { __TIDEMARK_VERSION__: JSON.stringify(version) },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Files run in parallel, each on its own database; two workers fit the 2-core machine.
    pool: 'forks',
    maxWorkers: 2,
    // A worker keeps the modules it loaded from one test file to the next (src/, pg, vitest itself): loading
    // them again for each of ~70 files was half the CPU of the light files. Safe because no test changes
    // process-wide state (no vi.mock, no cwd change, no fake timers, process.env put back by whoever changes it), which
    // test/layers.test.ts checks.
    isolate: false,
  },
});
