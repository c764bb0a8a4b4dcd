/**
 * Resumable `-- migrate:no-transaction` migrations: the tracking row counts the statements that completed;
 * `up` after a fix resumes at the failed one (never re-running what stays applied), refuses when those
 * statements changed or the failed one left an INVALID index, `--from-start` starts over, old tracking tables
 * keep working, and a lock timeout is retried when nothing of the statement took effect.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';
import { makeProject, runCli, writeFiles } from '../helpers/project.js';

const db = useTestDatabase('nt_resume', { resetEach: true });

function cli(dir: string, args: string[], env: Record<string, string> = {}, onStderr?: (text: string) => void) {
  return runCli(args, { cwd: dir, env: { DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false', ...env }, onStderr });
}

const BASE = {
  'migrations/001_items.sql':
    "create table items (id int primary key, sku text);\ninsert into items select g, 'sku' || g from generate_series(1, 100) g;\n",
};

/** Five statements; the third fails until fixed. Statements 1 and 2 would fail if run twice. */
function fiveSteps(third: string): string {
  return `-- migrate:no-transaction
create table step_one (id int);
create index concurrently items_sku_idx on items (sku);
${third}
create table step_four (id int);
create index concurrently step_four_idx on step_four (id);
`;
}

async function row(version: string) {
  return (
    await db.query<{ dirty: boolean; statements_done: number | null; checksum: string }>(
      'select dirty, statements_done, checksum from schema_migrations where version = $1',
      [version],
    )
  )[0];
}

describe('a no-transaction migration that failed part-way', () => {
  it('failing at statement 3 of 5 records 2 done, and up after the fix resumes at statement 3', async () => {
    const dir = makeProject({
      ...BASE,
      'migrations/002_steps.sql': fiveSteps('insert into missing_table values (1);'),
    });
    const failed = await cli(dir, ['up']);
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toMatch(/\(statement 3 of 5 in the file\)/);
    expect(failed.stderr).toMatch(/it resumes at statement 3/);
    expect(await row('002')).toMatchObject({ dirty: true, statements_done: 2 });
    // status says where it stands and what to run next, as text and in --json.
    const text = await cli(dir, ['status']);
    expect(text.stdout).toMatch(/002 +steps +dirty \(2 of 5 done\)/);
    expect(text.stdout).toContain(
      '002_steps stopped after statement 2 of 5 (statement 3, line 4, failed). Fix what failed, then run migrate up again: it resumes at statement 3 (migrate up --from-start runs the file from its first statement).',
    );
    const dirty = JSON.parse((await cli(dir, ['status', '--json'])).stdout) as {
      migrations: { version: string; resume: unknown }[];
    };
    expect(dirty.migrations.find((m) => m.version === '002')?.resume).toMatchObject({
      resumable: true,
      statementsDone: 2,
      statements: 5,
      nextStatement: 3,
      nextLine: 4,
      nextText: 'insert into missing_table values (1)',
    });
    expect(dirty.migrations.find((m) => m.version === '001')?.resume).toBeNull();

    // The fix: only the failed statement changes. Statements 1-2 must not run again (both would fail).
    writeFiles(dir, { 'migrations/002_steps.sql': fiveSteps('create table step_three (id int);') });
    const resumed = await cli(dir, ['up', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/Resuming 002_steps at statement 3 of 5: statements 1-2 ran before and stay/);
    expect(JSON.parse(resumed.stdout).applied.map((m: { version: string }) => m.version)).toEqual(['002']);
    expect(await row('002')).toMatchObject({ dirty: false });
    expect(await db.query("select tablename from pg_tables where tablename like 'step_%' order by 1")).toEqual([
      { tablename: 'step_four' },
      { tablename: 'step_one' },
      { tablename: 'step_three' },
    ]);
    // The row took the fixed file's checksum: status says applied, not changed.
    const status = JSON.parse((await cli(dir, ['status', '--json'])).stdout) as {
      migrations: { version: string; state: string }[];
    };
    expect(status.migrations.find((m) => m.version === '002')?.state).toBe('applied');
  });

  it('refuses to resume when a statement that already ran was edited (exit 2, nothing run)', async () => {
    const dir = makeProject({
      ...BASE,
      'migrations/002_steps.sql': fiveSteps('insert into missing_table values (1);'),
    });
    expect((await cli(dir, ['up'])).code).toBe(1);
    writeFiles(dir, {
      'migrations/002_steps.sql': fiveSteps('create table step_three (id int);').replace(
        'create table step_one (id int);',
        'create table step_one (id bigint);',
      ),
    });
    const refused = await cli(dir, ['up']);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(
      /002_steps cannot resume: the 2 statements that already ran .* are no longer the same/,
    );
    // status says so before anyone runs up.
    expect((await cli(dir, ['status'])).stdout).toMatch(
      /002_steps cannot resume as it is: the 2 statements that ran \(and stay applied\) changed in the file since\. .*migrate repair 002/,
    );
    expect(await row('002')).toMatchObject({ dirty: true, statements_done: 2 });
    expect(await db.query("select 1 from pg_tables where tablename = 'step_three'")).toEqual([]);
  });

  it('refuses to resume over the INVALID index the failed statement left, and resumes once it is dropped', async () => {
    await db.query('create table dup (v int); insert into dup values (1), (1);');
    const file = (unique: boolean) => `-- migrate:no-transaction
create table before_it (id int);
create ${unique ? 'unique ' : ''}index concurrently dup_v_idx on dup (v);
create table after_it (id int);
`;
    const dir = makeProject({ ...BASE, 'migrations/002_dup.sql': file(true) });
    expect((await cli(dir, ['up'])).code).toBe(1);
    expect(await row('002')).toMatchObject({ dirty: true, statements_done: 1 });
    writeFiles(dir, { 'migrations/002_dup.sql': file(false) });
    const refused = await cli(dir, ['up']);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(
      /cannot resume at statement 2: its failed run left the INVALID index public\.dup_v_idx/,
    );
    expect(refused.stderr).toContain('DROP INDEX CONCURRENTLY IF EXISTS "public"."dup_v_idx";');
    await db.query('drop index concurrently dup_v_idx');
    const resumed = await cli(dir, ['up']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/Resuming 002_dup at statement 2 of 3/);
    expect(await db.query("select indisvalid as valid from pg_index where indexrelid = 'dup_v_idx'::regclass")).toEqual(
      [{ valid: true }],
    );
  });

  it('with --from-start runs the file again from its first statement', async () => {
    const file = (third: string) => `-- migrate:no-transaction
create table if not exists again_one (id int);
insert into again_one values (1);
${third}
`;
    const dir = makeProject({ ...BASE, 'migrations/002_again.sql': file('select 1/0;') });
    expect((await cli(dir, ['up'])).code).toBe(1);
    writeFiles(dir, { 'migrations/002_again.sql': file('select 1;') });
    const result = await cli(dir, ['up', '--from-start']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/Running 002_again again from its first statement/);
    expect(await db.query('select count(*)::int as n from again_one')).toEqual([{ n: 2 }]);
  });

  it('works with a tracking table made before the progress columns existed (they are added on first need)', async () => {
    await db.query(`create table schema_migrations (version text primary key, name text not null, checksum text not null,
      applied_at timestamptz not null default now(), execution_ms integer not null default 0, applied_by text not null default current_user,
      dirty boolean not null default false)`);
    const dir = makeProject({
      ...BASE,
      'migrations/002_steps.sql': fiveSteps('insert into missing_table values (1);'),
    });
    expect((await cli(dir, ['up', '--to', '1'])).code).toBe(0);
    expect((await cli(dir, ['status'])).code).toBe(0);
    expect(
      await db.query(
        "select 1 from information_schema.columns where table_name = 'schema_migrations' and column_name = 'statements_done'",
      ),
    ).toEqual([]);
    expect((await cli(dir, ['up'])).code).toBe(1);
    expect(await row('002')).toMatchObject({ dirty: true, statements_done: 2 });
  });
});

describe('a lock timeout in a no-transaction migration', () => {
  it('is retried when nothing of the statement took effect, and the migration completes once the lock is free', async () => {
    const dir = makeProject({
      ...BASE,
      'migrations/002_alter.sql':
        '-- migrate:no-transaction\ncreate table first_it (id int);\nalter table items add column z int;\n',
    });
    expect((await cli(dir, ['up', '--to', '1'])).code).toBe(0);
    const blocker = new pg.Client({ connectionString: db.url, application_name: 'long-report' });
    await blocker.connect();
    await blocker.query('begin');
    await blocker.query('select count(*) from items');
    let released = false;
    const result = await cli(dir, ['up'], { LOCK_RETRIES: '200' }, (text) => {
      if (!released && text.includes('Lock timeout in 002_alter')) {
        released = true;
        void blocker.query('commit').then(() => blocker.end());
      }
    });
    if (!released) await blocker.end();
    expect(released).toBe(true);
    expect(result.code, result.stderr).toBe(0);
    expect(await row('002')).toMatchObject({ dirty: false });
    expect(
      await db.query("select 1 as ok from information_schema.columns where table_name = 'items' and column_name = 'z'"),
    ).toEqual([{ ok: 1 }]);
  });
});
