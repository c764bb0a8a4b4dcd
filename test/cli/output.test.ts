/** The terminal rendering: colour, spinner and ✔ lines under a real pseudo-terminal (util-linux `script`). */
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';
import { CLI, makeProject } from '../helpers/project.js';

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
  function inTerminal(args: string[], env: Record<string, string> = {}, sized = true): string {
    const dir = makeProject({ 'migrations/001_a.sql': 'create table a (id int);\nselect pg_sleep(0.3);\n' });
    const cli = [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' ');
    // script's pty has no size; a real terminal has one.
    const command = sized ? `stty cols 100 rows 30; ${cli}` : cli;
    const result = spawnSync('script', ['-qec', command, '/dev/null'], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        TERM: 'xterm-256color',
        DATABASE_URL: db.url,
        BACKUP_BEFORE_MIGRATE: 'false',
        ...env,
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status, result.stdout).toBe(0);
    return result.stdout;
  }

  it('shows a spinner, a coloured ✔ per migration, and the summary', async () => {
    await db.reset();
    const out = inTerminal(['up']);
    expect(out).toMatch(/✔.*applied 001_a/);
    expect(out).toMatch(/Applied 1 migration/);
    expect(out).toMatch(/\x1b\[3\dm/); // colour
  });

  it('falls back to plain lines on a terminal that reports no width (a spinner there would never stop)', async () => {
    await db.reset();
    const out = inTerminal(['up'], {}, false);
    expect(out).toMatch(/applied 001_a/);
    expect(out).not.toMatch(/\x1b\[1A/);
  });

  it('honours NO_COLOR', async () => {
    await db.reset();
    const out = inTerminal(['up'], { NO_COLOR: '1' });
    expect(out).toMatch(/applied 001_a/);
    expect(out).not.toMatch(/\x1b\[3\dm/);
  });
});
