/**
 * Alerts: to an HTTP server the test starts and to a command, in process and from a real run. A failing
 * receiver is reported and never changes the run's outcome; nothing is retried.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { describe, expect, it } from 'vitest';
import { Alerter, makeAlert, type Alert, type AlertDelivery } from '../../src/ops/alerts.js';
import { useTestDatabase } from '../helpers/db.js';
import { makeProject, runCli } from '../helpers/project.js';
import { lines, recorder } from '../helpers/alerts.js';

interface Received {
  readonly path: string;
  readonly contentType: string | undefined;
  readonly body: Alert;
}

/** An HTTP server answering `status` (or never, for 'hang'), recording what it receives. */
async function receiver(
  status: number | 'hang' = 204,
): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push({ path: req.url ?? '', contentType: req.headers['content-type'], body: JSON.parse(body) as Alert });
      if (status === 'hang') return;
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/hooks/T000/secret-token`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const alert = () =>
  makeAlert(
    'deadlock',
    '1 deadlock',
    'postgres://app:***@db:5432/app',
    { version: '004', name: 'orders', file: 'migrations/004_orders.sql' },
    { deadlocks: 1 },
  );

describe('Alerter', () => {
  it('POSTs the JSON event to the webhook and gives it to the command on stdin, once per kind and migration', async () => {
    const server = await receiver(204);
    const { command, out } = recorder();
    const deliveries: AlertDelivery[] = [];
    try {
      // A cap, not a timing: the command is a Node process, which starts slowly on a loaded 2-core box.
      const alerter = new Alerter({ command, webhookUrl: server.url, timeoutMs: 60_000 }, (d) => deliveries.push(d));
      alerter.send(alert());
      alerter.send(alert());
      await alerter.flush();
      expect(server.received).toHaveLength(1);
      expect(server.received[0]!.contentType).toBe('application/json');
      expect(server.received[0]!.body).toMatchObject({
        source: 'tidemark',
        kind: 'deadlock',
        severity: 'critical',
        migration: { version: '004' },
        figures: { deadlocks: 1 },
      });
      expect(lines(out)).toHaveLength(1);
      expect(lines(out)[0]).toMatchObject({ kind: 'deadlock', database: 'postgres://app:***@db:5432/app' });
      expect(deliveries.map((d) => [d.channel, d.ok])).toEqual(
        expect.arrayContaining([
          ['webhook', true],
          ['command', true],
        ]),
      );
      // The webhook is named by its host: the path holds the secret.
      expect(JSON.stringify(deliveries)).not.toContain('secret-token');
    } finally {
      await server.close();
    }
  });

  it('reports a receiver that fails, hangs past ALERT_TIMEOUT, or cannot be started, and never retries', async () => {
    const failing = await receiver(500);
    const hanging = await receiver('hang');
    const deliveries: AlertDelivery[] = [];
    try {
      const a = new Alerter(
        { command: '/nonexistent/page-oncall --now', webhookUrl: failing.url, timeoutMs: 5000 },
        (d) => deliveries.push(d),
      );
      a.send(alert());
      await a.flush();
      const b = new Alerter({ command: undefined, webhookUrl: hanging.url, timeoutMs: 300 }, (d) => deliveries.push(d));
      b.send(alert());
      await b.flush();
      expect(failing.received).toHaveLength(1);
      expect(hanging.received).toHaveLength(1);
      expect(deliveries.every((d) => !d.ok)).toBe(true);
      expect(deliveries.map((d) => d.message)).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/answered 500/),
          expect.stringMatching(/could not start \/nonexistent\/page-oncall: ENOENT/),
          expect.stringMatching(/did not answer within 300 ms/),
        ]),
      );
    } finally {
      await failing.close();
      await hanging.close();
    }
  });
});

const db = useTestDatabase('alerts');

describe('alerts from a run', () => {
  it("alerts a failed migration to the webhook and the command, with the password masked; the exit code stays the failure's", async () => {
    const server = await receiver(200);
    const { command, out } = recorder();
    try {
      const dir = makeProject({ 'migrations/001_bad.sql': 'create table a (id int);\nselect 1/0;\n' });
      // A password to look for in the alert: the server's own when it has one (the embedded server of a run
      // without TEST_DATABASE_URL checks it), else one that a trusting server ignores.
      const url = new URL(db.url);
      if (url.password === '') url.password = 'hunter2-secret';
      const password = decodeURIComponent(url.password);
      const result = await runCli(['up'], {
        cwd: dir,
        env: {
          DATABASE_URL: url.toString(),
          BACKUP_BEFORE_MIGRATE: 'false',
          ALERT_COMMAND: command,
          ALERT_WEBHOOK_URL: server.url,
        },
      });
      expect(result.code, result.stderr).toBe(1);
      expect(server.received).toHaveLength(1);
      const sent = server.received[0]!.body;
      expect(sent).toMatchObject({
        kind: 'migration-failed',
        severity: 'critical',
        migration: { version: '001', name: 'bad' },
        figures: { code: 'migration-failed' },
      });
      expect(sent.summary).toMatch(/001_bad: .*division by zero/);
      // The test server's own user (postgres when embedded, whoever TEST_DATABASE_URL names otherwise).
      expect(sent.database).toMatch(
        new RegExp(`^postgres://${decodeURIComponent(url.username)}:\\*\\*\\*@127\\.0\\.0\\.1:\\d+/`),
      );
      expect(JSON.stringify(sent)).not.toContain(`:${password}@`);
      if (password === 'hunter2-secret') expect(JSON.stringify(sent)).not.toContain(password);
      expect(lines(out).map((a) => a.kind)).toEqual(['migration-failed']);
      expect(result.stderr).toMatch(/Alert migration-failed sent to the webhook/);
    } finally {
      await server.close();
    }
  });

  it('alerts a migration cancelled by MIGRATION_TIMEOUT; a receiver that is down is reported and changes nothing', async () => {
    const dir = makeProject({ 'migrations/001_slow.sql': 'select pg_sleep(30);\n' });
    const { command, out } = recorder(3);
    const result = await runCli(['up'], {
      cwd: dir,
      env: {
        DATABASE_URL: db.url,
        BACKUP_BEFORE_MIGRATE: 'false',
        MIGRATION_TIMEOUT: '1',
        ALERT_COMMAND: command,
        ALERT_WEBHOOK_URL: 'http://127.0.0.1:9/down',
      },
    });
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toMatch(/MIGRATION_TIMEOUT/);
    expect(lines(out).map((a) => [a.kind, a.severity])).toEqual([['migration-timeout', 'critical']]);
    expect(result.stderr).toMatch(
      /Alert migration-timeout could not be sent to the webhook: 127\.0\.0\.1:9 could not be reached/,
    );
    expect(result.stderr).toMatch(/Alert migration-timeout could not be sent to the command: .* exited 3/);
  });
});
