/**
 * The CLI holds V8's optimizing compiler off while migrations run (cli/context.ts, src/v8-flags.ts: its
 * background compiles cost a one-off process more than they save, and their memory stays resident) and gives it
 * back when the command ends. Seen through V8's own status of a function (natives syntax, turned on only
 * around each probe). It also keeps the young generation from growing once the files are read (seen in a child
 * process's heap statistics at exit).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';
import { CLI, makeProject, runCli, spawnCli } from '../helpers/project.js';

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

/** What a CI shell gives a CLI process: PATH, HOME, CI=1 and the database, nothing of the test's environment. */
function cliEnv(url: string): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', CI: '1', DATABASE_URL: url };
}

/**
 * `migrate status` in a process of its own, with `preload` (CommonJS source) required first: a preload, not a
 * V8 flag, so the bundle's code cache is still taken.
 */
function statusWithPreload(dir: string, url: string, preload: string) {
  const probe = join(dir, 'probe.cjs');
  writeFileSync(probe, preload);
  return spawnCli(process.execPath, ['--require', probe, '--', CLI, 'status'], {
    cwd: dir,
    env: cliEnv(url),
  });
}

describe('the young generation during a command', () => {
  it('keeps the size it had when the files are read, in a process of its own', async () => {
    // 1000 files of ~1.2 KB (as bench/gen.mjs writes): reading them grew the semi-spaces from 2 to 4 MB, whose
    // new pages a run then touched. A preload (not a V8 flag: the bundle's code cache is still taken) says how
    // big the young generation is at exit.
    const files: Record<string, string> = {};
    const body = `-- ${'a migration of a realistic size '.repeat(3)}\n`.repeat(12);
    for (let i = 1; i <= 1000; i += 1)
      files[`migrations/${String(i).padStart(4, '0')}_m${i}.sql`] = `${body}select ${i};\n`;
    const result = await statusWithPreload(
      makeProject(files),
      db.url,
      "process.on('exit', () => { const s = require('node:v8').getHeapSpaceStatistics().find((x) => x.space_name === 'new_space'); process.stderr.write(`young generation: ${s.space_size}\\n`); });\n",
    );
    expect(result.code, result.stderr).toBe(0);
    const size = Number(/young generation: (\d+)/.exec(result.stderr)?.[1]);
    // Semi-spaces of 2 MB (the size the bundle's load grows them to), not 4.
    expect(size).toBeGreaterThan(0);
    expect(size).toBeLessThanOrEqual(4 * 1024 * 1024);
  });
});

describe('built-ins a held flag would compile from source', () => {
  /**
   * Whether node:tls was loaded when the CLI first turned a V8 flag (a preload wraps setFlagsFromString: a
   * built-in loaded after that misses node's code cache). pg loads tls only at the SSL upgrade, after the young
   * generation's hold has begun; the server here refuses SSL, which is after that point too.
   */
  async function tlsLoadedAtFirstFlag(url: string): Promise<string | undefined> {
    const result = await statusWithPreload(
      makeProject({ 'migrations/001_a.sql': 'create table a (id int);\n' }),
      url,
      "const v8 = require('node:v8'); const set = v8.setFlagsFromString; let seen = false; v8.setFlagsFromString = (f) => { if (!seen) { seen = true; process.stderr.write(`tls at first flag: ${process.moduleLoadList.includes('NativeModule tls')}\\n`); } return set(f); };\n",
    );
    return /tls at first flag: (\w+)/.exec(result.stderr)?.[1];
  }

  it('loads tls before the first hold when the connection asks for SSL, and not otherwise', async () => {
    const ssl = new URL(db.url);
    ssl.searchParams.set('sslmode', 'require');
    expect(await tlsLoadedAtFirstFlag(ssl.toString())).toBe('true');
    expect(await tlsLoadedAtFirstFlag(db.url)).toBe('false');
  });
});

describe('a no-op command with stdout and stderr going to files', () => {
  /**
   * The built-ins loaded after the CLI first turned a V8 flag, for `command` run with both streams sent to a
   * file: then neither stream loads net (a pipe or a terminal does), and pg's socket would, under the hold.
   */
  function loadedUnderTheHold(dir: string, command: string): { code: number | null; modules: string } {
    const probe = join(dir, 'probe.cjs');
    writeFileSync(
      probe,
      "const v8 = require('node:v8'); const set = v8.setFlagsFromString; let before; v8.setFlagsFromString = (f) => { before ??= new Set(process.moduleLoadList); return set(f); }; process.on('exit', () => { require('node:fs').writeSync(2, `under the hold: [${process.moduleLoadList.filter((m) => before && !before.has(m) && m.startsWith('NativeModule')).join(', ')}] held: ${before !== undefined}\\n`); });\n",
    );
    const out = join(dir, 'out.log');
    const fd = openSync(out, 'w');
    try {
      const result = spawnSync(process.execPath, ['--require', probe, '--', CLI, command], {
        cwd: dir,
        env: { ...cliEnv(db.url), BACKUP_BEFORE_MIGRATE: 'false' },
        stdio: ['ignore', fd, fd],
      });
      return { code: result.status, modules: readFileSync(out, 'utf8') };
    } finally {
      closeSync(fd);
    }
  }

  it('loads no built-in under a held V8 flag on a no-op (it would be compiled from source): net is loaded before', () => {
    const dir = makeProject({ 'migrations/001_a.sql': 'create table a (id int);\n' });
    // Applied first: a run loads more (pg_dump's child_process, perf_hooks for its timing) and may, once.
    expect(loadedUnderTheHold(dir, 'up').code).toBe(0);
    for (const command of ['status', 'up']) {
      const { code, modules } = loadedUnderTheHold(dir, command);
      expect(code, modules).toBe(0);
      expect(modules, command).toContain('held: true');
      expect(modules, command).toContain('under the hold: []');
    }
  });
});
