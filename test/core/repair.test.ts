/**
 * migrate repair: the rules (pure), the confirmation (a TTY driven in-process; CI and pipes through the built
 * CLI), and the record every repair leaves, against a real PostgreSQL.
 */
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { planRepair } from '../../src/core/repair.js';
import type { HistoryRow } from '../../src/db/history.js';
import { run } from '../../src/cli/main.js';
import { MigrateError } from '../../src/errors.js';
import { checksumOf, loadMigrations } from '../../src/source/files.js';
import { useTestDatabase } from '../helpers/db.js';
import { makeProject, runCli, writeFiles } from '../helpers/project.js';
import { join } from 'node:path';

const USERS = 'create table users (id int primary key);\n';
const FILES = {
  'migrations/001_users.sql': USERS,
  'rollback/001_users_rollback.sql': 'drop table users;\n',
  'migrations/002_steps.sql':
    '-- migrate:no-transaction\ncreate table step_one (id int);\ninsert into step_one values (1);\ninsert into step_one values (1 / 0);\n',
  'rollback/002_steps_rollback.sql': 'drop table step_one;\n',
};

function historyRow(version: string, name: string, checksum: string, dirty = false): HistoryRow {
  return { version, name, checksum, appliedAt: new Date(), executionMs: 1, appliedBy: 'x@y', dirty };
}

describe('planRepair (pure)', () => {
  const load = async (files: Record<string, string>) => {
    const dir = makeProject(files);
    return loadMigrations({ migrationsDir: join(dir, 'migrations'), rollbackDir: join(dir, 'rollback'), cwd: dir });
  };

  it('clears a dirty mark, keeping the checksum', async () => {
    const ms = await load(FILES);
    const plan = planRepair(
      ms,
      [historyRow('001', 'users', ms[0]!.checksum), historyRow('002', 'steps', ms[1]!.checksum, true)],
      '2',
    );
    expect(plan).toMatchObject({
      version: '002',
      actions: ['clear-dirty'],
      wasDirty: true,
      oldChecksum: ms[1]!.checksum,
      newChecksum: ms[1]!.checksum,
    });
    expect(plan!.description).toMatch(/mark dirty 002_steps as applied/);
  });

  it('accepts a changed checksum, and does both for a dirty row whose file was edited', async () => {
    const ms = await load(FILES);
    const old = checksumOf('create table users (id bigint primary key);\n');
    expect(planRepair(ms, [historyRow('001', 'users', old)], '001')).toMatchObject({
      actions: ['accept-checksum'],
      oldChecksum: old,
      newChecksum: ms[0]!.checksum,
    });
    expect(planRepair(ms, [historyRow('001', 'users', old, true)], '001')!.actions).toEqual([
      'clear-dirty',
      'accept-checksum',
    ]);
  });

  it('has nothing to do for a clean, unchanged migration', async () => {
    const ms = await load(FILES);
    expect(planRepair(ms, [historyRow('001', 'users', ms[0]!.checksum)], '001')).toBeUndefined();
  });

  it('refuses (exit 2) a version that is not applied, one whose file is gone, and --rerun of a clean one', async () => {
    const ms = await load(FILES);
    const refuse = (fn: () => unknown, code: string) => {
      try {
        fn();
      } catch (error) {
        expect(error).toBeInstanceOf(MigrateError);
        expect((error as MigrateError).code).toBe(code);
        expect((error as MigrateError).exitCode).toBe(2);
        return;
      }
      throw new Error(`expected ${code}`);
    };
    refuse(() => planRepair(ms, [historyRow('001', 'users', ms[0]!.checksum)], '002'), 'not-applied');
    refuse(() => planRepair(ms, [historyRow('009', 'gone', 'abc', true)], '009'), 'repair-file-missing');
    refuse(
      () => planRepair(ms, [historyRow('001', 'users', ms[0]!.checksum)], '001', { rerun: true }),
      'repair-rerun-clean',
    );
    expect(planRepair(ms, [historyRow('002', 'steps', ms[1]!.checksum, true)], '002', { rerun: true })).toMatchObject({
      actions: ['rerun'],
      newChecksum: null,
    });
  });
});

describe('migrate repair', () => {
  const db = useTestDatabase('repair', { resetEach: true });

  const env = () => ({ DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false' });
  const cli = (dir: string, args: string[], extra: Record<string, string | undefined> = {}) =>
    runCli(args, { cwd: dir, env: { ...env(), ...extra } });

  /** The CLI in-process on a pretend terminal, answering `answer` to a prompt. */
  async function onTty(dir: string, args: string[], answer: string, extraEnv: Record<string, string> = {}) {
    const stdout = Object.assign(new PassThrough(), { isTTY: true });
    const stderr = Object.assign(new PassThrough(), { isTTY: true });
    const stdin = Object.assign(Readable.from([answer]), { isTTY: true });
    let out = '';
    let err = '';
    stdout.on('data', (d) => (out += d));
    stderr.on('data', (d) => (err += d));
    const code = await run(['--no-color', ...args], {
      stdout,
      stderr,
      stdin,
      env: { ...env(), ...extraEnv },
      cwd: dir,
      signal: new AbortController().signal,
    });
    return { code, stdout: out, stderr: err };
  }

  /** 001 applied, 002 failed in its third statement and is dirty. */
  async function dirtyProject(): Promise<string> {
    const dir = makeProject(FILES);
    const up = await cli(dir, ['up']);
    expect(up.code).toBe(1);
    expect(await dirtyOf('002')).toBe(true);
    return dir;
  }

  async function dirtyOf(version: string): Promise<boolean | undefined> {
    const rows = await db.query<{ dirty: boolean }>('select dirty from schema_migrations where version = $1', [
      version,
    ]);
    return rows[0]?.dirty;
  }

  async function repairs() {
    return db.query<Record<string, unknown>>(
      'select version, action, old_checksum, new_checksum, was_dirty, repaired_by, db_user, repaired_at from schema_migrations_repairs order by id',
    );
  }

  it('refuses without a terminal (exit 2), naming --yes, and changes nothing', async () => {
    const dir = await dirtyProject();
    const result = await cli(dir, ['repair', '002']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no terminal to confirm on \(CI is set\)/);
    expect(result.stderr).toMatch(/migrate repair 002 --yes/);
    expect(await dirtyOf('002')).toBe(true);
    expect(await db.query("select 1 from pg_tables where tablename = 'schema_migrations_repairs'")).toEqual([]);
  });

  it('refuses in CI even on a terminal unless --yes', async () => {
    const dir = await dirtyProject();
    const result = await onTty(dir, ['repair', '002'], 'y\n', { CI: 'true' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/confirm/);
    expect(await dirtyOf('002')).toBe(true);
  });

  it('asks on a terminal: no leaves everything as it was (exit 1), yes clears the dirty mark', async () => {
    const dir = await dirtyProject();
    const declined = await onTty(dir, ['repair', '002'], 'n\n');
    expect(declined.stderr).toMatch(
      /This will mark dirty 002_steps as applied \(you finished it by hand\)\.[\s\S]*\[y\/N\]/,
    );
    expect(declined.code).toBe(1);
    expect(declined.stderr).toMatch(/Nothing was changed/);
    expect(await dirtyOf('002')).toBe(true);

    // The operator finishes the migration by hand, then confirms.
    await db.query('insert into step_one values (2)');
    const accepted = await onTty(dir, ['repair', '002'], 'yes\n');
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(accepted.stdout).toMatch(/Repaired 002_steps/);
    expect(await dirtyOf('002')).toBe(false);
    const [log] = await repairs();
    expect(log).toMatchObject({
      version: '002',
      action: 'clear-dirty',
      was_dirty: true,
      repaired_by: expect.stringMatching(/@/),
      db_user: expect.any(String),
    });
    expect(log!.old_checksum).toBe(log!.new_checksum);
    expect(log!.repaired_at).toBeInstanceOf(Date);
  });

  it('with --yes in CI: repairs, records who, when, what and both checksums, and status shows it', async () => {
    const dir = await dirtyProject();
    const result = await cli(dir, ['repair', '002', '--yes']);
    expect(result.code, result.stderr).toBe(0);
    expect(await dirtyOf('002')).toBe(false);

    // An intentional edit of an applied file, accepted.
    writeFiles(dir, { 'migrations/001_users.sql': `-- users of the shop\n${USERS}` });
    expect((await cli(dir, ['up'])).code).toBe(2);
    const accept = await cli(dir, ['repair', '1', '--yes', '--json']);
    expect(accept.code).toBe(0);
    expect(JSON.parse(accept.stdout).repaired).toMatchObject({
      version: '001',
      actions: ['accept-checksum'],
      newChecksum: checksumOf(`-- users of the shop\n${USERS}`),
    });
    const logs = await repairs();
    expect(logs.map((l) => l.action)).toEqual(['clear-dirty', 'accept-checksum']);
    expect(logs[1]).toMatchObject({
      old_checksum: checksumOf(USERS),
      new_checksum: checksumOf(`-- users of the shop\n${USERS}`),
      was_dirty: false,
    });

    const status = await cli(dir, ['status']);
    expect(status.stdout).toMatch(/Repairs \(oldest first\):/);
    expect(status.stdout).toMatch(/002 {2}cleared the dirty mark \(finished by hand\), by \S+@\S+/);
    expect(status.stdout).toMatch(/001 {2}accepted a changed checksum \([0-9a-f]{12} -> [0-9a-f]{12}\)/);
    const json = JSON.parse((await cli(dir, ['status', '--json'])).stdout);
    expect(json.repairs).toMatchObject([
      { version: '002', action: 'clear-dirty', wasDirty: true },
      { version: '001', action: 'accept-checksum', oldChecksum: checksumOf(USERS) },
    ]);
    expect(json.migrations.map((m: { state: string }) => m.state)).toEqual(['applied', 'applied']);
    expect((await cli(dir, ['verify'])).code).toBe(0);
  });

  it('--rerun forgets a dirty migration whose effects were undone by hand, so the next up runs it again', async () => {
    const dir = await dirtyProject();
    await db.query('drop table step_one');
    writeFiles(dir, {
      'migrations/002_steps.sql':
        '-- migrate:no-transaction\ncreate table step_one (id int);\ninsert into step_one values (1);\ninsert into step_one values (2);\n',
    });
    const result = await cli(dir, ['repair', '002', '--rerun', '--yes']);
    expect(result.code, result.stderr).toBe(0);
    expect(await dirtyOf('002')).toBeUndefined();
    expect((await repairs()).map((l) => l.action)).toEqual(['rerun']);
    const up = await cli(dir, ['up']);
    expect(up.code, up.stderr).toBe(0);
    expect(await db.query('select id from step_one order by id')).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('says there is nothing to repair (exit 0) for a clean migration, and refuses a pending one (exit 2)', async () => {
    const dir = makeProject({ 'migrations/001_users.sql': USERS, 'migrations/002_more.sql': 'select 1;\n' });
    expect((await cli(dir, ['up', '--to', '1'])).code).toBe(0);
    const clean = await cli(dir, ['repair', '001']);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toMatch(/nothing to repair/);
    const pending = await cli(dir, ['repair', '002', '--yes']);
    expect(pending.code).toBe(2);
    expect(pending.stderr).toMatch(/002_more is not in the history/);
  });
});
