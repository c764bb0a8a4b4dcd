/**
 * Migration files as they are mounted in the field (Kubernetes ConfigMap volumes are folders of symlinks) and
 * bytes that are never changed: src/source/read.ts through loadMigrations, and the CLI over such a folder.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMigrations } from '../../src/source/files.js';
import { firstInvalidUtf8 } from '../../src/source/read.js';
import { useTestDatabase } from '../helpers/db.js';
import { CLI, locations, makeProject, problemsOf, runCli } from '../helpers/project.js';

/** Lays out `files` the way kubelet mounts a ConfigMap: `..2026_..` holds them, `..data` links to it, each name links into `..data`. */
function configMapFolder(dir: string, files: Record<string, string>): void {
  const stamp = join(dir, '..2026_11_30_04_40_00.000000001');
  mkdirSync(stamp, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(stamp, name), text);
  symlinkSync('..2026_11_30_04_40_00.000000001', join(dir, '..data'));
  for (const name of Object.keys(files)) symlinkSync(join('..data', name), join(dir, name));
}

describe('files as Kubernetes mounts them', () => {
  it('follows the symlinks of a ConfigMap volume and skips its ..-prefixed entries', async () => {
    const dir = makeProject();
    configMapFolder(join(dir, 'migrations'), { '001_a.sql': 'select 1;', '002_b.sql': 'select 2;' });
    const migrations = await loadMigrations(locations(dir));
    expect(migrations.map((m) => `${m.version}_${m.name}`)).toEqual(['001_a', '002_b']);
    expect(migrations[1]!.up.text).toBe('select 2;');
  });

  it('reports a link loop, a dangling link and a folder named like a migration, by name', async () => {
    const dir = makeProject({ 'migrations/001_ok.sql': 'select 1;' });
    const m = join(dir, 'migrations');
    symlinkSync('003_loop.sql', join(m, '002_loop.sql'));
    symlinkSync('002_loop.sql', join(m, '003_loop.sql'));
    symlinkSync('gone/004_x.sql', join(m, '004_dangling.sql'));
    mkdirSync(join(m, '005_folder.sql'));
    const problems = await problemsOf(dir);
    expect(problems).toHaveLength(4);
    expect(problems.find((p) => p.includes('002_loop.sql'))).toMatch(/loops/);
    expect(problems.find((p) => p.includes('004_dangling.sql'))).toMatch(/gone\/004_x\.sql, which does not exist/);
    expect(problems.find((p) => p.includes('005_folder.sql'))).toMatch(/is a folder/);
  });

  it('names a file this user may not read (EACCES): exit 2, nothing run', () => {
    const dir = makeProject({ 'migrations/001_ok.sql': 'select 1;', 'migrations/002_secret.sql': 'select 2;' });
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'migrations'), 0o755);
    chmodSync(join(dir, 'migrations', '002_secret.sql'), 0o000);
    // Root reads any file whatever its mode: run as root, the CLI runs as nobody so the check is real.
    const asRoot = process.getuid?.() === 0;
    const result = spawnSync(process.execPath, [CLI, 'lint', '--offline'], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: '/tmp', CI: '1' },
      encoding: 'utf8',
      ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/migrations\/002_secret\.sql: cannot be read by this user \(EACCES\)/);
  });
});

describe('bytes are never changed', () => {
  it('refuses a file that is not UTF-8, naming the line and column of the first bad byte', async () => {
    const dir = makeProject();
    writeFileSync(
      join(dir, 'migrations', '001_latin1.sql'),
      Buffer.concat([Buffer.from("select 1;\ninsert into t values ('caf"), Buffer.from([0xe9]), Buffer.from("');\n")]),
    );
    const problems = await problemsOf(dir);
    expect(problems).toEqual([
      expect.stringMatching(/^migrations\/001_latin1\.sql:2:27: is not valid UTF-8 \(byte 0xe9\)/),
    ]);
  });

  it('still accepts a BOM, and multi-byte characters count as one column', async () => {
    const dir = makeProject({ 'migrations/001_bom.sql': "\uFEFFselect 'café ☕ 𝄞';" });
    const [migration] = await loadMigrations(locations(dir));
    expect(migration!.up.text).toBe("select 'café ☕ 𝄞';");
    expect(firstInvalidUtf8(Buffer.from('é\nab\u00e9', 'utf8'))).toBeUndefined();
    expect(firstInvalidUtf8(Buffer.concat([Buffer.from('é\nab☕'), Buffer.from([0xc3])]))).toEqual({
      offset: 8,
      line: 2,
      column: 4,
    });
    // Overlong '/' (0xc0 0xaf) and an encoded surrogate (U+D800) are invalid, as PostgreSQL says.
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xc0, 0xaf]))?.column).toBe(2);
    expect(firstInvalidUtf8(Buffer.from([0xed, 0xa0, 0x80]))?.column).toBe(1);
  });

  it('loads a file holding U+FFFD itself, and refuses every kind of bad byte sequence', async () => {
    const dir = makeProject({ 'migrations/001_replacement.sql': "select '\uFFFD';\n" });
    const [migration] = await loadMigrations(locations(dir));
    expect(migration!.up.text).toBe("select '\uFFFD';\n");
    // The reader decodes in one call and re-checks bytes only when the text holds U+FFFD: each of these must
    // be caught that way. Overlong, a surrogate, past U+10FFFF, a lone continuation byte, cut off at the end.
    const bad = [[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xe2, 0x98]];
    for (const [i, bytes] of bad.entries()) {
      const project = makeProject();
      writeFileSync(
        join(project, 'migrations', `00${i + 1}_bad.sql`),
        Buffer.concat([Buffer.from('select 1; -- '), Buffer.from(bytes)]),
      );
      expect(await problemsOf(project)).toEqual([expect.stringMatching(/:1:14: is not valid UTF-8/)]);
    }
  });
});

describe('the CLI over such folders (real PostgreSQL)', () => {
  const db = useTestDatabase('source_read');

  it('migrate up applies a ConfigMap volume and verify --no-pending passes afterwards', async () => {
    const dir = makeProject();
    configMapFolder(join(dir, 'migrations'), {
      '001_t.sql': 'create table cm (id int);',
      '002_row.sql': 'insert into cm values (1);',
    });
    const env = { DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false' };
    const up = await runCli(['up'], { cwd: dir, env });
    expect(up.code).toBe(0);
    expect(up.stdout + up.stderr).toMatch(/applied 002_row/);
    expect(await db.query('select count(*)::int as n from cm')).toEqual([{ n: 1 }]);
    expect((await runCli(['verify', '--no-pending', '--allow-missing-rollback'], { cwd: dir, env })).code).toBe(0);
  });

  it('a dangling link and a Latin-1 file stop `up` with exit 2 and nothing run', async () => {
    await db.reset();
    const dir = makeProject({ 'migrations/001_t.sql': 'create table never (id int);' });
    symlinkSync('../nowhere.sql', join(dir, 'migrations', '002_gone.sql'));
    writeFileSync(
      join(dir, 'migrations', '003_bad.sql'),
      Buffer.from([0x73, 0x65, 0x6c, 0x65, 0x63, 0x74, 0x20, 0x27, 0xe9, 0x27, 0x3b]),
    );
    const up = await runCli(['up'], { cwd: dir, env: { DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false' } });
    expect(up.code).toBe(2);
    expect(up.stderr).toMatch(/002_gone\.sql: is a symbolic link to \.\.\/nowhere\.sql, which does not exist/);
    expect(up.stderr).toMatch(/003_bad\.sql:1:9: is not valid UTF-8/);
    expect(await db.query(`select to_regclass('never') as t`)).toEqual([{ t: null }]);
  });
});
