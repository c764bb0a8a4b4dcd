/** migrate schema dump | check, and the SCHEMA_FILE rewrite after up: the built CLI against a real PostgreSQL. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCRATCH_PREFIX } from '../../src/db/scratch.js';
import { normaliseDump, schemaFileVersion } from '../../src/schema/dump.js';
import { adminQuery, useTestDatabase } from '../helpers/db.js';
import { makeProject, runCli } from '../helpers/project.js';

const db = useTestDatabase('schema_dump');

const FILES = {
  'migrations/001_users.sql':
    "create table users (id bigint primary key, email text not null);\ncreate view recent as select id from users where now() > 'now'::timestamp;\n",
  'rollback/001_users_rollback.sql': 'drop view recent;\ndrop table users;\n',
};

function cli(dir: string, args: string[], env: Record<string, string> = {}) {
  return runCli(args, { cwd: dir, env: { DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false', ...env } });
}

describe('normaliseDump', () => {
  it('drops the \\restrict keys, the version header and timestamps, and says the migration version', () => {
    const raw = [
      '--',
      '-- PostgreSQL database dump',
      '--',
      '',
      '\\restrict Xy12AbC',
      '',
      '-- Dumped from database version 15.20',
      '-- Dumped by pg_dump version 15.20',
      '-- Started on 2026-11-30 04:00:00 UTC',
      '',
      '',
      '',
      "CREATE VIEW public.v AS SELECT 1 WHERE now() > '2026-11-30 04:38:24.123456'::timestamp without time zone;",
      '',
      '\\unrestrict Xy12AbC',
      '',
    ].join('\n');
    const text = normaliseDump(raw, '007');
    expect(text).not.toMatch(/restrict|Dumped|Started on|2026/);
    expect(text).toContain("'now'::timestamp without time zone");
    expect(text).not.toMatch(/\n\n\n/);
    expect(schemaFileVersion(text)).toBe('007');
    expect(normaliseDump(raw.replace(/Xy12AbC/g, 'Other99'), '007')).toBe(text);
  });
});

describe('migrate schema dump | check', () => {
  it('writes the same bytes twice, without restrict keys or tidemark tables, and check passes', async () => {
    const dir = makeProject(FILES);
    expect((await cli(dir, ['up'])).code).toBe(0);
    const first = await cli(dir, ['schema', 'dump']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/Wrote schema.sql \(at version 001\)/);
    const text = readFileSync(join(dir, 'schema.sql'), 'utf8');
    expect(text).toMatch(/CREATE TABLE public\.users/);
    expect(text).not.toMatch(/\\restrict|\\unrestrict|Dumped by|schema_migrations|db_backups/);
    expect(text).toContain("'now'::timestamp");
    expect((await cli(dir, ['schema', 'dump'])).code).toBe(0);
    expect(readFileSync(join(dir, 'schema.sql'), 'utf8')).toBe(text);

    const check = await cli(dir, ['schema', 'check']);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/The database matches schema.sql/);
  });

  it('exits 1 naming a hand-made change, and leaves no scratch database', async () => {
    const dir = makeProject(FILES);
    await db.reset();
    expect((await cli(dir, ['up'])).code).toBe(0);
    expect((await cli(dir, ['schema', 'dump'])).code).toBe(0);
    await db.query('alter table users alter column email drop not null; create index users_email_idx on users (email)');
    // In this process: its scratch databases carry this process's pid.
    const pid = process.pid;
    const check = await runCli(['schema', 'check'], { cwd: dir, env: { DATABASE_URL: db.url } });
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/The database differs from schema.sql \(written at version 001\)/);
    expect(check.stdout).toMatch(/in the database only: index public\.users_email_idx/);
    expect(check.stdout).toMatch(/changed column public\.users\.email \(schema.sql -> database\): not null yes -> no/);
    const json = JSON.parse((await cli(dir, ['schema', 'check', '--json'])).stdout);
    expect(json).toMatchObject({ matches: false, fileVersion: '001' });
    expect(json.changes).toHaveLength(2);
    const { rows } = await adminQuery('select datname from pg_database where datname like $1', [
      `${SCRATCH_PREFIX}${pid}\\_%`,
    ]);
    expect(rows).toEqual([]);
  });

  it('rewrites SCHEMA_FILE after up and down when the setting is present', async () => {
    const dir = makeProject(FILES);
    await db.reset();
    const up = await cli(dir, ['up'], { SCHEMA_FILE: 'db/structure.sql' });
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toMatch(/Wrote db\/structure.sql/);
    expect(readFileSync(join(dir, 'db/structure.sql'), 'utf8')).toMatch(
      /tidemark version: 001[\s\S]*CREATE TABLE public\.users/,
    );
    expect((await cli(dir, ['down'], { SCHEMA_FILE: 'db/structure.sql' })).code).toBe(0);
    expect(readFileSync(join(dir, 'db/structure.sql'), 'utf8')).not.toMatch(/CREATE TABLE public\.users/);
  });

  it('says how to create the file when it is missing (exit 2)', async () => {
    const dir = makeProject(FILES);
    const check = await cli(dir, ['schema', 'check']);
    expect(check.code).toBe(2);
    expect(check.stderr).toMatch(/schema file schema.sql does not exist/);
  });
});
