/** The backup step as `up` and `down` run it: taken and proven first, under the runner lock, or said skipped. */
import { chmodSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';
import { makeProject, runCli } from '../helpers/project.js';

const db = useTestDatabase('runner_backup', { resetEach: true });

const FILES = {
  'migrations/001_a.sql': 'create table a (id int);\ninsert into a values (1);\n',
  'rollback/001_a_rollback.sql': 'drop table a;\n',
  'migrations/002_b.sql': 'create table b (id int);\n',
  'rollback/002_b_rollback.sql': 'drop table b;\n',
};

function cli(dir: string, args: string[], env: Record<string, string> = {}) {
  return runCli(args, { cwd: dir, env: { DATABASE_URL: db.url, ...env } });
}

describe('the backup before a change', () => {
  it('up takes a validated backup first, names it by database and version, and records it', async () => {
    const dir = makeProject(FILES);
    expect((await cli(dir, ['up', '--to', '1', '--no-backup'])).code).toBe(0);
    const result = await cli(dir, ['up', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc.backup.file).toMatch(new RegExp(`^backups/${db.name}_\\d{8}T\\d{6}Z_001\\.dump$`));
    expect(doc.backup.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(readdirSync(join(dir, 'backups'))).toHaveLength(1);
    const rows = await db.query<{ n: number }>('select count(*)::int as n from db_backups');
    expect(rows[0]!.n).toBe(1);
  });

  it('takes no backup when nothing is pending', async () => {
    const dir = makeProject(FILES);
    expect((await cli(dir, ['up', '--no-backup'])).code).toBe(0);
    const result = await cli(dir, ['up', '--json']);
    expect(JSON.parse(result.stdout).backup).toBeNull();
  });

  it('says a skipped backup in the output and in --json', async () => {
    const dir = makeProject(FILES);
    const flag = await cli(dir, ['up', '--no-backup', '--json']);
    expect(JSON.parse(flag.stdout).backupSkipped).toBe('--no-backup');
    const setting = await cli(dir, ['down'], { BACKUP_BEFORE_MIGRATE: 'false' });
    expect(setting.code).toBe(0);
    expect(setting.stderr).toMatch(/Backup skipped: BACKUP_BEFORE_MIGRATE=false/);
  });

  it('runs nothing when the backup fails, and says why (exit 1)', async () => {
    const dir = makeProject(FILES);
    const fake = join(dir, 'fake_pg_dump');
    writeFileSync(
      fake,
      '#!/bin/sh\nif [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) 15.4"; exit 0; fi\necho "pg_dump: error: disk on fire" >&2\nexit 1\n',
    );
    chmodSync(fake, 0o755);
    const result = await cli(dir, ['up'], { PG_DUMP_PATH: fake });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/disk on fire/);
    expect(
      await db.query("select 1 from information_schema.tables where table_name in ('a', 'schema_migrations')"),
    ).toEqual([]);
  });

  it('down takes a backup too', async () => {
    const dir = makeProject(FILES);
    expect((await cli(dir, ['up', '--no-backup'])).code).toBe(0);
    const result = await cli(dir, ['down', '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).backup.file).toMatch(/_002\.dump$/);
  });
});
