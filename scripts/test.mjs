// npm test: the build, then every test (vitest), with the type check running beside both.
//
// The type check is the largest single step before the tests (~25 s of CPU for src/, test/ and bench/ on a
// clone's first run), and the tests leave much of the CPU idle: their workers wait on PostgreSQL, on child
// processes and on the states they poll for. Run one after the other, the two costs add up; side by side, the
// check fills that idle time. Its output is printed after the tests', so the two never interleave, and the
// run fails if either fails. It is incremental (build info in node_modules/.cache): a second run re-checks
// only what changed. Arguments go to vitest: `npm test -- test/core/plan.test.ts`.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { getPriority, setPriority } from 'node:os';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');
// vitest's exports hide its bin: go from its package.json.
const vitest = join(dirname(require.resolve('vitest/package.json')), 'vitest.mjs');

const started = performance.now();
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

function run(args, options = {}) {
  const start = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: options.capture ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    // A lower priority (nice) for a step that only fills idle time: the tests' workers, which wait on the
    // server and on children, get the CPU first when they want it.
    if (options.nice) {
      try {
        setPriority(child.pid, Math.min(19, getPriority() + options.nice));
      } catch {
        // Not allowed here: it runs at the same priority, which only costs the tests some wall time.
      }
    }
    let output = '';
    if (options.capture) {
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
    }
    child.on('close', (code, signal) =>
      resolve({ code: code ?? (signal ? 1 : 0), output, ms: performance.now() - start }),
    );
  });
}

const typecheck = run(
  [tsc, '--noEmit', '--incremental', '--tsBuildInfoFile', 'node_modules/.cache/tidemark/typecheck.tsbuildinfo'],
  { capture: true, nice: 5 },
);
const build = await run(['scripts/build.mjs']);
const tests = build.code === 0 ? await run([vitest, 'run', ...process.argv.slice(2)]) : build;
const checked = await typecheck;
process.stdout.write(checked.output);
process.stdout.write(checked.code === 0 ? 'Type check: no errors.\n' : 'Type check: failed (above).\n');
if (build.code !== 0) process.stderr.write('The build failed: no tests were run.\n');
// Wall times of the steps (the type check ran beside the other two).
process.stdout.write(
  `npm test: ${seconds(performance.now() - started)} (build ${seconds(build.ms)}, tests ${seconds(build.code === 0 ? tests.ms : 0)}, type check ${seconds(checked.ms)} beside them)\n`,
);
process.exitCode = tests.code || checked.code;
