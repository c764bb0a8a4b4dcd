/**
 * Option combinations that contradict each other do not compile (npx tsc checks this file, as `npm test`
 * does): the production guard needs a backup to require and a lint to run.
 */
import { describe, expect, it } from 'vitest';
import type { MigratorOptions } from '../../src/index.js';

const migrations = [{ version: 1, name: 'one', up: 'select 1' }];

describe('exclusive createMigrator options', () => {
  it('accepts the guard with a backup, and no guard with or without one', () => {
    const guarded: MigratorOptions = {
      migrations,
      production: { allowDdl: true },
      backup: { directory: '/b' },
      lint: true,
    };
    const plain: MigratorOptions = { migrations, backup: false, lint: false };
    const off: MigratorOptions = { migrations, production: false, backup: false };
    expect([guarded, plain, off]).toHaveLength(3);
  });

  it('refuses the guard without a backup, with backup: false, or with lint: false', () => {
    // @ts-expect-error: production requires a backup: every change would be refused
    const noBackup: MigratorOptions = { migrations, production: true };
    // @ts-expect-error: production with backup: false
    const backupOff: MigratorOptions = { migrations, production: true, backup: false };
    // @ts-expect-error: production always lints
    const lintOff: MigratorOptions = { migrations, production: true, backup: { directory: '/b' }, lint: false };
    expect([noBackup, backupOff, lintOff]).toHaveLength(3);
  });
});
