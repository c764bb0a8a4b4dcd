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
    // Caps that turn a hang into a named failure, not timings: on the shared 2-core box at a load of 15-20 a
    // test that spawns the CLI a few times and makes scratch databases took over 60 s.
    testTimeout: 180_000,
    hookTimeout: 300_000,
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
