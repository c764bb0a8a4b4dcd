/**
 * `migrate doctor` against a real PostgreSQL: every check passing and leaving nothing behind, and each check
 * failing for a real reason (a role without CREATE, a foreign-looking folder, no pg_dump, a full disk, bad
 * settings, no server, a PgBouncer in transaction mode when pgbouncer is installed).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/settings.js';
import { doctor, type DoctorCheck, type DoctorReport } from '../../src/core/doctor.js';
import { freePort } from '../../src/db/embedded.js';
import { paramsFromUrl } from '../../src/db/params.js';
import { adminQuery, runPrefix, testDatabase, urlFor, type TestDatabase } from '../helpers/db.js';
import { makeProject, runCli, writeFiles } from '../helpers/project.js';

let db: TestDatabase;
// Named with the run's prefix: the role owns objects in databases the run retires (not drops) after each test,
// so it can only go once they are gone; the run's teardown drops both (test/global-setup.ts).
const role = `${runPrefix()}doctor_${randomBytes(4).toString('hex')}`;
const rolePassword = randomBytes(8).toString('hex');

beforeAll(async () => {
  db = await testDatabase('doctor');
  await adminQuery(`create role ${role} login password '${rolePassword}'`);
});
afterAll(async () => {
  await db.drop();
});
beforeEach(async () => {
  await db.reset();
});

const FILES = {
  'migrations/001_users.sql': 'create table users (id bigint primary key);\n',
  'rollback/001_users_rollback.sql': 'drop table users;\n',
};

function run(
  dir: string,
  env: Record<string, string>,
  extra: { freeSpace?: (dir: string) => Promise<number>; searchPath?: string; installRoots?: string[] } = {},
): Promise<DoctorReport> {
  const full = { DATABASE_URL: db.url, ...env };
  return doctor({
    settings: () => loadSettings({}, full, dir),
    connection: async (s) => paramsFromUrl(s.databaseUrl!),
    ...extra,
  });
}

function check(report: DoctorReport, id: DoctorCheck['id']): DoctorCheck {
  return report.checks.find((c) => c.id === id)!;
}

function statuses(report: DoctorReport): Record<string, string> {
  return Object.fromEntries(report.checks.map((c) => [c.id, c.status]));
}

/** The same database as another role: the URL of the test database with that role's credentials. */
function urlAs(user: string, password: string): string {
  const url = new URL(db.url);
  url.username = user;
  url.password = password;
  return url.toString();
}

describe('migrate doctor: everything in order', () => {
  it('passes every check on a fresh database and leaves nothing behind (no table, no backup folder, no lock)', async () => {
    const dir = makeProject(FILES);
    const report = await run(dir, {});
    expect(statuses(report)).toEqual({
      settings: 'ok',
      migrations: 'ok',
      database: 'ok',
      'tracking-table': 'ok',
      'advisory-lock': 'ok',
      pooler: 'ok',
      'pg-dump': 'ok',
      'backup-dir': 'ok',
    });
    expect(report.ok).toBe(true);
    expect(check(report, 'database').message).toMatch(/^PostgreSQL \d+/);
    expect(check(report, 'migrations').message).toMatch(/1 migration load from \.\/migrations \(newest 001_users\)/);
    expect(check(report, 'tracking-table').message).toMatch(/can create it \(tried in a transaction, rolled back\)/);
    expect(check(report, 'backup-dir').message).toMatch(
      /\.\/backups does not exist yet and can be created and written/,
    );
    expect(await db.query(`select to_regclass('public.schema_migrations') as t`)).toEqual([{ t: null }]);
    expect(existsSync(join(dir, 'backups'))).toBe(false);
    // pg_locks lists the whole cluster: other test files' runners hold advisory locks in their own databases.
    const locks = await db.query(
      `select count(*)::int as n from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`,
    );
    expect(locks).toEqual([{ n: 0 }]);
  });

  it('checks the privileges on an existing tracking table, and prints one line per check and exit 0 in the CLI', async () => {
    const dir = makeProject(FILES);
    const env = { DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false' };
    expect((await runCli(['up'], { cwd: dir, env })).code).toBe(0);
    const result = await runCli(['doctor'], { cwd: dir, env });
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines.slice(0, 8).map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual([
      'ok settings',
      'ok migrations',
      'ok database',
      'ok tracking-table',
      'ok advisory-lock',
      'ok pooler',
      'ok pg-dump',
      'ok backup-dir',
    ]);
    expect(lines[3]).toMatch(/schema_migrations exists and the role can read and write it/);
    expect(lines.at(-1)).toBe('All checks passed (8).');
  });
});

describe('migrate doctor: failing checks', () => {
  it('a role that may not create the tracking table fails that check with the GRANT to run (exit 1, --json)', async () => {
    // PostgreSQL 15 no longer lets every role create in schema public.
    await db.query(`revoke create on schema public from public`);
    const dir = makeProject(FILES);
    const result = await runCli(['doctor', '--json'], { cwd: dir, env: { DATABASE_URL: urlAs(role, rolePassword) } });
    expect(result.code).toBe(1);
    const doc = JSON.parse(result.stdout);
    expect(doc.ok).toBe(false);
    const tracking = doc.checks.find((c: { id: string }) => c.id === 'tracking-table');
    expect(tracking).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(/cannot create schema_migrations: permission denied for schema public/),
    });
    expect(tracking.hint).toMatch(/Grant CREATE on schema public/);
    expect(doc.checks.find((c: { id: string }) => c.id === 'advisory-lock').status).toBe('ok');
    expect(result.stdout).not.toContain(rolePassword);
  });

  it('up as a role that may not create the tracking table stops with the GRANT to run (exit 2), not an unexpected error', async () => {
    await db.query(`revoke create on schema public from public`);
    const dir = makeProject(FILES);
    const up = await runCli(['up', '--no-backup'], { cwd: dir, env: { DATABASE_URL: urlAs(role, rolePassword) } });
    expect(up.code, up.stderr).toBe(2);
    expect(up.stderr).toContain(
      'The role cannot create the tracking table schema_migrations: permission denied for schema public (42501)',
    );
    expect(up.stderr).toMatch(/→ Grant CREATE on schema public to the role/);
    expect(up.stderr).not.toMatch(/Unexpected error|--verbose/);
    expect(await db.query(`select to_regclass('users')::text as t`)).toEqual([{ t: null }]);
  });

  it('a role with CREATE on schema public only passes, and up as that role creates the table (no CREATE on the database needed)', async () => {
    await db.query(`revoke create on schema public from public`);
    await db.query(`grant create on schema public to ${role}`);
    const dir = makeProject(FILES);
    const env = { DATABASE_URL: urlAs(role, rolePassword), BACKUP_BEFORE_MIGRATE: 'false' };
    const report = await run(dir, env);
    expect(check(report, 'tracking-table')).toMatchObject({ status: 'ok' });
    const up = await runCli(['up'], { cwd: dir, env });
    expect(up.code, up.stderr).toBe(0);
    expect(await db.query(`select version from schema_migrations`)).toEqual([{ version: '001' }]);
  });

  it('a tracking table the role cannot write fails, naming the missing privileges', async () => {
    await db.query(`create table schema_migrations (version text primary key, name text not null, checksum text not null,
      applied_at timestamptz not null default now(), execution_ms integer not null default 0, applied_by text not null default current_user,
      dirty boolean not null default false)`);
    await db.query(`grant select on schema_migrations to ${role}`);
    const report = await doctor({
      settings: () => loadSettings({}, { DATABASE_URL: urlAs(role, rolePassword) }, makeProject(FILES)),
      connection: async (s) => paramsFromUrl(s.databaseUrl!),
    });
    expect(check(report, 'tracking-table')).toMatchObject({
      status: 'fail',
      message: 'schema_migrations exists, but the role lacks INSERT, UPDATE, DELETE on it',
    });
    expect(report.ok).toBe(false);
  });

  it('settings that do not parse fail the first check and skip the rest (exit 1)', async () => {
    const dir = makeProject(FILES);
    const result = await runCli(['doctor'], { cwd: dir, env: { DATABASE_URL: db.url, MAX_LOCK_WAIT: 'soon' } });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^FAIL\s+settings\s+Invalid settings: MAX_LOCK_WAIT="soon" is not a duration/m);
    expect(result.stdout).toMatch(/^skip\s+database\s+not checked: the settings did not parse$/m);
    expect(result.stdout).toMatch(/1 of 8 checks failed\./);
  });

  it('a variable that is not read (a typo) makes the settings check a warning naming it; the exit stays 0', async () => {
    const dir = makeProject({ ...FILES, '.env.migrations': 'MIGRATION_DIR=db/migrations\n' });
    const result = await runCli(['doctor', '--json'], { cwd: dir, env: { DATABASE_URL: db.url } });
    expect(result.code, result.stdout).toBe(0);
    const settings = (JSON.parse(result.stdout) as DoctorReport).checks.find((c) => c.id === 'settings')!;
    expect(settings.status).toBe('warn');
    expect(settings.message).toMatch(/; not read: MIGRATION_DIR \(MIGRATIONS_DIR\?\)$/);
  });

  it('migration files that do not load fail their check; the database checks still run', async () => {
    const dir = makeProject({ ...FILES, 'migrations/1_again.sql': 'select 1;\n' });
    const report = await run(dir, {});
    expect(check(report, 'migrations')).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(/001_users\.sql.*1_again\.sql|1_again\.sql.*001_users\.sql/),
    });
    expect(check(report, 'database').status).toBe('ok');
    expect(report.ok).toBe(false);
  });

  it('a server that does not answer fails the database check and skips the checks that need it', async () => {
    const port = await freePort();
    const report = await run(makeProject(FILES), { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/postgres` });
    expect(check(report, 'database')).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(/Nothing accepts connections at 127\.0\.0\.1:\d+/),
    });
    expect(report.checks.slice(3).map((c) => c.status)).toEqual(['skip', 'skip', 'skip', 'skip', 'skip']);
  });

  it('no pg_dump fails (a warning only while backups are off); a full disk or an unwritable folder fails backup-dir', async () => {
    const dir = makeProject(FILES);
    const noTools = { searchPath: '', installRoots: [] as string[] };
    const missing = await run(dir, {}, noTools);
    expect(check(missing, 'pg-dump')).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(/pg_dump was not found/),
    });
    const off = await run(dir, { BACKUP_BEFORE_MIGRATE: 'false' }, noTools);
    expect(check(off, 'pg-dump')).toMatchObject({
      status: 'warn',
      message: expect.stringMatching(/only a warning: BACKUP_BEFORE_MIGRATE=false/),
    });
    expect(off.ok).toBe(true);

    const full = await run(dir, {}, { freeSpace: async () => 1024 });
    expect(check(full, 'backup-dir')).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(/Not enough room for a backup/),
    });
    expect(existsSync(join(dir, 'backups'))).toBe(false);

    writeFiles(dir, { 'not-a-folder': 'x' });
    const unwritable = await run(dir, { BACKUP_DIR: join(dir, 'not-a-folder', 'backups') });
    expect(check(unwritable, 'backup-dir')).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(/ENOTDIR|EEXIST/),
    });
  });
});

function pgbouncerInstalled(): boolean {
  return spawnSync('pgbouncer', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Starts PgBouncer in front of the test server, in the given pool mode; resolves once it accepts connections. */
async function startPgbouncer(mode: 'transaction' | 'session'): Promise<{ url: string; stop: () => void }> {
  const server = new URL(db.adminUrl);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-pgbouncer-'));
  const conf = join(dir, 'pgbouncer.ini');
  writeFileSync(join(dir, 'users.txt'), '');
  writeFileSync(
    conf,
    [
      '[databases]',
      `* = host=${server.hostname} port=${server.port || 5432} user=${decodeURIComponent(server.username)}${server.password ? ` password=${decodeURIComponent(server.password)}` : ''}`,
      '[pgbouncer]',
      `listen_addr = 127.0.0.1`,
      `listen_port = ${port}`,
      'auth_type = any',
      `auth_file = ${join(dir, 'users.txt')}`,
      `pool_mode = ${mode}`,
      'default_pool_size = 4',
      `unix_socket_dir =`,
      'ignore_startup_parameters = extra_float_digits,options',
      '',
    ].join('\n'),
  );
  // PgBouncer refuses to run as root: run it as the postgres user when we are root.
  let uid: number | undefined;
  let gid: number | undefined;
  if (userInfo().uid === 0) {
    const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    uid = Number(id.stdout.trim());
    gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    for (const f of [dir, conf, join(dir, 'users.txt')]) chownSync(f, uid, gid);
  }
  const child: ChildProcess = spawn('pgbouncer', [conf], {
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(uid !== undefined ? { uid, gid } : {}),
  });
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  const deadline = Date.now() + 15_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = netConnect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`pgbouncer did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = new URL(urlFor(db.name, db.adminUrl));
  url.port = String(port);
  url.hostname = '127.0.0.1';
  return { url: url.toString(), stop: () => child.kill('SIGTERM') };
}

// PgBouncer is a Debian package (apt-get install pgbouncer), not part of the base image.
describe.skipIf(!pgbouncerInstalled())(
  'migrate doctor through PgBouncer (skipped where pgbouncer is not installed)',
  () => {
    it('fails the pooler check in transaction mode, naming why, and passes it in session mode', async () => {
      const dir = makeProject(FILES);
      const transaction = await startPgbouncer('transaction');
      try {
        const result = await runCli(['doctor', '--json'], { cwd: dir, env: { DATABASE_URL: transaction.url } });
        expect(result.code, result.stderr).toBe(1);
        const pooler = JSON.parse(result.stdout).checks.find((c: { id: string }) => c.id === 'pooler');
        expect(pooler.status).toBe('fail');
        expect(pooler.message).toMatch(/a pooler in transaction mode is between us and PostgreSQL/);
        expect(pooler.hint).toMatch(/session mode/);
      } finally {
        transaction.stop();
      }
      const session = await startPgbouncer('session');
      try {
        const report = await run(dir, { DATABASE_URL: session.url });
        expect(check(report, 'database').status).toBe('ok');
        expect(check(report, 'pooler')).toMatchObject({ status: 'ok' });
      } finally {
        session.stop();
      }
    });
  },
);
