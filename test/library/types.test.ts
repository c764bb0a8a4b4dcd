/**
 * The shipped declarations: a TypeScript app that installs tidemark compiles against dist/index.d.ts (via
 * package.json `exports`/`types`, as `import ... from 'tidemark'`), with strict checks and without
 * skipLibCheck, and wrong options are compile errors. Needs `npm run build` first, as every spawned-CLI test.
 *
 * The app lives in node_modules/.cache (a stable path) and compiles incrementally: what costs time without
 * skipLibCheck is checking @types/node (8 s quiet, a minute on a busy 2-core box), and tsc's build info keeps
 * the verdict on every file whose text did not change. tidemark's declarations and the app are checked anew
 * whenever they change, which is every file this test is about; a clone's first run pays the whole compile.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const app = join(repo, 'node_modules', '.cache', 'tidemark', 'consumer');

const CONSUMER = `
import pg from 'pg';
import { createMigrator, MigrateError, type MigratorEvent, type RunResult, type StatusReport } from 'tidemark';

const pool = new pg.Pool({ connectionString: 'postgres://app@localhost/app' });
export const atStart = createMigrator({
  database: pool,
  migrations: { directory: new URL('./migrations', import.meta.url) },
  backup: { directory: '/var/backups/app', retentionDays: 3 },
  lint: true,
  production: { allowDdl: false },
  onEvent: (event: MigratorEvent) => void event.type,
});
export const applied: Promise<RunResult> = atStart.up({ to: '003', skipLint: false });
export const status: Promise<StatusReport> = atStart.status();

export const inTests = createMigrator({
  database: 'postgres://postgres@localhost:5432/app_test',
  migrations: [{ version: 1, name: 'users', up: 'create table users (id bigint)', down: 'drop table users' }],
});
export const bundled = createMigrator({ database: new pg.Client(), migrations: { files: { '001_users.sql': 'select 1' } } });
export async function reset(): Promise<number> {
  try {
    return (await inTests.down({ all: true })).applied.length;
  } catch (error) {
    return error instanceof MigrateError ? error.exitCode : -1;
  }
}

// @ts-expect-error lint is a boolean
createMigrator({ database: pool, migrations: [], lint: 'yes' });
// @ts-expect-error migrations are required
createMigrator({ database: pool });
// @ts-expect-error a migration needs its up SQL
createMigrator({ database: pool, migrations: [{ version: 1, name: 'x' }] });
`;

beforeAll(async () => {
  // Links and files are made anew each run (the build info is kept): a stale link cannot survive a move.
  await rm(join(app, 'node_modules'), { recursive: true, force: true });
  await mkdir(join(app, 'node_modules', '@types'), { recursive: true });
  await symlink(repo, join(app, 'node_modules', 'tidemark'), 'dir');
  await symlink(join(repo, 'node_modules', 'pg'), join(app, 'node_modules', 'pg'), 'dir');
  for (const types of ['node', 'pg'])
    await symlink(join(repo, 'node_modules', '@types', types), join(app, 'node_modules', '@types', types), 'dir');
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', type: 'module', private: true }));
  await writeFile(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        // TypeScript's own lib files (lib.dom.d.ts and the rest) are still loaded and used, but not checked
        // themselves: they are not what this test is about, and checking them was ~25% of a first compile.
        skipDefaultLibCheck: true,
        incremental: true,
        tsBuildInfoFile: 'app.tsbuildinfo',
        types: ['node'],
      },
      files: ['app.ts'],
    }),
  );
  await writeFile(join(app, 'app.ts'), CONSUMER);
});

describe('the emitted declarations', () => {
  it('are where package.json says', () => {
    expect(existsSync(join(repo, 'dist', 'index.d.ts'))).toBe(true);
  });

  it('compile a strict TypeScript consumer that imports tidemark by name', async () => {
    const run = await promisify(execFile)(process.execPath, [tsc, '-p', app], { cwd: app }).then(
      () => ({ code: 0, out: '' }),
      (error: { code: number; stdout: string; stderr: string }) => ({
        code: error.code,
        out: `${error.stdout}${error.stderr}`,
      }),
    );
    expect(run.out).toBe('');
    expect(run.code).toBe(0);
    // A full strict compile of @types/node without skipLibCheck: seconds alone, a minute on a busy 2-core box.
  }, 240_000);
});
