/**
 * verify and up's refusals end to end: the built CLI against a real PostgreSQL. The findings themselves are
 * unit-tested in test/core/verify.test.ts; here: exit codes, the JSON contract, and that up names the resolving command.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../helpers/db.js';
import { makeProject, runCli, writeFiles } from '../../helpers/project.js';

const db = useTestDatabase('verify_cli', { resetEach: true });

const SCHEMA = {
  'migrations/001_users.sql': 'create table users (id int primary key);\n',
  'rollback/001_users_rollback.sql': 'drop table users;\n',
  'migrations/002_email.sql': 'alter table users add column email text;\n',
  'rollback/002_email_rollback.sql': 'alter table users drop column email;\n',
};

function cli(dir: string, args: string[], env: Record<string, string | undefined> = {}) {
  return runCli(args, { cwd: dir, env: { DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false', ...env } });
}

async function appliedProject(): Promise<string> {
  const dir = makeProject(SCHEMA);
  const up = await cli(dir, ['up']);
  expect(up.code, up.stderr).toBe(0);
  return dir;
}

describe('migrate verify', () => {
  it('exits 0 with no finding when the history matches the files', async () => {
    const dir = await appliedProject();
    const result = await cli(dir, ['verify', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ findings: [] });
    const human = await cli(dir, ['verify']);
    expect(human.stdout).toMatch(/Verified 2 migrations: 0 errors, 0 warnings/);
  });

  it('warns about an empty rollback file (exit 0)', async () => {
    const dir = await appliedProject();
    writeFiles(dir, { 'rollback/002_email_rollback.sql': '-- cannot be undone\n' });
    const result = await cli(dir, ['verify', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).findings).toEqual([
      expect.objectContaining({
        severity: 'warning',
        code: 'empty-rollback',
        version: '002',
        file: 'migrations/002_email.sql',
      }),
    ]);
  });

  it('exits 1 on a changed file and lists the finding as JSON with severity, code, version, file and message', async () => {
    const dir = await appliedProject();
    writeFiles(dir, { 'migrations/002_email.sql': 'alter table users add column email varchar(100);\n' });
    const result = await cli(dir, ['verify', '--json']);
    expect(result.code).toBe(1);
    const doc = JSON.parse(result.stdout);
    expect(doc.findings).toEqual([
      {
        severity: 'error',
        code: 'checksum-changed',
        version: '002',
        file: 'migrations/002_email.sql',
        message: expect.stringContaining('migrate repair 002'),
      },
    ]);
  });

  it('warns about pending migrations (exit 0) and fails on them with --no-pending (exit 1)', async () => {
    const dir = await appliedProject();
    writeFiles(dir, {
      'migrations/003_orders.sql': 'create table orders ();\n',
      'rollback/003_orders_rollback.sql': 'drop table orders;\n',
    });
    const lax = await cli(dir, ['verify']);
    expect(lax.code).toBe(0);
    expect(lax.stdout).toMatch(/warning 003 pending/);
    const strict = await cli(dir, ['verify', '--no-pending', '--json']);
    expect(strict.code).toBe(1);
    expect(JSON.parse(strict.stdout).findings).toMatchObject([{ severity: 'error', code: 'pending', version: '003' }]);
  });

  it('fails on a missing rollback unless --allow-missing-rollback', async () => {
    const dir = await appliedProject();
    rmSync(join(dir, 'rollback/002_email_rollback.sql'));
    expect((await cli(dir, ['verify'])).code).toBe(1);
    const allowed = await cli(dir, ['verify', '--allow-missing-rollback', '--json']);
    expect(allowed.code).toBe(0);
    expect(JSON.parse(allowed.stdout).findings).toMatchObject([
      { severity: 'warning', code: 'rollback-missing', version: '002' },
    ]);
  });

  it('checks a database tidemark never touched without creating anything', async () => {
    const dir = makeProject(SCHEMA);
    const result = await cli(dir, ['verify', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).findings.map((f: { code: string }) => f.code)).toEqual(['pending', 'pending']);
    expect(await db.query("select 1 from pg_tables where schemaname = 'public'")).toEqual([]);
  });

  it('exits 3 when the database cannot be reached', async () => {
    const dir = makeProject(SCHEMA);
    const result = await cli(dir, ['verify'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(result.code).toBe(3);
  });
});

describe('migrate up refuses to start', () => {
  it('on a changed file, naming migrate repair, and runs nothing', async () => {
    const dir = await appliedProject();
    writeFiles(dir, {
      'migrations/001_users.sql': 'create table users (id bigint primary key);\n',
      'migrations/003_orders.sql': 'create table orders ();\n',
    });
    const result = await cli(dir, ['up']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/001_users was changed after it was applied/);
    expect(result.stderr).toMatch(/migrate repair 001/);
    expect(result.stderr).toMatch(/Nothing was run/);
    expect(await db.query("select 1 from pg_tables where tablename = 'orders'")).toEqual([]);
  });

  it('on a missing file, saying to restore it', async () => {
    const dir = await appliedProject();
    rmSync(join(dir, 'migrations/002_email.sql'));
    rmSync(join(dir, 'rollback/002_email_rollback.sql'));
    const result = await cli(dir, ['up', '--json']);
    expect(result.code).toBe(2);
    const doc = JSON.parse(result.stdout);
    expect(doc.error.code).toBe('run-blocked');
    expect(doc.error.blockers).toMatchObject([{ version: '002', state: 'missing' }]);
    expect(doc.error.message).toMatch(/Restore the file from version control/);
  });

  it('on a dirty migration, naming migrate repair', async () => {
    const dir = await appliedProject();
    await db.query("update schema_migrations set dirty = true where version = '002'");
    writeFiles(dir, { 'migrations/003_orders.sql': 'create table orders ();\n' });
    const result = await cli(dir, ['up']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/002_email is dirty/);
    expect(result.stderr).toMatch(/migrate repair 002/);
    expect(await db.query("select 1 from pg_tables where tablename = 'orders'")).toEqual([]);
  });

  it('on an out-of-order pending migration unless --allow-out-of-order, which then applies it', async () => {
    const dir = makeProject({ ...SCHEMA, 'migrations/003_orders.sql': 'create table orders ();\n' });
    rmSync(join(dir, 'migrations/002_email.sql'));
    rmSync(join(dir, 'rollback/002_email_rollback.sql'));
    expect((await cli(dir, ['up'])).code).toBe(0);
    writeFiles(dir, {
      'migrations/002_email.sql': SCHEMA['migrations/002_email.sql'],
      'rollback/002_email_rollback.sql': SCHEMA['rollback/002_email_rollback.sql'],
    });

    const refused = await cli(dir, ['up']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/002_email is pending but older than the newest applied migration/);
    expect(refused.stderr).toMatch(/--allow-out-of-order/);

    const verify = await cli(dir, ['verify', '--json']);
    expect(JSON.parse(verify.stdout).findings).toContainEqual(
      expect.objectContaining({ severity: 'error', code: 'out-of-order', version: '002' }),
    );

    const allowed = await cli(dir, ['up', '--allow-out-of-order']);
    expect(allowed.code, allowed.stderr).toBe(0);
    const rows = await db.query<{ version: string }>('select version from schema_migrations order by version');
    expect(rows.map((r) => r.version)).toEqual(['001', '002', '003']);
  });
});
