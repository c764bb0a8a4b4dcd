/** Waiting for the database to come up (--wait-for-db, DB_WAIT_TIMEOUT): the backoff, what is retried, the CLI. */
import { createConnection, createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/settings.js';
import { freePort } from '../../src/db/embedded.js';
import { DELAY_CAP_MS, FIRST_DELAY_MS, backoffDelay, isTransient, waitForDatabase } from '../../src/db/wait.js';
import { EXIT, KNOBS, MigrateError } from '../../src/errors.js';
import { paramsFromUrl } from '../../src/db/params.js';
import { testDatabase, type TestDatabase } from '../helpers/db.js';
import { makeProject, runCli } from '../helpers/project.js';

const refused = () => new MigrateError('db-refused', 'Nothing accepts connections at 127.0.0.1:1.');
const params = paramsFromUrl('postgres://u:secret@127.0.0.1:1/d');

describe('backoffDelay', () => {
  it('doubles from the first delay, stays under the cap, and jitters within the upper half', () => {
    for (let attempt = 0; attempt < 40; attempt += 1) {
      const ceiling = Math.min(DELAY_CAP_MS, FIRST_DELAY_MS * 2 ** attempt);
      expect(backoffDelay(attempt, () => 0)).toBe(ceiling / 2);
      expect(backoffDelay(attempt, () => 0.999999)).toBeLessThanOrEqual(ceiling);
      expect(backoffDelay(attempt, () => 0.999999)).toBeGreaterThan(ceiling * 0.99);
    }
    expect(backoffDelay(1000)).toBeLessThanOrEqual(DELAY_CAP_MS);
  });
});

describe('isTransient', () => {
  it('retries what a starting server explains and nothing else', () => {
    for (const code of [
      'db-refused',
      'db-timeout',
      'db-unknown-host',
      'db-starting',
      'db-too-many-connections',
    ] as const) {
      expect(isTransient(new MigrateError(code, 'x')), code).toBe(true);
    }
    for (const code of ['db-auth-failed', 'db-auth-rejected', 'db-not-found', 'db-no-ssl', 'bad-settings'] as const) {
      expect(isTransient(new MigrateError(code, 'x')), code).toBe(false);
    }
    const dropped = new MigrateError('db-connect-failed', 'x', {
      cause: new Error('Connection terminated unexpectedly'),
    });
    expect(isTransient(dropped)).toBe(true);
    expect(isTransient(new Error('db-refused'))).toBe(false);
  });
});

describe('waitForDatabase', () => {
  it('keeps trying until the probe succeeds, telling each wait', async () => {
    let calls = 0;
    const notices: number[] = [];
    await waitForDatabase(params, {
      timeoutMs: 60_000,
      random: () => 0,
      probe: async () => {
        calls += 1;
        if (calls < 3) throw refused();
      },
      onWait: (n) => notices.push(n.attempt),
    });
    expect(calls).toBe(3);
    expect(notices).toEqual([1, 2]);
  });

  it('throws a wrong password at once, saying it is not retried', async () => {
    let calls = 0;
    const error = await waitForDatabase(params, {
      timeoutMs: 60_000,
      probe: async () => {
        calls += 1;
        throw new MigrateError('db-auth-failed', 'The database refused the password.', {
          hint: 'Check it.',
        });
      },
    }).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect(error).toMatchObject({ code: 'db-auth-failed', exitCode: EXIT.unavailable });
    expect((error as MigrateError).hint).toMatch(/Not retried/);
  });

  it('gives up at the deadline with db-wait-timeout, exit 3, quoting the last reason', async () => {
    let clock = 0;
    const error = await waitForDatabase(params, {
      timeoutMs: 1_000,
      now: () => clock,
      random: () => 0,
      probe: async () => {
        clock += 600; // every attempt "takes" 600 ms of the fake clock; the real sleeps stay short
        throw refused();
      },
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'db-wait-timeout', exitCode: EXIT.unavailable });
    expect((error as MigrateError).message).toMatch(/Nothing accepts connections/);
    expect((error as MigrateError).message).not.toMatch(/secret/);
  });

  it("words its hints for each reader: the CLI's flag and variable, the library's option, the knobs of the reason kept", async () => {
    let clock = 0;
    const gaveUp = (await waitForDatabase(params, {
      timeoutMs: 1_000,
      now: () => clock,
      random: () => 0,
      probe: async () => {
        clock += 600;
        throw new MigrateError('db-refused', 'Nothing accepts connections at 127.0.0.1:1.', {
          hint: 'Fix the host and port in {{databaseUrl}}.',
        });
      },
    }).catch((e: unknown) => e)) as MigrateError;
    expect(gaveUp.hint).toBe(
      'Fix the host and port in DATABASE_URL. To wait longer, raise --wait-for-db or DB_WAIT_TIMEOUT.',
    );
    expect(gaveUp.addressedTo('library').hint).toBe(
      `Fix the host and port in ${KNOBS.databaseUrl.library}. To wait longer, raise ${KNOBS.waitLonger.library}.`,
    );
    const refusedAtOnce = (await waitForDatabase(params, {
      timeoutMs: 60_000,
      probe: async () => {
        throw new MigrateError('db-auth-failed', 'The database refused the password.', {
          hint: 'Check {{passwordSources}}.',
        });
      },
    }).catch((e: unknown) => e)) as MigrateError;
    expect(refusedAtOnce.hint).toBe(
      'Check DATABASE_URL (or PGPASSWORD / ~/.pgpass). Not retried by --wait-for-db: waiting cannot fix this.',
    );
    expect(refusedAtOnce.addressedTo('library').hint).toBe(
      `Check ${KNOBS.passwordSources.library}. Not retried by ${KNOBS.waitForDb.library}: waiting cannot fix this.`,
    );
  });

  it('ends the wait with exit 143 on SIGTERM', async () => {
    const controller = new AbortController();
    const error = await waitForDatabase(params, {
      timeoutMs: 60_000,
      signal: controller.signal,
      probe: async () => {
        controller.abort('SIGTERM');
        throw refused();
      },
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'interrupted', exitCode: EXIT.sigterm });
  });
});

describe('DB_WAIT_TIMEOUT', () => {
  it('defaults to 0 (no wait), takes seconds, and rejects what is not a number', () => {
    expect(loadSettings({}, {}, '/tmp').dbWaitSeconds).toBe(0);
    expect(loadSettings({}, { DB_WAIT_TIMEOUT: '30' }, '/tmp').dbWaitSeconds).toBe(30);
    expect(loadSettings({ dbWaitSeconds: 5 }, { DB_WAIT_TIMEOUT: '30' }, '/tmp').dbWaitSeconds).toBe(5);
    expect(() => loadSettings({}, { DB_WAIT_TIMEOUT: 'soon' }, '/tmp')).toThrow(
      /DB_WAIT_TIMEOUT="soon" is not a whole number/,
    );
  });
});

describe('migrate --wait-for-db against a server that appears later', () => {
  let db: TestDatabase;
  let proxy: Server | undefined;
  beforeAll(async () => {
    db = await testDatabase('wait');
  });
  afterAll(async () => {
    proxy?.close();
    await db.drop();
  });

  const project = {
    'migrations/001_a.sql': 'create table a (id int);\n',
    'rollback/001_a_rollback.sql': 'drop table a;\n',
  };

  it('waits while nothing listens, then migrates once a server answers on the port', async () => {
    const port = await freePort();
    const target = new URL(db.url);
    const url = new URL(db.url);
    url.host = `127.0.0.1:${port}`;
    // The "server" that comes up: a TCP proxy to the real one, started only once the CLI said it is waiting,
    // so the test depends on the order of events, not on how long anything takes.
    const startProxy = () => {
      proxy = createServer((socket) => {
        const upstream = createConnection(Number(target.port || 5432), target.hostname);
        socket.pipe(upstream).pipe(socket);
        socket.on('error', () => upstream.destroy());
        upstream.on('error', () => socket.destroy());
      });
      proxy.listen(port, '127.0.0.1');
    };
    const result = await runCli(['up', '--no-backup', '--wait-for-db', '120'], {
      cwd: makeProject(project),
      env: { DATABASE_URL: url.toString() },
      onStderr: (() => {
        let seen = '';
        return (text: string) => {
          seen += text;
          if (!proxy && /Waiting for the database to come up/.test(seen)) startProxy();
        };
      })(),
    });
    expect(result.stderr).toMatch(
      /Waiting for the database to come up: Nothing accepts connections at 127\.0\.0\.1:\d+/,
    );
    expect(result.code).toBe(0);
    expect(await db.query("select to_regclass('public.a') as t")).toEqual([{ t: 'a' }]);
  });

  it('does not retry a missing database: exit 3 at once, saying why', async () => {
    const url = new URL(db.url);
    url.pathname = '/tidemark_no_such_database';
    const result = await runCli(['status', '--wait-for-db', '120'], {
      cwd: makeProject(project),
      env: { DATABASE_URL: url.toString() },
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/"tidemark_no_such_database" does not exist/);
    expect(result.stderr).toMatch(/Not retried by --wait-for-db/);
    expect(result.stderr).not.toMatch(/Waiting for the database/);
  });

  it('gives up after DB_WAIT_TIMEOUT with exit 3 when nothing ever listens', async () => {
    const port = await freePort();
    const result = await runCli(['status'], {
      cwd: makeProject(project),
      env: { DATABASE_URL: `postgres://postgres:hunter2@127.0.0.1:${port}/x`, DB_WAIT_TIMEOUT: '1' },
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/did not come up within 1 s/);
    expect(result.stderr).not.toMatch(/hunter2/);
  });
});
