/**
 * A signal in the instant between sending a migration's query and its arrival at the server. The cancel then
 * reaches a backend that is still reading its next command, where PostgreSQL ignores it; the query arrives
 * and runs. A TCP proxy started in-process makes that instant as long as the test needs: it holds the
 * runner's bytes from the first one that carries the migration's text, and lets them through only once the
 * server has answered a pg_cancel_backend (whoever asked it). The run must still stop at once, say it was
 * rolled back, and cancel nothing but the statement it meant.
 */
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { CANCEL_GRACE_MS } from '../../src/ops/cancel.js';
import { useTestDatabase } from '../helpers/db.js';
import {
  REPEAT,
  nextUpFinishes,
  nothingLeft,
  settled,
  startCase,
  tableStep,
  until,
  writeSteps,
  type Step,
} from './helpers.js';
import { listenLocal } from '../helpers/listen.js';

/**
 * Forwards both ways. On the connection that first sends `marker`, it holds either the client's bytes from
 * that one on (`request`: let through once the server has answered a pg_cancel_backend, whoever asked it) or
 * the server's bytes after it (`answer`: let through by release()).
 */
class HoldingProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #release: (() => void) | undefined;
  /** The marked query was caught: its bytes (`request`) or those of its answer (`answer`) are held. */
  holding = false;
  /** The server answered a pg_cancel_backend asked after that. */
  cancelAnswered = false;

  constructor(target: { host: string; port: number }, marker: string, mode: 'request' | 'answer') {
    this.#server = createServer((client) => {
      const upstream = tcpConnect(target.port, target.host);
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
      }
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      let held: Buffer[] | undefined;
      let cancelAsked = false;
      const hold = (to: Socket, first: Buffer[]) => {
        this.holding = true;
        held = first;
        this.#release = () => {
          for (const c of held ?? []) to.write(c);
          held = undefined;
        };
      };
      client.on('data', (chunk: Buffer) => {
        if (held && mode === 'request') {
          held.push(chunk);
          return;
        }
        if (!this.holding && chunk.includes(marker)) {
          if (mode === 'request') {
            // The queries before the marked one may share its chunk (the executor writes the next migration
            // right behind the running one): they go on.
            const at = messageStart(chunk, chunk.indexOf(marker));
            upstream.write(chunk.subarray(0, at));
            return hold(upstream, [chunk.subarray(at)]);
          }
          hold(client, []);
        } else if (this.holding && chunk.includes('pg_cancel_backend')) cancelAsked = true;
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        if (held && mode === 'answer') held.push(chunk);
        else client.write(chunk);
        // The server flushes a query's answer once it has run it: the cancel was sent.
        if (cancelAsked && !this.cancelAnswered) {
          this.cancelAnswered = true;
          if (mode === 'request') this.release();
        }
        cancelAsked = false;
      });
      client.on('end', () => upstream.end());
      upstream.on('end', () => client.end());
    });
  }

  listen(): Promise<number> {
    return listenLocal(this.#server);
  }

  release(): void {
    this.#release?.();
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

/** Where the protocol message holding byte `index` of `chunk` starts (a chunk of whole messages: type byte, int32 length). */
function messageStart(chunk: Buffer, index: number): number {
  let at = 0;
  while (at + 5 <= chunk.length) {
    const end = at + 1 + chunk.readInt32BE(at + 1);
    if (end > index) break;
    at = end;
  }
  return at;
}

const db = useTestDatabase('faults_signal_race');

/** The statement the proxy holds: it would run for a minute if the cancel were lost. */
const HELD = 'pg_sleep(60)';

async function viaProxy(
  marker = HELD,
  mode: 'request' | 'answer' = 'request',
): Promise<{ proxy: HoldingProxy; url: string }> {
  const target = new URL(db.url);
  const proxy = new HoldingProxy({ host: target.hostname, port: Number(target.port || 5432) }, marker, mode);
  const url = new URL(db.url);
  url.port = String(await proxy.listen());
  return { proxy, url: url.toString() };
}

/** A session of the test named `name` (a migration waits for it). */
async function openSession(url: string, name: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: name });
  await client.connect();
  return client;
}

/** Sends `signal` once the proxy holds the query and `ready` says the run is where the case wants it; returns how long the run took to end after it. */
async function interrupt(
  proxy: HoldingProxy,
  run: ReturnType<typeof startCase>['run'],
  signal: NodeJS.Signals,
  ready: () => Promise<boolean>,
) {
  await until('the migration query held by the proxy', async () => proxy.holding && (await ready()));
  const sent = performance.now();
  run.child.kill(signal);
  const result = await run.done;
  return { result, afterSignalMs: performance.now() - sent };
}

describe('a signal that reaches the server before the migration does', () => {
  for (let i = 1; i <= REPEAT; i += 1) {
    it(`a transactional migration is cancelled once it arrives, rolled back, and the run exits 130 at once (run ${i}/${REPEAT})`, async () => {
      await db.reset();
      const { proxy, url } = await viaProxy();
      try {
        // 002 is sent behind 001 (the executor sends the next migration ahead), 003 behind 002.
        const steps = [tableStep('001', 'first'), tableStep('002', 'second', 60), tableStep('003', 'third')];
        const { dir, run } = startCase(steps, { DATABASE_URL: url, BACKUP_BEFORE_MIGRATE: 'false' });
        const { result, afterSignalMs } = await interrupt(
          proxy,
          run,
          'SIGINT',
          async () => (await db.query(`select 1 from schema_migrations where version = '001'`)).length > 0,
        );
        expect(proxy.cancelAnswered).toBe(true);
        expect({ code: result.code, stderr: result.stderr }).toMatchObject({
          code: 130,
          stderr: expect.stringMatching(/Interrupted by SIGINT during 002_create_second; it was rolled back\./),
        });
        // Cancelled, not cut off after CANCEL_GRACE_MS with the outcome asked on a new connection.
        expect(result.stderr).not.toMatch(/checked on a new connection|no answer/);
        expect(afterSignalMs).toBeLessThan(CANCEL_GRACE_MS);
        expect(await settled(db, steps)).toEqual(['001']);
        const fast = [steps[0]!, tableStep('002', 'second'), steps[2]!];
        writeSteps(dir, fast);
        await nextUpFinishes(dir, { DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false' }, db.url, fast);
      } finally {
        await proxy.close();
      }
    }, 120_000);

    it(`a no-transaction statement is cancelled once it arrives; the statement before it stays recorded, and the run exits 143 at once (run ${i}/${REPEAT})`, async () => {
      await db.reset();
      const { proxy, url } = await viaProxy();
      try {
        const noTx: Step = {
          version: '002',
          name: 'in_steps',
          sql: `-- migrate:no-transaction\ncreate table before_sleep (id int);\nselect ${HELD};\ncreate table after_sleep (id int);\n`,
          probe: `select to_regclass('public.after_sleep') is not null as applied`,
        };
        const steps = [tableStep('001', 'first'), noTx];
        const { run } = startCase(steps, { DATABASE_URL: url, BACKUP_BEFORE_MIGRATE: 'false' });
        const { result, afterSignalMs } = await interrupt(proxy, run, 'SIGTERM', async () => true);
        expect(proxy.cancelAnswered).toBe(true);
        expect({ code: result.code, stderr: result.stderr }).toMatchObject({
          code: 143,
          stderr: expect.stringMatching(
            /Interrupted by SIGTERM during 002_in_steps; the statements before it stay applied and it is marked dirty\./,
          ),
        });
        expect(result.stderr).not.toMatch(/no answer/);
        expect(afterSignalMs).toBeLessThan(CANCEL_GRACE_MS);
        await nothingLeft(db.adminUrl, db.name);
        // The cancel stopped the held statement, not the row that counts the one before it.
        const [state] = await db.query<{ before: boolean; after: boolean; dirty: boolean; done: number }>(
          `select to_regclass('public.before_sleep') is not null as before, to_regclass('public.after_sleep') is not null as after,
                  dirty, statements_done as done from schema_migrations where version = '002'`,
        );
        expect(state).toEqual({ before: true, after: false, dirty: true, done: 1 });
      } finally {
        await proxy.close();
      }
    }, 120_000);
  }
});

describe('MIGRATION_TIMEOUT of a migration whose answer is on its way while the next one runs', () => {
  for (let i = 1; i <= REPEAT; i += 1) {
    it(`cancels nothing: the next migration, sent behind it, runs once and the run finishes (run ${i}/${REPEAT})`, async () => {
      await db.reset();
      // 002 is sent behind 001 and starts on the server as 001 ends; 001's answer is held, so 001's timeout
      // fires while 002 runs. 002 counts its starts, then waits for a session of the test to say go.
      await db.query('create sequence second_starts');
      const { proxy, url } = await viaProxy('create table first', 'answer');
      try {
        const second: Step = {
          version: '002',
          name: 'waits',
          sql:
            "select nextval('second_starts');\ncreate table second (id int);\n" +
            "do $$ begin while not exists (select 1 from pg_stat_activity where application_name = 'go-second') loop perform pg_sleep(0.02); perform pg_stat_clear_snapshot(); end loop; end $$;\n",
          probe: `select to_regclass('public.second') is not null as applied`,
        };
        const steps = [tableStep('001', 'first'), second];
        const { run } = startCase(steps, { DATABASE_URL: url, BACKUP_BEFORE_MIGRATE: 'false', MIGRATION_TIMEOUT: '1' });
        await until('001 timed out while 002 runs, and its cancel was answered', async () => proxy.cancelAnswered);
        // 002 may end now; once its session is idle, both answers go on to the runner.
        const go = await openSession(db.url, 'go-second');
        try {
          await until(
            '002 finished on the server',
            async () =>
              (
                await db.query(
                  `select 1 from pg_stat_activity where datname = current_database() and application_name = 'tidemark' and state like 'idle%'`,
                )
              ).length > 0,
          );
          proxy.release();
          const result = await run.done;
          expect({ code: result.code, stderr: result.stderr }).toMatchObject({ code: 0 });
        } finally {
          await go.end();
        }
        expect(await settled(db, steps)).toEqual(['001', '002']);
        // Started once: the cancel meant for 001 did not land on it (it would have been run again).
        expect(await db.query(`select last_value::int as starts from second_starts`)).toEqual([{ starts: 1 }]);
      } finally {
        await proxy.close();
      }
    }, 120_000);
  }
});
