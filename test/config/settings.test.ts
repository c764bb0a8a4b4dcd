import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings, SETTING_NAMES } from '../../src/config/settings.js';
import { MigrateError } from '../../src/errors.js';

function folder(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'tm-settings-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('settings', () => {
  it('uses the documented defaults', () => {
    const s = loadSettings({}, {}, folder());
    expect(s.maxLockWaitMs).toBe(400);
    expect(s.maxLockWaitSeconds).toBe(0.4);
    expect(s.statementTimeoutMs).toBe(0);
    expect(s.migrationTimeoutSeconds).toBe(1800);
    expect(s.lockRetries).toBe(30);
    expect(s.lockFinalAttempt).toBe('fail');
    expect(s.blockedWarnMs).toBe(5000);
    expect(s.alertCommand).toBeUndefined();
    expect(s.alertWebhookUrl).toBeUndefined();
    expect(s.alertBlockedMs).toBe(30_000);
    expect(s.alertLongRunMs).toBe(600_000);
    expect(s.backupBeforeMigrate).toBe(true);
    expect(s.backupRetentionDays).toBe(7);
    expect(s.migrationsTable).toEqual({ schema: 'public', table: 'schema_migrations' });
    expect(s.migrateEnv).toBe('development');
    expect(s.strategy).toBe('standard');
    expect(s.allowDdlInProduction).toBe(false);
    // DB_POOL_SIZE is gone (docs/decisions.md, issue 12 settings): no field, and an old value is not an error.
    expect('poolSize' in s).toBe(false);
    expect(s.databaseUrl).toBeUndefined();
  });

  it('ranks flag over environment over .env.migrations', () => {
    const cwd = folder({ '.env.migrations': 'MIGRATIONS_DIR=from-file\nMAX_LOCK_WAIT=9\nMIGRATE_ENV=staging\n' });
    const s = loadSettings({ migrationsDir: 'from-flag' }, { MIGRATIONS_DIR: 'from-env', MAX_LOCK_WAIT: '7' }, cwd);
    expect(s.migrationsDir).toBe(join(cwd, 'from-flag'));
    expect(s.maxLockWaitSeconds).toBe(7);
    expect(s.migrateEnv).toBe('staging');
  });

  it('reads MAX_LOCK_WAIT as seconds (fractions too) or with a unit, so values written before units keep their meaning', () => {
    const cwd = folder();
    expect(loadSettings({}, { MAX_LOCK_WAIT: '5' }, cwd).maxLockWaitMs).toBe(5000);
    expect(loadSettings({}, { MAX_LOCK_WAIT: '0.25' }, cwd).maxLockWaitMs).toBe(250);
    expect(loadSettings({}, { MAX_LOCK_WAIT: '300ms' }, cwd).maxLockWaitMs).toBe(300);
    expect(loadSettings({}, { MAX_LOCK_WAIT: '2s' }, cwd).maxLockWaitMs).toBe(2000);
    expect(loadSettings({}, { ALERT_RUN_LONGER_THAN: '10min' }, cwd).alertLongRunMs).toBe(600_000);
    expect(() => loadSettings({}, { MAX_LOCK_WAIT: '5 minutes' }, cwd)).toThrow(
      /MAX_LOCK_WAIT="5 minutes" is not a duration/,
    );
  });

  it('never shows the alert webhook URL in an error: its path is often the secret', () => {
    expect(() => loadSettings({}, { ALERT_WEBHOOK_URL: 'ftp://hooks/T0/secret' }, folder())).toThrow(
      /ALERT_WEBHOOK_URL=\(the URL, not shown\)/,
    );
    try {
      loadSettings({}, { ALERT_WEBHOOK_URL: 'ftp://hooks/T0/secret' }, folder());
    } catch (error) {
      expect(String((error as Error).message)).not.toContain('secret');
    }
  });

  it('accepts DB_URL as an alias and lets DATABASE_URL win', () => {
    const cwd = folder();
    expect(loadSettings({}, { DB_URL: 'postgres://a@h/db1' }, cwd).databaseUrl).toBe('postgres://a@h/db1');
    expect(
      loadSettings({}, { DB_URL: 'postgres://a@h/db1', DATABASE_URL: 'postgres://a@h/db2' }, cwd).databaseUrl,
    ).toBe('postgres://a@h/db2');
  });

  it('reads --env-file and fails with exit 2 when it is missing', () => {
    const cwd = folder({ 'other.env': 'LOCK_RETRIES=1\n' });
    expect(loadSettings({ envFile: 'other.env' }, {}, cwd).lockRetries).toBe(1);
    expect(() => loadSettings({ envFile: 'nope.env' }, {}, cwd)).toThrow(/Cannot read the settings file/);
  });

  it('reports every bad value at once, naming the variable and the accepted form, without the URL password', () => {
    let error: unknown;
    try {
      loadSettings(
        {},
        {
          MAX_LOCK_WAIT: 'five',
          BACKUP_BEFORE_MIGRATE: 'maybe',
          MIGRATE_ENV: 'prod',
          MIGRATIONS_TABLE: 'a.b.c',
          DATABASE_URL: 'mysql://u:s3cret@h/db',
        },
        folder(),
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MigrateError);
    const e = error as MigrateError;
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(/MAX_LOCK_WAIT="five" is not a duration/);
    expect(e.message).toMatch(/BACKUP_BEFORE_MIGRATE="maybe" is not a boolean/);
    expect(e.message).toMatch(/MIGRATE_ENV="prod" must be development, staging or production/);
    expect(e.message).toMatch(/MIGRATIONS_TABLE="a.b.c" is not a table name/);
    expect(e.message).toMatch(/DATABASE_URL=.*is not a PostgreSQL URL/);
    expect(e.message).not.toContain('s3cret');
  });

  it('ignores unknown MIGRATE_* variables and parses a schema-qualified table', () => {
    const s = loadSettings({}, { MIGRATE_SOMETHING: 'x', MIGRATIONS_TABLE: 'ops.history' }, folder());
    expect(s.migrationsTable).toEqual({ schema: 'ops', table: 'history' });
  });
});

describe('.env.migrations.example', () => {
  it('documents every setting (as does the README) and loads as valid settings', async () => {
    const { readFileSync } = await import('node:fs');
    const { resolve } = await import('node:path');
    const root = resolve(import.meta.dirname, '..', '..');
    const text = readFileSync(resolve(root, '.env.migrations.example'), 'utf8');
    const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
    expect(SETTING_NAMES).toContain('DATABASE_URL');
    for (const name of SETTING_NAMES) {
      expect(text, name).toMatch(new RegExp(`^#? ?${name}=`, 'm'));
      expect(readme, name).toContain(`\`${name}\``);
    }
    expect(() => loadSettings({ envFile: '.env.migrations.example' }, {}, root)).not.toThrow();
  });
});

describe('DATABASE_URL problems are settings errors (exit 2) that never show the URL', () => {
  it.each([
    ['postgres://app:hunter@2@db/app', /more than one @/],
    ['postgres://app:pass@db:99999/app', /port "99999"/],
    ['postgres://app:pass@db/app?sslmode=bogus', /sslmode="bogus"/],
  ])('%s', (url, message) => {
    let error: unknown;
    try {
      loadSettings({ databaseUrl: url }, {}, '/nonexistent');
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'bad-settings', exitCode: 2, message });
    expect((error as Error).message).not.toMatch(/hunter|2@db|pass@/);
  });
});

describe('lint settings (issue 10)', () => {
  it('defaults: a 10 MB size threshold, no start-after version, no rule overrides', () => {
    const s = loadSettings({}, {}, folder());
    expect(s.lintSizeThresholdBytes).toBe(10 * 1024 * 1024);
    expect(s.lintStartAfter).toBeUndefined();
    expect(s.lintRules.size).toBe(0);
  });

  it('reads LINT_SIZE_THRESHOLD with units, LINT_START_AFTER and LINT_RULES from .env.migrations', () => {
    const cwd = folder({
      '.env.migrations':
        'LINT_SIZE_THRESHOLD=50kB\nLINT_START_AFTER=042\nLINT_RULES=prefer-text-field:off, ban-drop-column=warning\n',
    });
    const s = loadSettings({}, {}, cwd);
    expect(s.lintSizeThresholdBytes).toBe(50 * 1024);
    expect(s.lintStartAfter).toBe(42n);
    expect([...s.lintRules]).toEqual([
      ['prefer-text-field', 'off'],
      ['ban-drop-column', 'warning'],
    ]);
  });

  it('names each bad lint setting and the accepted form', () => {
    expect(() =>
      loadSettings({}, { LINT_SIZE_THRESHOLD: 'big', LINT_RULES: 'nonsense', LINT_START_AFTER: 'v3' }, folder()),
    ).toThrow(
      /LINT_SIZE_THRESHOLD="big" is not a size[\s\S]*LINT_START_AFTER="v3" is not a version[\s\S]*LINT_RULES="nonsense" is not a list/,
    );
  });
});
