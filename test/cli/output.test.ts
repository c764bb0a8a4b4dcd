/**
 * The terminal rendering: colour, spinner and ✔ lines under a real pseudo-terminal (util-linux `script`): the
 * spinner carrying the lock monitor's picture, the backfill's progress bar; and the plain lines of the same
 * events without a terminal (CI).
 */
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';
import { CLI, makeProject, runCli, spawnCli } from '../helpers/project.js';
import { until } from '../helpers/until.js';
import { progressBar } from '../../src/cli/output.js';

const db = useTestDatabase('tty');

function hasScript(): boolean {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// `script` (util-linux) gives the CLI a real TTY; without it there is no terminal to test.
describe.skipIf(!hasScript())('on a terminal', () => {
  /**
   * The CLI on a terminal of `cols` columns (none: a terminal that reports no size, as script's own pty),
   * running while the test acts; `output()` is what the terminal showed so far (-f: script flushes at once).
   */
  function onTerminal(dir: string, args: string[], options: { env?: Record<string, string>; cols?: number } = {}) {
    const cli = [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' ');
    const command = options.cols === undefined ? cli : `stty cols ${options.cols} rows 30; ${cli}`;
    let output = '';
    const done = spawnCli('script', ['-qfec', command, '/dev/null'], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        TERM: 'xterm-256color',
        DATABASE_URL: db.url,
        BACKUP_BEFORE_MIGRATE: 'false',
        ...options.env,
      },
      timeoutMs: 120_000,
      onSpawn: (child) => child.stdout!.on('data', (d: Buffer) => (output += d.toString())),
    });
    return { output: () => output, exited: done.then((result) => result.code) };
  }

  /** `migrate up` of one migration on a terminal, to its end (exit 0); what the terminal showed. */
  async function upOnTerminal(env: Record<string, string> = {}, cols: number | undefined = 100): Promise<string> {
    const dir = makeProject({ 'migrations/001_a.sql': 'create table a (id int);\nselect pg_sleep(0.3);\n' });
    const run = onTerminal(dir, ['up'], cols === undefined ? { env } : { env, cols });
    expect(await run.exited, run.output()).toBe(0);
    return run.output();
  }

  it('shows a spinner, a coloured ✔ per migration, and the summary', async () => {
    await db.reset();
    const out = await upOnTerminal();
    expect(out).toMatch(/✔.*applied 001_a/);
    expect(out).toMatch(/Applied 1 migration/);
    expect(out).toMatch(/\x1b\[3\dm/); // colour
  });

  it('falls back to plain lines on a terminal that reports no width (a spinner there would never stop)', async () => {
    await db.reset();
    const out = await upOnTerminal({}, undefined);
    expect(out).toMatch(/applied 001_a/);
    expect(out).not.toMatch(/\x1b\[1A/);
  });

  it('honours NO_COLOR', async () => {
    await db.reset();
    const out = await upOnTerminal({ NO_COLOR: '1' });
    expect(out).toMatch(/applied 001_a/);
    expect(out).not.toMatch(/\x1b\[3\dm/);
  });

  it("shows the lock monitor's picture in the spinner while a session waits on the migration", async () => {
    await db.reset();
    const dir = makeProject({
      'migrations/001_t.sql': 'create table t (id int);\ncreate table go (ok boolean);\n',
      'migrations/002_hold.sql':
        'lock table t in access exclusive mode;\n' +
        'do $$ begin for i in 1..600 loop exit when exists (select 1 from go); perform pg_sleep(0.1); end loop; end $$;\n',
    });
    await runCli(['up', '--to', '1'], { cwd: dir, env: { DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false' } });
    const run = onTerminal(dir, ['up', '--skip-lint'], { cols: 160 });
    const reader = new pg.Client({ connectionString: db.url, application_name: 'queued-reader' });
    await reader.connect();
    let query: Promise<unknown> | undefined;
    try {
      await until(
        'the migration to hold its lock',
        async () =>
          (
            await db.query(
              "select 1 from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 't' and l.mode = 'AccessExclusiveLock' and l.granted",
            )
          ).length > 0,
      );
      query = reader.query('select count(*) from t');
      await until('the picture in the spinner', () =>
        /1 session waiting on it \(longest \d+\.\d s\)/.test(run.output()),
      );
    } finally {
      await db.query('insert into go values (true)');
      await query;
      await reader.end();
    }
    expect(await run.exited).toBe(0);
    const out = run.output();
    // The spinner's line: the migration, its elapsed time, and the picture in yellow (not a line of its own).
    expect(out).toMatch(/Applying 002_hold.*\d+\.\ds.*\x1b\[33m1 session waiting on it \(longest \d+\.\d s\)/);
    expect(out).not.toMatch(/002_hold: 1 session waiting on it/);
    expect(out).toMatch(/✔.*applied 002_hold.*blocked up to 1 session at once/);
  });

  it('shows the backfill as a progress bar with rows, speed and ETA', async () => {
    await db.reset();
    await db.query('create table big (id int primary key, n int not null default 0)');
    await db.query('insert into big (id) select generate_series(1, 20000)');
    await db.query('analyze big');
    const dir = makeProject();
    const run = onTerminal(dir, ['backfill', 'big', '--set', 'n = n + 1', '--batch-size', '1000', '--pause', '100ms'], {
      cols: 160,
    });
    expect(await run.exited).toBe(0);
    const out = run.output();
    expect(out).toMatch(
      /Backfilling public\.big \[█+░*\] [\d,]+ rows of ~20,000 \(\d+%\), [\d,]+ rows\/s(, ETA \d+ s)?/,
    );
    expect(out).toMatch(/Backfill public\.big:\w+ finished: 20,000 rows walked, 20,000 updated, in 20 batches/);
  });
});

describe('without a terminal (CI lines)', () => {
  it('prints the backfill as lines: the start, progress at most every 5 s, and the result', async () => {
    await db.reset();
    await db.query('create table big (id int primary key, n int not null default 0)');
    await db.query('insert into big (id) select generate_series(1, 5000)');
    await db.query('analyze big');
    const result = await runCli(['backfill', 'big', '--set', 'n = n + 1', '--batch-size', '1000', '--pause', '0'], {
      cwd: makeProject(),
      env: { DATABASE_URL: db.url },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^Backfilling public\.big by id \(~5,000 rows\)\.$/m);
    expect(result.stderr).toMatch(
      /^backfill public\.big: 1,000 rows of ~5,000 \(20%\), [\d,]+ rows\/s(, ETA \d+ s)?$/m,
    );
    // No terminal: no spinner frames, no colour, no bar.
    expect(result.stderr + result.stdout).not.toMatch(/\x1b\[|█/);
    expect(result.stdout).toMatch(
      /^Backfill public\.big:\w+ finished: 5,000 rows walked, 5,000 updated, in 5 batches/m,
    );
  });

  it('draws the bar in proportion to the estimate, full past it', () => {
    expect(progressBar(0, 100, 10)).toBe('[░░░░░░░░░░]');
    expect(progressBar(55, 100, 10)).toBe('[█████░░░░░]');
    expect(progressBar(150, 100, 10)).toBe('[██████████]');
    expect(progressBar(5, 0, 4)).toBe('[████]');
  });
});
