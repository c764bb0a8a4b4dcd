/**
 * A network partition between the runner and the server, made by a TCP proxy this test starts in-process:
 * frozen, it keeps every socket open and carries nothing (what a stuck load balancer or a dropped route looks
 * like: keepalive probes are answered by the proxy's kernel). The runner must not hang, must not claim a
 * rollback it cannot know, and must say how to find out; once the path is gone the server ends the session.
 */
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { closeClient, connect, isConnectionLost } from '../../src/db/connection.js';
import { paramsFromUrl } from '../../src/db/params.js';
import { useTestDatabase } from '../helpers/db.js';
import { REPEAT, activeRunner, nextUpFinishes, settled, startCase, tableStep } from './helpers.js';
import { listenLocal } from '../helpers/listen.js';

class Proxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #frozen = false;

  constructor(target: { host: string; port: number }) {
    this.#server = createServer((client) => {
      this.#sockets.add(client);
      client.on('close', () => this.#sockets.delete(client));
      client.on('error', () => {});
      // A new connection through a frozen path goes nowhere (like a SYN into a black hole, but accepted).
      if (this.#frozen) return;
      const upstream = tcpConnect(target.port, target.host);
      this.#sockets.add(upstream);
      upstream.on('close', () => this.#sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      const forward = (from: Socket, to: Socket) =>
        from.on('data', (chunk: Buffer) => {
          if (!this.#frozen) to.write(chunk);
        });
      forward(client, upstream);
      forward(upstream, client);
      client.on('end', () => upstream.end());
      upstream.on('end', () => client.end());
    });
  }

  listen(): Promise<number> {
    return listenLocal(this.#server);
  }

  /** Carries nothing more, in either direction, and closes nothing. */
  freeze(): void {
    this.#frozen = true;
  }

  /** The path is gone for good: every socket closed (the server then sees its client leave). */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

const db = useTestDatabase('faults_partition');

describe('a network partition mid-migration (a frozen TCP proxy)', () => {
  for (let i = 1; i <= REPEAT; i += 1) {
    it(`MIGRATION_TIMEOUT still ends the run, which says the outcome is unknown and how to find out (run ${i}/${REPEAT})`, async () => {
      await db.reset();
      const target = new URL(db.url);
      const proxy = new Proxy({ host: target.hostname, port: Number(target.port || 5432) });
      const port = await proxy.listen();
      const viaProxy = new URL(db.url);
      viaProxy.port = String(port);
      try {
        // 002 sleeps 2 s: the server, unaware of the partition, finishes and commits it meanwhile.
        const steps = [tableStep('001', 'first'), tableStep('002', 'second', 2), tableStep('003', 'third')];
        const { dir, run } = startCase(steps, {
          DATABASE_URL: viaProxy.toString(),
          BACKUP_BEFORE_MIGRATE: 'false',
          MIGRATION_TIMEOUT: '1',
        });
        await activeRunner(db.adminUrl, db.name, 'pg_sleep(2)');
        proxy.freeze();
        const result = await run.done;
        expect(result.code).toBe(3);
        expect(result.stderr).toMatch(
          /002_create_second ran longer than MIGRATION_TIMEOUT \(1 s\) and no answer came back after the cancel \(connection cut\); its commit may have been sent, so whether it was applied is unknown/,
        );
        expect(result.stderr).toMatch(/migrate status once the database answers: 002 applied means it committed/);
        expect(result.stderr).not.toMatch(/; it was rolled back/);
        // The path goes away for good; the server notices its client left and ends the session.
        await proxy.close();
        const applied = await settled(db, steps);
        expect(applied.slice(0, 1)).toEqual(['001']);
        await nextUpFinishes(dir, { DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false' }, db.url, steps);
      } finally {
        await proxy.close().catch(() => {});
      }
    }, 240_000);
  }
});

describe('a query on a frozen path', () => {
  it('fails at its client-side deadline as a lost connection, and closing the client does not hang', async () => {
    const target = new URL(db.url);
    const proxy = new Proxy({ host: target.hostname, port: Number(target.port || 5432) });
    const viaProxy = new URL(db.url);
    viaProxy.port = String(await proxy.listen());
    try {
      const client = await connect(paramsFromUrl(viaProxy.toString()));
      expect((await client.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
      proxy.freeze();
      const error = await client.withDeadline(300, () => client.query('select 2')).catch((e: unknown) => e);
      expect(isConnectionLost(error)).toBe(true);
      expect(client.severed).toMatch(/no answer from the server within/);
      await closeClient(client, 500);
    } finally {
      await proxy.close();
    }
  });
});
