/**
 * The CLI holds V8's optimizing compiler off while migrations run (cli/context.ts, src/v8-flags.ts: its
 * background compiles cost a one-off process more than they save, and their memory stays resident) and gives it
 * back when the command ends. Seen through V8's own status of a function (natives syntax, turned on only
 * around each probe).
 */
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';
import { makeProject, runCli } from '../helpers/project.js';

const db = useTestDatabase('cli_optimizer_hold', { resetEach: true });

/** Whether V8 optimizes a hot function when asked to now (status bit 16: "optimized"). */
function optimizerOn(): boolean {
  setFlagsFromString('--allow-natives-syntax');
  try {
    const probe = new Function(`
      function hot(x) { return (x * 3) % 7; }
      %PrepareFunctionForOptimization(hot);
      hot(1); hot(2);
      %OptimizeFunctionOnNextCall(hot);
      hot(3);
      return %GetOptimizationStatus(hot);`) as () => number;
    return (probe() & 16) !== 0;
  } finally {
    setFlagsFromString('--no-allow-natives-syntax');
  }
}

describe('the optimizing compiler during a run', () => {
  it('is off while migrations run and back on when the command ends', async () => {
    expect(optimizerOn()).toBe(true);
    const dir = makeProject({
      'migrations/001_a.sql': 'create table a (id int);\n',
      'migrations/002_wait.sql': 'select pg_sleep(0.3);\n',
    });
    const during: boolean[] = [];
    const result = await runCli(['up', '--skip-lint'], {
      cwd: dir,
      env: { DATABASE_URL: db.url },
      onStderr: (text) => {
        if (text.includes('Applying 002_wait')) during.push(optimizerOn());
      },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(during.length).toBeGreaterThan(0);
    expect(during.every((on) => !on)).toBe(true);
    expect(optimizerOn()).toBe(true);
  });

});
