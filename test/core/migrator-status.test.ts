/**
 * `status` sends its queries back to back on one connection. pg answers a failed query at its ErrorResponse
 * and sends the next queued one only at the ReadyForQuery behind it; a query added while another still waits
 * in its queue prints a DeprecationWarning (pg 9 refuses it). Whether the two messages arrive in one read or
 * two depends on the network and the load, so a TCP proxy here holds every ReadyForQuery back a little: what a
 * user saw on a fresh database's first `status` in about one run of three, every time.
 */
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { adminQuery, useTestDatabase } from '../helpers/db.js';
import { makeProject, runCli } from '../helpers/project.js';
import { listenLocal } from '../helpers/listen.js';
import { until } from '../helpers/until.js';

/** Forwards the client's bytes as they come and the server's one message at a time, each ReadyForQuery late. */
class SlowReadyProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  constructor(target: { host: string; port: number }, delayMs: number) {
    this.#server = createServer((client) => {
      const upstream = tcpConnect(target.port, target.host);
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
      }
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('data', (chunk: Buffer) => upstream.write(chunk));
      client.on('end', () => upstream.end());
      // Server messages: a type byte and a length that counts itself (sslmode=disable: no bare 'N' first).
      let pending = Buffer.alloc(0);
      let sending = Promise.resolve();
      upstream.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 5 && pending.length >= 1 + pending.readUInt32BE(1)) {
          const message = pending.subarray(0, 1 + pending.readUInt32BE(1));
          pending = pending.subarray(message.length);
          sending = sending.then(async () => {
            if (message[0] === 0x5a) await new Promise((resolve) => setTimeout(resolve, delayMs));
            if (!client.destroyed) client.write(message);
          });
        }
      });
      upstream.on('end', () => void sending.then(() => client.end()));
    });
  }

  listen(): Promise<number> {
    return listenLocal(this.#server);
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

const db = useTestDatabase('migrator_status');

describe('status on a connection whose ReadyForQuery comes in a read of its own', () => {
  it('prints no DeprecationWarning of pg on a database without a tracking table (one query queued at a time)', async () => {
    await db.reset();
    const target = new URL(db.url);
    const proxy = new SlowReadyProxy({ host: target.hostname, port: Number(target.port || 5432) }, 100);
    const url = new URL(db.url);
    url.port = String(await proxy.listen());
    url.searchParams.set('sslmode', 'disable');
    try {
      const cwd = makeProject({ 'migrations/001_a.sql': 'create table a (id bigint);\n' });
      const result = await runCli(['status'], { cwd, env: { DATABASE_URL: url.toString() }, spawn: true });
      expect(result.stderr).not.toMatch(/DeprecationWarning|already executing a query/);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/001\s+a\s+pending/);
    } finally {
      await proxy.close();
    }
  });
});

describe('status on a database that never had a repair', () => {
  it('sends no query that fails (no "relation does not exist" in the server log at every status)', async () => {
    await db.reset();
    const cwd = makeProject({ 'migrations/001_a.sql': 'create table a (id bigint);\n' });
    const env = { DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false' };
    expect((await runCli(['up'], { cwd, env })).code).toBe(0);
    // A failed statement ends its transaction in a rollback: the database's counter of rolled-back transactions
    // is the server's own record of it. A backend flushes its counters as it exits, before it leaves
    // pg_stat_activity: read them once every session of a command is gone.
    const settled = async () => {
      await until('the sessions to end', async () => {
        const { rows } = await adminQuery('select count(*)::int as n from pg_stat_activity where datname = $1', [
          db.name,
        ]);
        return (rows[0] as { n: number }).n === 0;
      });
      const { rows } = await adminQuery(
        'select xact_commit::int as commits, xact_rollback::int as rollbacks from pg_stat_database where datname = $1',
        [db.name],
      );
      return rows[0] as { commits: number; rollbacks: number };
    };
    const before = await settled();
    const result = await runCli(['status'], { cwd, env });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/001\s+a\s+applied/);
    const after = await settled();
    expect(after.commits).toBeGreaterThan(before.commits);
    expect(after.rollbacks).toBe(before.rollbacks);
  });
});
