/**
 * The `--json` documents are a contract (scripts and pipelines parse them): a snapshot of each command's
 * document, success and failure, so that a change to one shows up in review as a diff of
 * test/cli/__snapshots__/json.test.ts.snap. Values that differ from run to run (times, durations, the
 * database's name, temporary paths, the user and host, backup sizes) are replaced by placeholders; the
 * shape and every other value are compared. Update on purpose with `npx vitest run test/cli/json.test.ts -u`.
 */
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../helpers/db.js';
import { makeProject, runCli } from '../helpers/project.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('json');
});
afterAll(async () => {
  // The databases restored into start with the run's prefix: they go with the run's.
  await db.drop();
});

const FILES = {
  'migrations/001_create_users.sql':
    'create table users (id bigint generated always as identity primary key, name text not null);\n',
  'rollback/001_create_users_rollback.sql': 'drop table users;\n',
  'migrations/002_add_email.up.sql': 'alter table users add column email text;\n',
  'migrations/002_add_email.down.sql': 'alter table users drop column email;\n',
  'seeds/development.sql': "insert into users (name) values ('ada');\n",
};

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/;
// samples: how often the lock monitor looked during a migration (once a second, so it varies with the machine).
const VOLATILE_NUMBER = /(Ms|Bytes|^ms|^bytes|^size|^pid|Pid|^samples)$/;

/** The document with run-to-run values replaced, so that a snapshot compares the rest. */
function normalise(document: unknown, project: string): unknown {
  const text = (s: string) =>
    s
      .split(project)
      .join('<project>')
      .split(db.name)
      .join('<db>')
      .replace(/\d{8}T\d{6}Z?/g, '<stamp>')
      .replace(/\d{4}-\d{2}-\d{2}T\d{2}[-:]\d{2}[-:]\d{2}(\.\d+)?Z?/g, '<time>')
      .replace(/\b[\w.-]+@[\w.-]+\b(?=$)/, '<user@host>')
      .replace(/\b\d+(\.\d+)? ?ms\b/g, '<n> ms');
  const walk = (value: unknown, key: string): unknown => {
    if (Array.isArray(value)) return value.map((v) => walk(v, key));
    if (value && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k)]));
    if (typeof value === 'string' && ISO_TIME.test(value)) return '<time>';
    if (typeof value === 'number' && VOLATILE_NUMBER.test(key)) return '<n>';
    if (typeof value === 'string' && /^(appliedBy|applied_by|by|user)$/.test(key)) return '<user@host>';
    // A dump's bytes and the pg_dump that wrote them differ between machines (CI installs its own client).
    if (typeof value === 'string' && /^(sha256|pgDumpVersion|serverVersion)$/.test(key)) return `<${key}>`;
    if (typeof value === 'string') return text(value);
    return value;
  };
  return walk(document, '');
}

async function json(args: string[], dir: string, expectedCode = 0, env: Record<string, string> = {}) {
  const result = await runCli([...args, '--json'], {
    cwd: dir,
    env: { DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false', ...env },
  });
  // Compared as one object so that a failure shows what the CLI printed.
  expect({ code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({
    code: expectedCode,
    stdout: expect.any(String),
    stderr: expect.any(String),
  });
  return normalise(JSON.parse(result.stdout), dir);
}

describe('--json documents', () => {
  let dir: string;
  beforeAll(async () => {
    await db.reset();
    dir = makeProject(FILES);
  });

  // One project, in order: each document is that of a realistic step after the one before.
  it('status before anything ran', async () => {
    expect(await json(['status'], dir)).toMatchSnapshot();
  });
  it('up --dry-run', async () => {
    expect(await json(['up', '--dry-run'], dir)).toMatchSnapshot();
  });
  it('up', async () => {
    expect(await json(['up'], dir)).toMatchSnapshot();
  });
  it('status after up', async () => {
    expect(await json(['status'], dir)).toMatchSnapshot();
  });
  it('verify', async () => {
    expect(await json(['verify'], dir)).toMatchSnapshot();
  });
  it('lint (offline, a finding)', async () => {
    writeFileSync(join(dir, 'migrations', '003_idx.sql'), 'create index users_name_idx on users (name);\n');
    expect(await json(['lint', '--offline'], dir, 1)).toMatchSnapshot();
    rmSync(join(dir, 'migrations', '003_idx.sql'));
  });
  it('down', async () => {
    expect(await json(['down', '--step', '1'], dir)).toMatchSnapshot();
  });
  it('redo', async () => {
    expect(await json(['redo'], dir)).toMatchSnapshot();
  });
  it('seed (list) and seed NAME', async () => {
    expect(await json(['seed'], dir)).toMatchSnapshot();
    expect(await json(['seed', 'development'], dir)).toMatchSnapshot();
  });
  it('create', async () => {
    expect(await json(['create', 'add_orders'], dir)).toMatchSnapshot();
  });
  it('repair of a changed checksum', async () => {
    writeFileSync(
      join(dir, 'migrations', '001_create_users.sql'),
      `${FILES['migrations/001_create_users.sql']}-- a comment added later\n`,
    );
    expect(await json(['status'], dir)).toMatchSnapshot();
    expect(await json(['repair', '001', '--yes'], dir)).toMatchSnapshot();
  });
  it('up failing on an SQL error', async () => {
    writeFileSync(join(dir, 'migrations', '009_bad.sql'), 'create table ok (id int);\nselect nope;\n');
    const document = (await json(['up', '--allow-out-of-order'], dir, 1)) as {
      result: { applied: { version: string }[]; versionAfter: string | null };
    };
    // 002 and 003 applied before 009 failed: the database is at 003, not "no version".
    expect(document.result.applied.map((m) => m.version)).toEqual(['002', '003']);
    expect(document.result.versionAfter).toBe('003');
    expect(document).toMatchSnapshot();
  });
  it('a usage error (bad setting)', async () => {
    expect(await json(['status'], dir, 2, { MAX_LOCK_WAIT: 'soon' })).toMatchSnapshot();
  });
});

describe('--json documents of baseline, backup and restore', () => {
  it('baseline on a database with tables and no history', async () => {
    await db.reset();
    await db.query('create table users (id int)');
    const dir = makeProject(FILES);
    expect(await json(['baseline', '002'], dir)).toMatchSnapshot();
  });

  it('backup, then restore --into a new database', async () => {
    const dir = makeProject(FILES);
    const backup = (await json(['backup'], dir)) as Record<string, unknown>;
    expect(backup).toMatchSnapshot();
    const file = readdirSync(join(dir, 'backups')).find((f) => f.endsWith('.dump'))!;
    const into = `${db.name}_restored`;
    // A path relative to the run's working directory (dir), which is not this process's: the in-process CLI
    // must take it from there.
    const result = await runCli(['restore', join('backups', file), '--into', into, '--yes', '--json'], {
      cwd: dir,
      env: { DATABASE_URL: db.url },
    });
    expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 0, stdout: expect.any(String) });
    expect(normalise(JSON.parse(result.stdout), dir)).toMatchSnapshot();
  });
});

describe('--json of test-rollback and schema dump | check', () => {
  it('test-rollback with a rollback that forgets an index', async () => {
    const dir = makeProject({
      ...FILES,
      'migrations/003_index.sql': 'create index users_name_idx on users (name);\n',
      'rollback/003_index_rollback.sql': '-- forgotten\n',
    });
    expect(await json(['test-rollback'], dir, 1)).toMatchSnapshot();
  });

  it('schema dump, then schema check after a hand-made change', async () => {
    await db.reset();
    const dir = makeProject(FILES);
    await json(['up'], dir);
    expect(await json(['schema', 'dump'], dir)).toMatchSnapshot();
    await db.query('alter table users add column nick text');
    expect(await json(['schema', 'check'], dir, 1)).toMatchSnapshot();
  });
});

describe('--json of status with a failed no-transaction migration', () => {
  it('status names the resume point: statement 3 of 5, its line, and what to run next', async () => {
    await db.reset();
    const dir = makeProject({
      ...FILES,
      'migrations/003_steps.sql':
        '-- migrate:no-transaction\ncreate table s1 (id int);\ncreate table s2 (id int);\nselect nope;\ncreate table s4 (id int);\ncreate table s5 (id int);\n',
    });
    await json(['up'], dir, 1);
    expect(await json(['status'], dir)).toMatchSnapshot();
  });
});
