/**
 * The library reads no environment: an app that passes connection parameters gets exactly those, whatever
 * PG* variables its process carries (pg would fill missing fields from them, and pg_dump would inherit them).
 * Wrong values are set in this process around each library call and put back after it (the test's own
 * helpers use pg too).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { libpqChildEnv, paramsFromUrl } from '../../src/db/params.js';
import { createMigrator } from '../../src/index.js';
import { useTestDatabase } from '../helpers/db.js';

const db = useTestDatabase('library_env', { resetEach: true });
const saved = { ...process.env };

const FOREIGN = {
  PGHOST: 'no-such-host.invalid',
  PGPORT: '1',
  PGUSER: 'nobody',
  PGPASSWORD: 'wrong-password',
  PGDATABASE: 'nothing',
  PGOPTIONS: '-c search_path=nowhere',
  PGAPPNAME: 'foreign-app',
  // The test server offers no SSL: a pg_dump that inherited this would fail.
  PGSSLMODE: 'require',
  PGSSLNEGOTIATION: 'direct',
  PGCLIENTENCODING: 'LATIN1',
  PGREPLICATION: 'database',
  PGPASSFILE: '/nonexistent/pgpass',
};

async function withForeignEnvironment<T>(fn: () => Promise<T>): Promise<T> {
  Object.assign(process.env, FOREIGN);
  try {
    return await fn();
  } finally {
    process.env = { ...saved };
  }
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tidemark-env-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** The test database as explicit connection parameters (an object, not a URL). */
function parameters() {
  const url = new URL(db.url);
  return {
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    database: db.name,
  };
}

const PROBE = {
  version: 1,
  name: 'probe',
  up: `create table probe as select current_user::text as who, current_setting('search_path') as path,
         current_setting('application_name') as app, current_setting('client_encoding') as encoding`,
};

describe('createMigrator with explicit connection parameters, PG* variables set to wrong values', () => {
  it('connects with exactly the parameters: no PGHOST, PGUSER, PGPASSWORD, PGOPTIONS, PGAPPNAME from the process', async () => {
    const database = parameters();
    const result = await withForeignEnvironment(() => createMigrator({ database, migrations: [PROBE] }).up());
    expect(result.applied.map((m) => m.version)).toEqual(['1']);
    const [row] = await db.query('select who, path, app, encoding from probe');
    expect(row).toEqual({ who: parameters().user, path: '"$user", public', app: 'tidemark', encoding: 'UTF8' });
  });

  it('takes a backup whose pg_dump sees none of the foreign PG* variables (PGSSLMODE=require would fail it)', async () => {
    const database = parameters();
    const result = await withForeignEnvironment(() =>
      createMigrator({ database, migrations: [PROBE], backup: { directory: join(work, 'backups') } }).up(),
    );
    expect(result.backup?.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("a libpq tool's environment", () => {
  it('is built from the parameters and the tool variables only, nothing else of the parent', () => {
    const params = paramsFromUrl('postgres://app:s3cret@db.example.com:6432/shop');
    const env = libpqChildEnv(params, {
      ...FOREIGN,
      PATH: '/usr/bin',
      LANG: 'C.UTF-8',
      TZ: 'UTC',
      APP_SECRET_TOKEN: 'never-for-pg_dump',
      HOME: '/root',
    });
    expect(env).toEqual({
      PATH: '/usr/bin',
      LANG: 'C.UTF-8',
      TZ: 'UTC',
      PGHOST: 'db.example.com',
      PGPORT: '6432',
      PGUSER: 'app',
      PGPASSWORD: 's3cret',
      PGDATABASE: 'shop',
      PGAPPNAME: 'tidemark',
    });
  });
});
