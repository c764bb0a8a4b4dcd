/**
 * How the core's hints name the knobs a user can turn. The CLI's user turns flags and settings variables
 * (`--skip-lint`, `MIGRATION_TIMEOUT`); a library user turns options (`lint: false`,
 * `timeouts.migrationSeconds`). The core writes hints through one of these two vocabularies and never
 * assumes which face it runs behind.
 */
export interface Wording {
  readonly migrationTimeout: string;
  readonly maxLockWait: string;
  readonly lockRetries: string;
  readonly statementTimeout: string;
  readonly skipLint: string;
  /** How the user asks for the run to go on without a backup (as the result reports it). */
  readonly noBackup: string;
  /** How the user says the backup is off for good (as the result reports it). */
  readonly backupOff: string;
  /** Why the production guard applies. */
  readonly productionOn: string;
  /** Turning the production guard off (or saying this is not production). */
  readonly notProduction: string;
  readonly allowDdlInProduction: string;
  readonly forceSeed: string;
  /** The fix for a dirty or changed migration `version`. */
  repair(version: string): string;
  /** Going on with a dirty no-transaction migration: `up` resumes at `statement` (1-based). */
  resume(statement: number): string;
  /** Running the direction again (`up`/`down`). */
  runAgain(direction: 'up' | 'down'): string;
  /** Letting an out-of-order pending migration run. */
  readonly allowOutOfOrder: string;
  /** Running an out-of-order pending migration. */
  readonly upOutOfOrder: string;
  /** Accepting a migration without a rollback file in verify. */
  readonly allowMissingRollback: string;
  /** A command, as the user calls it (`migrate status` / `status()`). */
  command(name: string): string;
}

export const CLI_WORDING: Wording = {
  migrationTimeout: 'MIGRATION_TIMEOUT',
  maxLockWait: 'MAX_LOCK_WAIT',
  lockRetries: 'LOCK_RETRIES',
  statementTimeout: 'DB_STATEMENT_TIMEOUT',
  skipLint: '--skip-lint',
  noBackup: '--no-backup',
  backupOff: 'BACKUP_BEFORE_MIGRATE=false',
  productionOn: 'MIGRATE_ENV is production',
  notProduction: 'set MIGRATE_ENV to staging or development if this is not production',
  allowDdlInProduction: 'Set ALLOW_DDL_IN_PRODUCTION=true for this deploy',
  forceSeed: 'add --force',
  repair: (version) => `migrate repair ${version}`,
  runAgain: (direction) => `run migrate ${direction} again`,
  allowOutOfOrder: '--allow-out-of-order',
  upOutOfOrder: 'migrate up --allow-out-of-order',
  allowMissingRollback: '--allow-missing-rollback',
  command: (name) => `migrate ${name}`,
  resume: (statement) =>
    `run migrate up again: it resumes at statement ${statement} (migrate up --from-start runs the file from its first statement).`,
};

export const LIBRARY_WORDING: Wording = {
  migrationTimeout: 'the timeouts.migrationSeconds option',
  maxLockWait: 'the timeouts.lockWaitSeconds option',
  lockRetries: 'the lockRetry option',
  statementTimeout: 'the timeouts.statementMs option',
  skipLint: 'up({ skipLint: true })',
  noBackup: 'up({ noBackup: true })',
  backupOff: 'backup is off (backup.beforeMigrate: false)',
  productionOn: 'the production option is on',
  notProduction: 'leave out the production option if this is not production',
  allowDdlInProduction: 'Pass production: { allowDdl: true } for this deploy',
  forceSeed: 'pass seed(name, { force: true })',
  repair: (version) => `repair('${version}')`,
  runAgain: (direction) => `call ${direction}() again`,
  allowOutOfOrder: 'up({ allowOutOfOrder: true })',
  upOutOfOrder: 'up({ allowOutOfOrder: true })',
  allowMissingRollback: 'verify({ allowMissingRollback: true })',
  command: (name) => `${name}()`,
  resume: (statement) =>
    `call up() again: it resumes at statement ${statement} (up({ fromStart: true }) runs the file from its first statement).`,
};
