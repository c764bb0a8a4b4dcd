import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/settings.js';
import { isOwnSettingsFile } from '../../src/config/unknown.js';
import { ROOT } from '../helpers/project.js';

function folder(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'tm-unknown-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** The warnings of a start with this environment and these files, as `VARIABLE -> suggestion` lines. */
function warned(env: Record<string, string>, files: Record<string, string> = {}, envFile?: string): string[] {
  return loadSettings({ envFile }, env, folder(files)).warnings.map((w) => `${w.variable} -> ${w.suggestion ?? '-'}`);
}

describe('variables that are not read', () => {
  it('reports every key of .env.migrations that tidemark does not read, with the setting it probably means', () => {
    const s = loadSettings(
      {},
      {},
      folder({
        '.env.migrations':
          'MIGRATION_DIR=db/migrations\nLOCK_TIMOUT=2s\nSTATEMENT_TIMEOUT=5000\nFOO=bar\ndatabase_url=postgres://h/d\n' +
          'DB_POOL_SIZE=5\nNO_COLOR=1\nPGSERVICE=main\nMAX_LOCK_WAIT=1\nPGHOST=h\nDB_URL=postgres://h/d\n',
      }),
    );
    expect(s.warnings.map((w) => `${w.variable} -> ${w.suggestion ?? '-'}`)).toEqual([
      'MIGRATION_DIR -> MIGRATIONS_DIR',
      'LOCK_TIMOUT -> MAX_LOCK_WAIT',
      'STATEMENT_TIMEOUT -> DB_STATEMENT_TIMEOUT',
      'FOO -> -',
      'database_url -> DATABASE_URL',
      'DB_POOL_SIZE -> -',
      'NO_COLOR -> -',
      'PGSERVICE -> -',
    ]);
    const message = (name: string) => s.warnings.find((w) => w.variable === name)!.message;
    expect(message('MIGRATION_DIR')).toBe(
      'MIGRATION_DIR in .env.migrations is not a tidemark setting and is ignored: did you mean MIGRATIONS_DIR?',
    );
    expect(message('LOCK_TIMOUT')).toMatch(/did you mean MAX_LOCK_WAIT \(tidemark's lock_timeout/);
    expect(message('FOO')).toMatch(/not a tidemark setting and is ignored \(\.env\.migrations\.example lists/);
    expect(message('database_url')).toMatch(/setting names are upper case \(DATABASE_URL\)/);
    expect(message('DB_POOL_SIZE')).toMatch(/was removed/);
    expect(message('NO_COLOR')).toMatch(/read from the environment only/);
    expect(message('PGSERVICE')).toMatch(/only some of libpq's variables/);
    // The settings themselves are unchanged: a warning never changes what runs.
    expect(s.migrationsDir).toBe(join(s.cwd, 'migrations'));
  });

  it('raises nothing for .env.migrations.example copied as .env.migrations, as the README tells a user to', () => {
    const example = readFileSync(join(ROOT, '.env.migrations.example'), 'utf8');
    // Its commented-out settings too: a user uncomments them.
    expect(warned({}, { '.env.migrations': example.replace(/^# ([A-Z_]+=)/gm, '$1') })).toEqual([]);
  });

  it('reports a near miss in the environment, but not one whose setting is set (then it is some other program’s)', () => {
    expect(warned({ MIGRATION_DIR: 'db', MIGRATON_TIMEOUT: '60', LOCK_TIMOUT: '2s', PGHOTS: 'h' })).toEqual([
      'MIGRATION_DIR -> MIGRATIONS_DIR',
      'MIGRATON_TIMEOUT -> MIGRATION_TIMEOUT',
      'LOCK_TIMOUT -> MAX_LOCK_WAIT',
      'PGHOTS -> PGHOST',
    ]);
    expect(warned({ DB_URI: 'x' })).toEqual(['DB_URI -> DB_URL']);
    expect(warned({ DB_URI: 'x', DATABASE_URL: 'postgres://h/d' })).toEqual([]);
    expect(warned({ MIGRATION_DIR: 'db' }, { '.env.migrations': 'MIGRATIONS_DIR=db\n' })).toEqual([]);
    expect(warned({ MIGRATION_DIR: 'db', MIGRATIONS_DIR: 'db' })).toEqual([]);
  });

  it('leaves alone the environment of a real pod, CI job or developer shell', () => {
    const env: Record<string, string> = {};
    for (const name of [
      'PATH',
      'HOME',
      'HOSTNAME',
      'PWD',
      'SHLVL',
      'TERM',
      'LANG',
      'USER',
      'SHELL',
      'TZ',
      'TMPDIR',
      'EDITOR',
      'NODE_ENV',
      'NODE_OPTIONS',
      'NODE_EXTRA_CA_CERTS',
      'NPM_CONFIG_CACHE',
      'RAILS_ENV',
      'RACK_ENV',
      'MIX_ENV',
      'SECRET_KEY_BASE',
      'LOG_LEVEL',
      'PORT',
      'DEBUG',
      'KUBERNETES_SERVICE_HOST',
      'KUBERNETES_SERVICE_PORT',
      'KUBERNETES_PORT_443_TCP_ADDR',
      'POSTGRES_SERVICE_HOST',
      'POSTGRES_PORT_5432_TCP',
      'POSTGRES_USER',
      'POSTGRES_PASSWORD',
      'POSTGRES_DB',
      'PGDATA',
      'PG_MAJOR',
      'PG_VERSION',
      'PGHOSTADDR',
      'PGSSLCRL',
      'PGOPTIONS',
      'PGAPPNAME',
      'PGSERVICE',
      'DB_HOST',
      'DB_PORT',
      'DB_NAME',
      'DB_USER',
      'DB_PASS',
      'DB_PASSWORD',
      'DB_SSL',
      'DB_POOL_SIZE',
      'DB_POOL_MAX',
      'DATABASE_HOST',
      'DATABASE_NAME',
      'DATABASE_USER',
      'DATABASE_PASSWORD',
      'DATABASE_POOL',
      'REDIS_URL',
      'LOCK_TIMEOUT',
      'STATEMENT_TIMEOUT',
      'MIGRATIONS_PATH',
      'BACKUP_BUCKET',
      'BACKUP_SCHEDULE',
      'SEED',
      'CI',
      'GITHUB_ACTIONS',
      'GITHUB_SHA',
      'GITHUB_REF',
      'GITHUB_ENV',
      'GITHUB_PATH',
      'GITHUB_OUTPUT',
      'RUNNER_OS',
      'RUNNER_TEMP',
      'RUNNER_ARCH',
      'ACTIONS_RUNTIME_URL',
      'ImageOS',
      'ImageVersion',
      'GITLAB_CI',
      'CI_JOB_ID',
      'CI_COMMIT_SHA',
      'CI_PROJECT_DIR',
      'CI_REGISTRY',
      'CI_SERVER_URL',
      'CI_DEBUG_TRACE',
      'HEROKU_POSTGRESQL_RED_URL',
      'DYNO',
      'AWS_REGION',
      'AWS_DEFAULT_REGION',
      'GOOGLE_CLOUD_PROJECT',
      'SSL_CERT_DIR',
      'SSL_CERT_FILE',
      'REQUESTS_CA_BUNDLE',
      'PIP_DEFAULT_TIMEOUT',
      'HTTP_PROXY',
      'NO_PROXY',
      'JAVA_HOME',
      'GOPATH',
      'PYTHONPATH',
      'VIRTUAL_ENV',
      'LC_ALL',
      'LESS',
      'PAGER',
      'COLORTERM',
      'FORCE_COLOR',
    ])
      // prettier-ignore
      env[name] = 'x';
    expect(warned(env)).toEqual([]);
  });

  it('reports only near misses in a settings file shared with the application (--env-file .env)', () => {
    const files = {
      '.env': 'SECRET_KEY_BASE=x\nREDIS_URL=redis://r\nDB_POOL_SIZE=5\nSTATEMENT_TIMEOUT=5000\nMIGRATION_DIR=db\n',
    };
    expect(warned({}, files, '.env')).toEqual(['MIGRATION_DIR -> MIGRATIONS_DIR']);
    // A file named as tidemark's own is tidemark's own, wherever it is and whatever follows the name.
    const own = { '.env.migrations.production': 'REDIS_URL=redis://r\n' };
    expect(warned({}, own, '.env.migrations.production')).toEqual(['REDIS_URL -> -']);
    expect(isOwnSettingsFile('/srv/app/.env.migrations')).toBe(true);
    expect(isOwnSettingsFile('config\\.env.migrations.staging')).toBe(true);
    expect(isOwnSettingsFile('/srv/app/.env')).toBe(false);
    expect(isOwnSettingsFile('/srv/.env.migrations/app.env')).toBe(false);
  });

  it('reports a key that is both in the file and in the environment once', () => {
    expect(warned({ MIGRATION_DIR: 'db' }, { '.env.migrations': 'MIGRATION_DIR=db\n' })).toEqual([
      'MIGRATION_DIR -> MIGRATIONS_DIR',
    ]);
  });
});
