import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MigrateError } from '../../src/errors.js';
import { firstStatementIndex, scanHeader } from '../../src/source/directives.js';
import { checksumOf, loadMigrations, parseMigrationFileName } from '../../src/source/files.js';
import { createMigration, nextVersion } from '../../src/source/create.js';
import { locations, makeProject, problemsOf } from '../helpers/project.js';

describe('migration file names', () => {
  it('parses both layouts and strips the _rollback suffix', () => {
    expect(parseMigrationFileName('001_create_users.sql', 'migrations')).toEqual({
      version: '001',
      name: 'create_users',
      kind: 'up',
    });
    expect(parseMigrationFileName('002_add_email.up.sql', 'migrations')).toEqual({
      version: '002',
      name: 'add_email',
      kind: 'up',
    });
    expect(parseMigrationFileName('002_add_email.down.sql', 'migrations')).toEqual({
      version: '002',
      name: 'add_email',
      kind: 'down',
    });
    expect(parseMigrationFileName('001_create_users_rollback.sql', 'rollback')).toEqual({
      version: '001',
      name: 'create_users',
      kind: 'down',
    });
    expect(parseMigrationFileName('20240115000001_add_x.sql', 'migrations')?.version).toBe('20240115000001');
  });

  it('reads every name as the two expressions it once tried in turn (directed, else plain) read it', () => {
    const DIRECTED = /^(\d+)_(.+?)[._](up|down|rollback|undo)\.sql$/i;
    const PLAIN = /^(\d+)_(.+)\.sql$/i;
    const reference = (fileName: string, folder: 'migrations' | 'rollback') => {
      const directed = DIRECTED.exec(fileName);
      if (directed) {
        const [, version = '', name = '', direction = ''] = directed;
        return { version, name, kind: folder === 'rollback' || direction.toLowerCase() !== 'up' ? 'down' : 'up' };
      }
      const plain = PLAIN.exec(fileName);
      if (!plain) return undefined;
      const [, version = '', name = ''] = plain;
      return { version, name, kind: folder === 'rollback' ? 'down' : 'up' };
    };
    // Names built from the pieces that matter: digits, separators, direction words, `.sql`.
    const piece = fc.constantFrom(
      '0',
      '1',
      '01',
      '_',
      '.',
      '-',
      'x',
      'up',
      'UP',
      'down',
      'Rollback',
      'undo',
      'backup',
      'sql',
      '.sql',
    );
    const name = fc.array(piece, { maxLength: 8 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(name, fc.constantFrom('migrations' as const, 'rollback' as const), (fileName, folder) => {
        expect(parseMigrationFileName(fileName, folder)).toEqual(reference(fileName, folder));
      }),
      { numRuns: 5000 },
    );
    for (const fileName of ['001_x_up_up.sql', '001_x.up.sql.sql', '001_.up.sql', '001_backup.sql', '1_a_UNDO.SQL'])
      expect(parseMigrationFileName(fileName, 'migrations')).toEqual(reference(fileName, 'migrations'));
  });

  it('rejects names without a version or a name', () => {
    expect(parseMigrationFileName('create_users.sql', 'migrations')).toBeUndefined();
    expect(parseMigrationFileName('001.sql', 'migrations')).toBeUndefined();
    expect(parseMigrationFileName('V1__init.sql', 'migrations')).toBeUndefined();
  });
});

describe('loading migrations', () => {
  it('orders by the numeric version across both layouts, and pairs rollbacks', async () => {
    const dir = makeProject({
      'migrations/10_ten.sql': 'select 10;',
      'migrations/9_nine.up.sql': 'select 9;',
      'migrations/9_nine.down.sql': 'select -9;',
      'migrations/0011_eleven.sql': 'select 11;',
      'rollback/10_ten_rollback.sql': 'select -10;',
      'migrations/README.md': 'not a migration',
    });
    const migrations = await loadMigrations(locations(dir));
    expect(migrations.map((m) => m.version)).toEqual(['9', '10', '0011']);
    expect(migrations[0]!.downDisplayPath).toBe(join('migrations', '9_nine.down.sql'));
    expect(migrations[1]!.downDisplayPath).toBe(join('rollback', '10_ten_rollback.sql'));
    expect(migrations[2]!.downPath).toBeUndefined();
  });

  it('reports every problem at once: bad names, duplicate versions, orphan rollbacks, bad directives', async () => {
    const dir = makeProject({
      'migrations/001_a.sql': 'select 1;',
      'migrations/01_b.sql': 'select 1;',
      'migrations/oops.sql': 'select 1;',
      'migrations/003_c.sql': '-- migrate:no-transcation\nselect 1;',
      'rollback/007_gone_rollback.sql': 'select 1;',
    });
    const problems = await problemsOf(dir);
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(/version 01 is used by several migrations/);
    expect(problems.join('\n')).toMatch(/oops\.sql: the name does not parse/);
    expect(problems.join('\n')).toMatch(/007_gone_rollback\.sql: a rollback with no migration of version 007/);
    expect(problems.join('\n')).toMatch(/unknown directive "-- migrate:no-transcation"/);
  });

  it('loads messy real histories: no final newline, CRLF, BOM, empty and comment-only files', async () => {
    const dir = makeProject({
      'migrations/001_no_newline.sql': 'create table a (id int)',
      'migrations/002_crlf.sql': 'create table b (id int);\r\ncreate table c (id int);\r\n',
      'migrations/003_bom.sql': '\uFEFFcreate table d (id int);\n',
      'migrations/004_empty.sql': '',
      'migrations/005_comments.sql':
        '-- nothing to do: enum values cannot be removed\n/* really /* nested */ nothing */\n',
    });
    const migrations = await loadMigrations(locations(dir));
    expect(migrations.map((m) => m.up.empty)).toEqual([false, false, false, true, true]);
    expect(migrations[2]!.up.text.startsWith('create')).toBe(true);
  });

  it('gives CRLF, LF and BOM versions of a file the same checksum', () => {
    expect(checksumOf('a;\r\nb;\r\n')).toBe(checksumOf('a;\nb;\n'));
    expect(checksumOf('\uFEFFa;\n')).toBe(checksumOf('a;\n'));
    expect(checksumOf('a;\n')).not.toBe(checksumOf('a; \n'));
  });

  it('loads five thousand files', async () => {
    const dir = makeProject();
    for (let i = 1; i <= 5000; i += 1)
      writeFileSync(join(dir, 'migrations', `${String(i).padStart(5, '0')}_m${i}.sql`), `select ${i};\n`);
    const migrations = await loadMigrations(locations(dir));
    expect(migrations).toHaveLength(5000);
    expect(migrations.at(-1)!.version).toBe('05000');
  });

  it('says where the migrations folder should be when it is missing', async () => {
    const dir = makeProject();
    await expect(loadMigrations({ ...locations(dir), migrationsDir: join(dir, 'nope') })).rejects.toThrow(
      /The migrations folder \.\/nope does not exist\./,
    );
  });
});

describe('firstStatementIndex', () => {
  it('skips whitespace, line comments and (nested) block comments', () => {
    const cases: [string, number][] = [
      ['select 1', 0],
      ['  -- a\n\tselect 1', 8],
      ['/* a */ select', 8],
      ['/**/select', 4],
      ['/* * / ** */x', 12],
      ['/* outer /* inner */ still comment */ select', 38],
      ['-- only a comment', -1],
      ['/* /* unterminated */', -1],
      ['\r\n-- x\r\n/* y */\r\nselect', 17],
    ];
    for (const [text, expected] of cases) expect(firstStatementIndex(text), JSON.stringify(text)).toBe(expected);
  });
});

describe('directives', () => {
  it('reads no-transaction, phase and allow before the first statement', () => {
    const scan = scanHeader(
      '-- migrate:no-transaction\n-- migrate:phase contract\n-- migrate:allow ban-drop-column -- column unused since v2\n-- migrate:allow ban-drop-table\nalter table t drop column c;\n',
    );
    expect(scan.problems).toEqual([]);
    expect(scan.directives.noTransaction).toBe(true);
    expect(scan.directives.phase).toBe('contract');
    expect(scan.directives.allow).toEqual([
      { rule: 'ban-drop-column', reason: 'column unused since v2', line: 3 },
      { rule: 'ban-drop-table', reason: undefined, line: 4 },
    ]);
  });

  it('reports a directive after the first statement and a bad phase', () => {
    const scan = scanHeader('-- migrate:phase middle\nselect 1;\n-- migrate:no-transaction\n');
    expect(scan.directives.noTransaction).toBe(false);
    expect(scan.problems).toHaveLength(2);
    expect(scan.problems[0]).toMatch(/line 1: "-- migrate:phase middle" must be "expand" or "contract"/);
    expect(scan.problems[1]).toMatch(/line 3: .*comes after the first statement/);
  });
});

describe('create', () => {
  it('keeps the folder zero padding and writes the rollback beside it', async () => {
    const dir = makeProject({ 'migrations/0007_x.sql': '' });
    mkdirSync(join(dir, 'rollback'), { recursive: true });
    const created = await createMigration(locations(dir), 'Add Email to Users!');
    expect(created).toEqual({
      version: '0008',
      name: 'add_email_to_users',
      up: join('migrations', '0008_add_email_to_users.sql'),
      down: join('rollback', '0008_add_email_to_users_rollback.sql'),
    });
    expect(nextVersion([])).toBe('001');
    expect(nextVersion(['9', '10'])).toBe('11');
  });

  it('follows the golang-migrate layout when the folder uses it, and makes timestamps on request', async () => {
    const dir = makeProject({ 'migrations/1_init.up.sql': '', 'migrations/1_init.down.sql': '' });
    const created = await createMigration(locations(dir), 'next', {
      timestamp: true,
      now: new Date('2026-01-02T03:04:05Z'),
    });
    expect(created.up).toBe(join('migrations', '20260102030405_next.up.sql'));
    expect(created.down).toBe(join('migrations', '20260102030405_next.down.sql'));
  });
});

describe('file names that cannot be misread (issue 10)', () => {
  it('takes a name ending in a down word, in any case, as a down: _down, .down, _rollback, _undo', () => {
    for (const fileName of [
      '003_x_down.sql',
      '003_x.down.sql',
      '003_x_DOWN.sql',
      '003_x_rollback.sql',
      '003_x.Rollback.sql',
      '003_x_undo.sql',
      '003_x.UNDO.sql',
    ]) {
      expect(parseMigrationFileName(fileName, 'migrations'), fileName).toEqual({
        version: '003',
        name: 'x',
        kind: 'down',
      });
    }
    expect(parseMigrationFileName('003_x_up.sql', 'migrations')).toEqual({ version: '003', name: 'x', kind: 'up' });
    expect(parseMigrationFileName('003_x.UP.sql', 'migrations')).toEqual({ version: '003', name: 'x', kind: 'up' });
  });

  it('pairs a _down file with the up of its version; never runs it forward', async () => {
    const dir = makeProject({
      'migrations/003_x_up.sql': 'create table x (id int);',
      'migrations/003_x_down.sql': 'drop table x;',
    });
    const migrations = await loadMigrations(locations(dir));
    expect(migrations).toHaveLength(1);
    expect(migrations[0]!.up.displayPath).toBe(join('migrations', '003_x_up.sql'));
    expect(migrations[0]!.downDisplayPath).toBe(join('migrations', '003_x_down.sql'));
  });

  it('refuses a down-named file with no up of its version (exit 2), instead of running it', async () => {
    const dir = makeProject({ 'migrations/001_a.sql': 'select 1;', 'migrations/003_x_down.sql': 'drop table a;' });
    const error = await loadMigrations(locations(dir)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrateError);
    expect((error as MigrateError).exitCode).toBe(2);
    expect((error as MigrateError).message).toMatch(/003_x_down\.sql: a rollback with no migration of version 003/);
  });

  it('reports a folder named like a migration instead of skipping it', async () => {
    const dir = makeProject({
      'migrations/001_a.sql': 'select 1;',
      'migrations/002_init/migration.sql': 'create table b (id int);',
    });
    const problems = await problemsOf(dir);
    expect(problems.join('\n')).toMatch(/002_init: a folder named like a migration/);
  });
});
