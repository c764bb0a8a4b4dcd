/**
 * The `migrate backup` and `migrate restore` command handlers, driven with a CommandContext over in-memory
 * streams (they are not registered in cli/main.ts by this module's owner; see its final note).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backup } from '../../../src/cli/commands/backup.js';
import { restore } from '../../../src/cli/commands/restore.js';
import { CommandContext, type GlobalFlags } from '../../../src/cli/context.js';
import { MigrateError } from '../../../src/errors.js';
import { testDatabase, type TestDatabase } from '../../helpers/db.js';

let db: TestDatabase;
const cwd = mkdtempSync(join(tmpdir(), 'tidemark-cli-backup-'));
const restoredName = () => `${db.name}_r`;

function context(flags: GlobalFlags): { ctx: CommandContext; stdout: () => string; stderr: () => string } {
  const out = new PassThrough();
  const err = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (d) => (o += d));
  err.on('data', (d) => (e += d));
  const ctx = new CommandContext(flags, {
    stdout: out,
    stderr: err,
    stdin: new PassThrough(),
    env: { CI: '1', PATH: process.env.PATH ?? '' },
    cwd,
    signal: new AbortController().signal,
  });
  return { ctx, stdout: () => o, stderr: () => e };
}

beforeAll(async () => {
  db = await testDatabase('backup_cli');
  await db.query(`
    create table schema_migrations (version text primary key, name text, checksum text, applied_at timestamptz,
      execution_ms int, applied_by text, dirty boolean default false);
    insert into schema_migrations values ('003', 'c', 'x', now(), 1, 'me', false);
    create table things (id int);
  `);
});
afterAll(async () => {
  // restoredName() starts with the run's prefix: it goes with the run's databases.
  await db.drop();
  rmSync(cwd, { recursive: true, force: true });
});

describe('migrate backup / restore handlers', () => {
  let file = '';

  it('backup --json prints one document naming the validated file', async () => {
    const { ctx, stdout } = context({ databaseUrl: db.url, json: true });
    try {
      expect(await backup(ctx, {})).toBe(0);
    } finally {
      await ctx.close();
    }
    const doc = JSON.parse(stdout()) as { backup: { file: string; versionBefore: string; tables: number } };
    file = doc.backup.file;
    expect(doc.backup).toMatchObject({ versionBefore: '003', tables: 2 });
    expect(file.startsWith(join(cwd, 'backups'))).toBe(true);
    expect(existsSync(file)).toBe(true);
  });

  it('backup --list --json shows the recorded backup', async () => {
    const { ctx, stdout } = context({ databaseUrl: db.url, json: true });
    try {
      expect(await backup(ctx, { list: true })).toBe(0);
    } finally {
      await ctx.close();
    }
    const doc = JSON.parse(stdout()) as { backups: { fileName: string }[] };
    expect(doc.backups.map((b) => b.fileName)).toEqual([file.split('/').at(-1)]);
  });

  it('restore prints the version the restored database is at', async () => {
    const { ctx, stdout } = context({ databaseUrl: db.url });
    try {
      expect(await restore(ctx, { into: restoredName() }, file)).toBe(0);
    } finally {
      await ctx.close();
    }
    expect(stdout()).toContain(`The database ${restoredName()} is at version 003.`);
  });

  it('restore --force without a terminal and without --yes changes nothing (exit 2)', async () => {
    const { ctx } = context({ databaseUrl: db.url });
    const error = await restore(ctx, { into: db.name, force: true }, file).catch((e: unknown) => e);
    await ctx.close();
    expect((error as MigrateError).code).toBe('confirmation-required');
    expect((error as MigrateError).exitCode).toBe(2);
  });

  it('backup of a missing database is db-not-found (exit 3), as status says, not a vaguer code of its own', async () => {
    const url = new URL(db.url);
    url.pathname = '/tidemark_no_such_db';
    const { ctx } = context({ databaseUrl: url.toString() });
    const error = await backup(ctx, {}).catch((e: unknown) => e);
    await ctx.close();
    expect((error as MigrateError).code).toBe('db-not-found');
    expect((error as MigrateError).exitCode).toBe(3);
    expect((error as MigrateError).message).toMatch(/The database "tidemark_no_such_db" does not exist/);
  });
});
