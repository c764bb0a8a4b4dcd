import { describe, expect, it } from 'vitest';
import {
  backupFileName,
  parseBackupFileName,
  parseToolVersion,
  planRetention,
  splitCommand,
} from '../../src/backup/index.js';
import { parseTableDataLines } from '../../src/backup/archive.js';
import { partialTarget } from '../../src/backup/naming.js';
import { compareTableData } from '../../src/backup/tables.js';

describe('splitCommand', () => {
  it('splits like sh without expanding anything', () => {
    expect(splitCommand(`aws s3 cp {file} "s3://bucket/my dir/" --sse 'aws:kms'`)).toEqual([
      'aws',
      's3',
      'cp',
      '{file}',
      's3://bucket/my dir/',
      '--sse',
      'aws:kms',
    ]);
    expect(splitCommand(`echo $HOME "\\$x" a\\ b ''`)).toEqual(['echo', '$HOME', '$x', 'a b', '']);
    expect(splitCommand('upload; rm -rf /')).toEqual(['upload;', 'rm', '-rf', '/']);
  });

  it('refuses an unclosed quote', () => {
    expect(() => splitCommand(`aws "s3`)).toThrow(/unclosed " quote/);
  });
});

describe('parseToolVersion', () => {
  it('reads release, devel and pre-10 version lines', () => {
    expect(parseToolVersion('pg_dump (PostgreSQL) 15.4 (Debian 15.4-1.pgdg120+1)\n')).toMatchObject({
      num: 150004,
      major: '15',
    });
    expect(parseToolVersion('pg_dump (PostgreSQL) 17devel')).toMatchObject({ num: 170000, major: '17' });
    expect(parseToolVersion('pg_dump (PostgreSQL) 9.6.24')).toMatchObject({ num: 90624, major: '9.6' });
    expect(parseToolVersion('something else')).toBeUndefined();
  });
});

describe('backup file names', () => {
  it('round-trip, with database names that hold underscores and odd characters', () => {
    const at = new Date(Date.UTC(2024, 0, 15, 10, 30, 5, 999));
    const name = backupFileName('my_app/prod', at, '20240115000001');
    expect(name).toBe('my_app-prod_20240115T103005Z_20240115000001.dump');
    expect(parseBackupFileName(name, 'my_app/prod')).toEqual({
      database: 'my_app/prod',
      createdAt: new Date(Date.UTC(2024, 0, 15, 10, 30, 5)),
      versionBefore: '20240115000001',
    });
    expect(backupFileName('app', at, null)).toBe('app_20240115T103005Z_none.dump');
  });

  it('does not claim other files', () => {
    expect(parseBackupFileName('app_20240115T103005Z_001.dump', 'ap')).toBeUndefined();
    expect(parseBackupFileName('app_2024-01-15_001.dump', 'app')).toBeUndefined();
    expect(parseBackupFileName('app_20241315T103005Z_001.dump', 'app')).toBeUndefined();
    expect(parseBackupFileName('.app_20240115T103005Z_001.dump.123-abcd.partial', 'app')).toBeUndefined();
    expect(partialTarget('.app_20240115T103005Z_001.dump.123-abcd.partial')).toBe('app_20240115T103005Z_001.dump');
    expect(partialTarget('app_20240115T103005Z_001.dump')).toBeUndefined();
    expect(parseBackupFileName('app_20240115T103005Z_001.dump.gz', 'app')).toBeUndefined();
  });
});

describe('planRetention', () => {
  const now = new Date(Date.UTC(2024, 0, 31));
  const names = [
    'app_20240130T000000Z_3.dump',
    'app_20240101T000000Z_1.dump',
    'app_20240120T000000Z_2.dump',
    'app_20240131T000000Z_4.dump',
  ];

  it('deletes by age, keeping the protected one even when it is old', () => {
    const plan = planRetention(names, {
      database: 'app',
      retentionDays: 7,
      protect: 'app_20240101T000000Z_1.dump',
      now,
    });
    expect(plan.deleted).toEqual(['app_20240120T000000Z_2.dump']);
  });

  it('keeps the newest N, and treats 0 days as no age limit', () => {
    const plan = planRetention(names, {
      database: 'app',
      retentionDays: 0,
      keep: 2,
      protect: 'app_20240131T000000Z_4.dump',
      now,
    });
    expect(plan.deleted).toEqual(['app_20240120T000000Z_2.dump', 'app_20240101T000000Z_1.dump']);
    expect(plan.kept).toEqual(['app_20240131T000000Z_4.dump', 'app_20240130T000000Z_3.dump']);
  });
});

describe('TABLE DATA matching', () => {
  const listing = [
    ';     dbname: app',
    '215; 1259 16414 TABLE we ird My Table root',
    '3377; 0 16414 TABLE DATA we ird My Table root',
    '3378; 0 16417 TABLE DATA public t_empty root',
    '3390; 0 0 SEQUENCE SET public s root',
  ].join('\n');

  it('reads oid and label, and matches names with spaces exactly', () => {
    const listed = parseTableDataLines(listing);
    expect(listed).toEqual([
      { dumpId: 3377, oid: '16414', label: 'we ird My Table root' },
      { dumpId: 3378, oid: '16417', label: 'public t_empty root' },
    ]);
    const tables = [
      { oid: '16414', schema: 'we ird', name: 'My Table', owner: 'root' },
      { oid: '16417', schema: 'public', name: 't_empty', owner: 'root' },
      { oid: '16420', schema: 'public', name: 't_full', owner: 'root' },
    ];
    expect(compareTableData(tables, listed)).toEqual({ missing: ['public.t_full'], unexpected: [] });
    expect(compareTableData(tables.slice(0, 1), listed)).toEqual({ missing: [], unexpected: ['public t_empty root'] });
  });
});
