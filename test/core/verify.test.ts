/**
 * verify's findings, pure: real files in a temporary folder (so checksums and layouts are the real ones), a
 * history given as rows. No database.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verify, type Finding } from '../../src/core/verify.js';
import type { HistoryRow } from '../../src/db/history.js';
import { checksumOf, loadMigrations } from '../../src/source/files.js';

let dir: string;

async function project(files: Record<string, string>) {
  dir = await mkdtemp(join(tmpdir(), 'tidemark-verify-'));
  await mkdir(join(dir, 'migrations'));
  await mkdir(join(dir, 'rollback'));
  for (const [path, text] of Object.entries(files)) await writeFile(join(dir, path), text);
  return loadMigrations({ migrationsDir: join(dir, 'migrations'), rollbackDir: join(dir, 'rollback'), cwd: dir });
}

afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function row(version: string, name: string, text: string, extra: Partial<HistoryRow> = {}): HistoryRow {
  return {
    version,
    name,
    checksum: checksumOf(text),
    appliedAt: new Date('2026-01-02T03:04:05Z'),
    executionMs: 5,
    appliedBy: 'ci@runner',
    dirty: false,
    ...extra,
  };
}

const USERS = 'create table users (id int);\n';
const EMAIL = 'alter table users add column email text;\n';

/** Two applied migrations with rollbacks: the clean baseline every case changes one thing of. */
const clean = {
  'migrations/001_users.sql': USERS,
  'rollback/001_users_rollback.sql': 'drop table users;\n',
  'migrations/002_email.sql': EMAIL,
  'rollback/002_email_rollback.sql': 'alter table users drop column email;\n',
};
const cleanHistory = [row('001', 'users', USERS), row('002', 'email', EMAIL)];

const codes = (findings: readonly Finding[]) => findings.map((f) => `${f.severity} ${f.code} ${f.version}`);

describe('verify', () => {
  it('finds nothing when every file is applied, unchanged and has its rollback', async () => {
    const report = verify(await project(clean), cleanHistory);
    expect(report.findings).toEqual([]);
    expect(report).toMatchObject({ errors: 0, warnings: 0, checked: 2 });
  });

  it('reports an applied migration whose file changed as an error naming the file and migrate repair', async () => {
    const migrations = await project({
      ...clean,
      'migrations/002_email.sql': 'alter table users add column email varchar(200);\n',
    });
    const report = verify(migrations, cleanHistory);
    expect(codes(report.findings)).toEqual(['error checksum-changed 002']);
    expect(report.findings[0]!.file).toBe('migrations/002_email.sql');
    expect(report.findings[0]!.message).toContain('migrate repair 002');
  });

  it('gives a CRLF checkout of a file applied from LF the same checksum: no finding', async () => {
    const migrations = await project({ ...clean, 'migrations/002_email.sql': EMAIL.replace(/\n/g, '\r\n') });
    expect(migrations[1]!.up.text).toContain('\r\n');
    expect(verify(migrations, cleanHistory).findings).toEqual([]);
  });

  it('reports an applied migration whose file is gone as an error, with no file', async () => {
    const { 'migrations/002_email.sql': _gone, 'rollback/002_email_rollback.sql': _too, ...rest } = clean;
    const report = verify(await project(rest), cleanHistory);
    expect(codes(report.findings)).toEqual(['error file-missing 002']);
    expect(report.findings[0]).toMatchObject({ file: null });
    expect(report.findings[0]!.message).toContain('002_email');
  });

  it('reports a dirty migration as an error naming migrate repair', async () => {
    const report = verify(await project(clean), [cleanHistory[0]!, row('002', 'email', EMAIL, { dirty: true })]);
    expect(codes(report.findings)).toEqual(['error dirty 002']);
    expect(report.findings[0]!.message).toContain('migrate repair 002');
  });

  it('reports a pending migration older than the newest applied one as out of order (an error), and as pending', async () => {
    const migrations = await project({
      ...clean,
      'migrations/003_orders.sql': 'create table orders ();\n',
      'rollback/003_orders_rollback.sql': '',
    });
    const report = verify(migrations, [cleanHistory[0]!, row('003', 'orders', 'create table orders ();\n')]);
    expect(codes(report.findings)).toEqual(['error out-of-order 002', 'warning pending 002']);
    expect(report.findings[0]!.message).toContain('--allow-out-of-order');
    const allowed = verify(migrations, [cleanHistory[0]!, row('003', 'orders', 'create table orders ();\n')], {
      allowOutOfOrder: true,
    });
    expect(codes(allowed.findings)).toEqual(['warning out-of-order 002', 'warning pending 002']);
  });

  it('reports a migration without a rollback as an error, a warning with --allow-missing-rollback', async () => {
    const { 'rollback/002_email_rollback.sql': _gone, ...rest } = clean;
    const migrations = await project(rest);
    const report = verify(migrations, cleanHistory, { rollbackDir: 'rollback' });
    expect(codes(report.findings)).toEqual(['error rollback-missing 002']);
    expect(report.findings[0]!.message).toContain('rollback/002_email_rollback.sql');
    expect(codes(verify(migrations, cleanHistory, { allowMissingRollback: true }).findings)).toEqual([
      'warning rollback-missing 002',
    ]);
  });

  it('suggests the .down.sql name for a migration in the golang-migrate layout', async () => {
    const migrations = await project({ ...clean, 'migrations/003_orders.up.sql': 'create table orders ();\n' });
    const finding = verify(migrations, cleanHistory).findings.find((f) => f.code === 'rollback-missing');
    expect(finding?.message).toContain('migrations/003_orders.down.sql');
  });

  it('reports an empty or comment-only migration as a warning', async () => {
    const migrations = await project({
      ...clean,
      'migrations/003_nothing.sql': '-- the enum value cannot be removed\n\n',
      'rollback/003_nothing_rollback.sql': '',
    });
    const report = verify(migrations, [
      ...cleanHistory,
      row('003', 'nothing', '-- the enum value cannot be removed\n\n'),
    ]);
    expect(codes(report.findings)).toEqual(['warning empty-migration 003']);
    expect(report.errors).toBe(0);
  });

  it('reports an empty rollback file as a warning when the caller says which are empty', async () => {
    const migrations = await project({
      ...clean,
      'migrations/003_value.sql': "alter type mood add value 'meh';\n",
      'rollback/003_value_rollback.sql': '-- an enum value cannot be removed\n',
    });
    const history = [...cleanHistory, row('003', 'value', "alter type mood add value 'meh';\n")];
    const report = verify(migrations, history, { emptyRollbacks: new Set(['003']) });
    expect(codes(report.findings)).toEqual(['warning empty-rollback 003']);
    expect(report.findings[0]!.message).toMatch(/rollback holds no statement/);
    expect(report.errors).toBe(0);
  });

  it('reports pending migrations as warnings, errors with --no-pending', async () => {
    const migrations = await project(clean);
    expect(codes(verify(migrations, [cleanHistory[0]!]).findings)).toEqual(['warning pending 002']);
    const strict = verify(migrations, [cleanHistory[0]!], { noPending: true });
    expect(codes(strict.findings)).toEqual(['error pending 002']);
    expect(strict.errors).toBe(1);
  });

  it('reports every finding at once, oldest version first and errors before warnings', async () => {
    const migrations = await project({
      'migrations/001_users.sql': USERS + '-- edited\n',
      'migrations/002_email.sql': EMAIL,
      'migrations/004_empty.sql': '',
    });
    const report = verify(migrations, [row('001', 'users', USERS), row('003', 'gone', 'x', { dirty: true })]);
    expect(codes(report.findings)).toEqual([
      'error checksum-changed 001',
      'error rollback-missing 001',
      'error out-of-order 002',
      'error rollback-missing 002',
      'warning pending 002',
      'error dirty 003',
      'error file-missing 003',
      'error rollback-missing 004',
      'warning pending 004',
      'warning empty-migration 004',
    ]);
  });
});
