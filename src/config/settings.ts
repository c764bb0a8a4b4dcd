/**
 * One settings value for the whole run, merged once: flag > environment > .env.migrations > default,
 * validated once with zod and frozen. Nothing else in tidemark reads process.env for settings.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import * as z from 'zod/mini';
import { urlProblem } from '../db/params.js';
import { ValidationError, usageError } from '../errors.js';
import { unknownVariables, type SettingsWarning } from './unknown.js';

export type { SettingsWarning } from './unknown.js';

export type MigrateEnv = 'development' | 'staging' | 'production';
export type Strategy = 'standard' | 'expand_contract';

export interface TableRef {
  readonly schema: string;
  readonly table: string;
}

export interface Settings {
  /** postgres:// URL; undefined when libpq PG* variables (or --embedded) choose the server. */
  readonly databaseUrl: string | undefined;
  /** The libpq PG* variables found (environment or .env.migrations); used when no URL is given. */
  readonly libpqEnv: Readonly<Record<string, string>>;
  readonly embedded: boolean;
  readonly migrationsDir: string;
  readonly rollbackDir: string;
  readonly seedsDir: string;
  readonly migrationsTable: TableRef;
  /** The longest lock_timeout of one lock attempt, in seconds (MAX_LOCK_WAIT; may be fractional). */
  readonly maxLockWaitSeconds: number;
  /** The same in milliseconds; 0 = no lock_timeout. */
  readonly maxLockWaitMs: number;
  /** statement_timeout, in milliseconds; 0 = off. */
  readonly statementTimeoutMs: number;
  /** Seconds one migration may run before it is cancelled; 0 = no limit. */
  readonly migrationTimeoutSeconds: number;
  readonly lockRetries: number;
  /** After the last lock attempt: give up, or one more attempt without lock_timeout (LOCK_FINAL_ATTEMPT). */
  readonly lockFinalAttempt: 'fail' | 'wait';
  /** A warning when a session has waited on the migration this long, ms (BLOCKED_WARN); 0 = never. */
  readonly blockedWarnMs: number;
  /** Alerts: the command (argv words, run without a shell) and/or the webhook URL; undefined = none. */
  readonly alertCommand: string | undefined;
  readonly alertWebhookUrl: string | undefined;
  readonly alertTimeoutMs: number;
  /** Alert when a session has waited on the migration this long, ms; 0 = never. */
  readonly alertBlockedMs: number;
  /** Alert when one migration has run this long, ms; 0 = never. */
  readonly alertLongRunMs: number;
  readonly backupBeforeMigrate: boolean;
  readonly backupDir: string;
  readonly backupRetentionDays: number;
  /** Keep at most this many newest backups (besides the age limit); undefined = no count limit. */
  readonly backupKeep: number | undefined;
  /** Command run with the backup file's path as its last argument after validation (e.g. `aws s3 cp`). */
  readonly backupUploadCommand: string | undefined;
  readonly pgDumpPath: string | undefined;
  readonly strategy: Strategy;
  readonly migrateEnv: MigrateEnv;
  readonly allowDdlInProduction: boolean;
  /** Seconds to keep retrying the first connection while the server comes up (db/wait); 0 = do not wait. */
  readonly dbWaitSeconds: number;
  /** SCHEMA_FILE: where `migrate schema dump` writes and `schema check` reads (default ./schema.sql). */
  readonly schemaFile: string;
  /** True when SCHEMA_FILE is set: then up, down and redo rewrite the file after they succeed. */
  readonly schemaFileAuto: boolean;
  /** Connected lint: a lock/rewrite finding on a table smaller than this (bytes) is a warning. */
  readonly lintSizeThresholdBytes: number;
  /** Files at or before this version are not refused by the lint before a run (an adopted history). */
  readonly lintStartAfter: bigint | undefined;
  /** LINT_RULES: per-rule `off`, `warning` or `error`, keyed by rule id (ids are checked by the lint). */
  readonly lintRules: ReadonlyMap<string, 'off' | 'warning' | 'error'>;
  /** The folder settings were resolved against (the working directory). */
  readonly cwd: string;
  /**
   * Variables that look like settings but are not read (a typo of one, an unknown key in .env.migrations):
   * the CLI prints them as warnings (config/unknown.ts).
   */
  readonly warnings: readonly SettingsWarning[];
}

/** What the command line may set; each wins over the environment. */
export interface SettingsFlags {
  readonly databaseUrl?: string | undefined;
  readonly migrationsDir?: string | undefined;
  readonly rollbackDir?: string | undefined;
  readonly seedsDir?: string | undefined;
  readonly envFile?: string | undefined;
  readonly embedded?: boolean | undefined;
  readonly dbWaitSeconds?: number | undefined;
}

/** The libpq variables tidemark honours when DATABASE_URL is absent (and passes on to pg_dump). */
export const LIBPQ_VARIABLES = [
  'PGHOST',
  'PGPORT',
  'PGUSER',
  'PGPASSWORD',
  'PGDATABASE',
  'PGSSLMODE',
  'PGSSLROOTCERT',
  'PGSSLCERT',
  'PGSSLKEY',
  'PGPASSFILE',
  'PGCONNECT_TIMEOUT',
] as const;

export const DEFAULT_ENV_FILE = '.env.migrations';

// zod/mini: the same validation as zod's classic API at a fraction of its start-up cost (~5 ms instead of
// ~22 ms measured on this machine), which every pod start pays.
const booleanText = z.pipe(
  z.string().check(
    z.trim(),
    z.toLowerCase(),
    z.refine((v) => ['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'].includes(v), {
      message: 'is not a boolean; use true or false',
    }),
  ),
  z.transform((v: string) => ['true', '1', 'yes', 'on'].includes(v)),
);

function integerText(what: string, min: number) {
  return z.pipe(
    z.string().check(z.trim(), z.regex(/^\d+$/, { message: `is not a whole number; use ${what}` })),
    z.pipe(
      z.transform((v: string) => Number(v)),
      z.number().check(z.refine((n) => Number.isSafeInteger(n) && n >= min, { message: `must be at least ${min}` })),
    ),
  );
}

/**
 * A duration: seconds as a plain number (`5`, `0.5`) or with a unit (`500ms`, `2s`, `10min`), in ms.
 * Plain numbers stay seconds so that values written before units were accepted keep their meaning.
 */
function durationText(example: string) {
  return z.pipe(
    z
      .string()
      .check(
        z.trim(),
        z.toLowerCase(),
        z.regex(/^\d+(\.\d+)?\s*(ms|s|min)?$/, { message: `is not a duration; use ${example}` }),
      ),
    z.transform((v: string) => {
      const m = /^(\d+(?:\.\d+)?)\s*(ms|s|min)?$/.exec(v)!;
      const n = Number(m[1]);
      return Math.round(m[2] === 'ms' ? n : m[2] === 'min' ? n * 60_000 : n * 1000);
    }),
  );
}

const identifier = /^[A-Za-z_][A-Za-z0-9_$]*$/;

const tableText = z.pipe(
  z.string().check(
    z.trim(),
    z.refine(
      (v) => {
        const parts = v.split('.');
        return parts.length <= 2 && parts.every((p) => identifier.test(p));
      },
      { message: 'is not a table name; use name or schema.name (letters, digits, _)' },
    ),
  ),
  z.transform((v: string): TableRef => {
    const parts = v.split('.');
    return parts.length === 2 ? { schema: parts[0]!, table: parts[1]! } : { schema: 'public', table: parts[0]! };
  }),
);

const urlText = z.string().check(
  z.trim(),
  z.refine((v) => urlProblem(v) === undefined, {
    error: (issue) => urlProblem(String(issue.input)) ?? 'is not a PostgreSQL URL',
  }),
);

const text = z.string().check(z.trim(), z.minLength(1));

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };
const sizeText = z.pipe(
  z.string().check(
    z.trim(),
    z.regex(/^\d+(\.\d+)?\s*(b|kb|mb|gb|tb)?$/i, {
      message: 'is not a size; use bytes or a number with kB, MB or GB, e.g. 10MB (0 = always an error)',
    }),
  ),
  z.transform((v: string) => {
    const [, n = '0', unit = ''] = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(v) ?? [];
    return Math.round(Number(n) * (SIZE_UNITS[unit.toLowerCase()] ?? 1));
  }),
);

const LINT_RULE_SETTING = /^[a-z0-9-]+\s*[:=]\s*(off|warning|error)$/i;
const lintRulesText = z.pipe(
  z.string().check(
    z.trim(),
    z.refine((v) => v.split(',').every((part) => part.trim() === '' || LINT_RULE_SETTING.test(part.trim())), {
      message:
        'is not a list of rule settings; use rule-id:off|warning|error, comma-separated (e.g. prefer-text-field:off,ban-drop-column:warning)',
    }),
  ),
  z.transform((v: string) => {
    const out = new Map<string, 'off' | 'warning' | 'error'>();
    for (const part of v.split(',')) {
      const [id = '', level = ''] = part.trim().split(/\s*[:=]\s*/);
      if (id !== '') out.set(id.toLowerCase(), level.toLowerCase() as 'off' | 'warning' | 'error');
    }
    return out;
  }),
);

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { message: `must be ${values.slice(0, -1).join(', ')} or ${values.at(-1)}` });
}

/** Every variable tidemark reads, with its parser and default. The keys are the variable names. */
const schema = z.object({
  DATABASE_URL: z.optional(urlText),
  MIGRATIONS_DIR: z._default(text, './migrations'),
  ROLLBACK_DIR: z._default(text, './rollback'),
  SEEDS_DIR: z._default(text, './seeds'),
  MIGRATIONS_TABLE: z._default(tableText, { schema: 'public', table: 'schema_migrations' }),
  MAX_LOCK_WAIT: z._default(durationText('seconds or a unit, e.g. 0.5, 500ms or 2s (0 = no lock_timeout)'), 400),
  DB_STATEMENT_TIMEOUT: z._default(integerText('milliseconds, e.g. 30000 (0 = off)', 0), 0),
  MIGRATION_TIMEOUT: z._default(integerText('seconds, e.g. 1800 (0 = no limit)', 0), 1800),
  LOCK_RETRIES: z._default(integerText('a count, e.g. 30', 0), 30),
  LOCK_FINAL_ATTEMPT: z._default(oneOf(['fail', 'wait']), 'fail'),
  BLOCKED_WARN: z._default(durationText('seconds, e.g. 5 (0 = never)'), 5000),
  ALERT_COMMAND: z.optional(text),
  ALERT_WEBHOOK_URL: z.optional(
    z.string().check(
      z.trim(),
      z.refine((v) => /^https?:\/\/[^\s]+$/i.test(v), {
        message: 'is not an http(s) URL; use https://hooks.example.com/...',
      }),
    ),
  ),
  ALERT_TIMEOUT: z._default(durationText('seconds, e.g. 5'), 5000),
  ALERT_BLOCKED_AFTER: z._default(durationText('seconds, e.g. 30 (0 = never)'), 30_000),
  ALERT_RUN_LONGER_THAN: z._default(durationText('seconds or minutes, e.g. 600 or 10min (0 = never)'), 600_000),
  BACKUP_BEFORE_MIGRATE: z._default(booleanText, true),
  BACKUP_DIR: z._default(text, './backups'),
  BACKUP_RETENTION_DAYS: z._default(integerText('days, e.g. 7', 0), 7),
  BACKUP_KEEP: z.optional(integerText('a count of newest backups to keep, e.g. 10', 1)),
  BACKUP_UPLOAD_COMMAND: z.optional(text),
  PG_DUMP_PATH: z.optional(text),
  MIGRATION_STRATEGY: z._default(oneOf(['standard', 'expand_contract']), 'standard'),
  MIGRATE_ENV: z._default(oneOf(['development', 'staging', 'production']), 'development'),
  ALLOW_DDL_IN_PRODUCTION: z._default(booleanText, false),
  MIGRATE_EMBEDDED: z._default(booleanText, false),
  DB_WAIT_TIMEOUT: z._default(integerText('seconds, e.g. 60 (0 = do not wait)', 0), 0),
  SCHEMA_FILE: z.optional(text),
  LINT_SIZE_THRESHOLD: z._default(sizeText, 10 * 1024 * 1024),
  LINT_START_AFTER: z.optional(
    z.pipe(
      z
        .string()
        .check(
          z.trim(),
          z.regex(/^\d+$/, { message: 'is not a version; use the leading digits of a migration file name, e.g. 042' }),
        ),
      z.transform((v: string) => BigInt(v)),
    ),
  ),
  LINT_RULES: z._default(lintRulesText, new Map()),
});

/** Every variable tidemark reads (the README and .env.migrations.example document each: a test checks). */
export const SETTING_NAMES: readonly string[] = Object.keys(schema.shape);

/** Another name of a setting, read when the setting itself is not set. */
const ALIASES: Readonly<Record<string, string>> = { DB_URL: 'DATABASE_URL' };

/** Every name read from the environment or the settings file: a key outside it may be a typo (config/unknown.ts). */
const KNOWN_NAMES: ReadonlySet<string> = new Set([...SETTING_NAMES, ...Object.keys(ALIASES), ...LIBPQ_VARIABLES]);

type Raw = Record<string, string | undefined>;

/** What an absent optional settings file reads as (told apart from an empty file by identity). */
const NO_FILE: Raw = Object.freeze({});

function readEnvFile(path: string, required: boolean): Raw {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return NO_FILE;
    throw usageError('env-file-unreadable', `Cannot read the settings file ${path}: ${(error as Error).message}.`, {
      hint: 'Check the path given to --env-file, or remove the flag to use ./.env.migrations when present.',
    });
  }
  return parseDotenv(text);
}

/**
 * Merges the layers and validates them. Throws a ValidationError (exit 2) listing every bad variable.
 * `env` is process.env in the CLI and whatever a test passes.
 */
export function loadSettings(
  flags: SettingsFlags = {},
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): Settings {
  const envFilePath = resolve(cwd, flags.envFile ?? DEFAULT_ENV_FILE);
  const fromFile = readEnvFile(envFilePath, flags.envFile !== undefined);

  const pick = (name: string): string | undefined => {
    const fromEnv = env[name];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    const inFile = fromFile[name];
    return inFile !== undefined && inFile !== '' ? inFile : undefined;
  };

  const raw: Raw = {};
  for (const key of Object.keys(schema.shape)) raw[key] = pick(key);
  // DB_URL is the seed's name for the same thing; DATABASE_URL wins when both are set.
  raw.DATABASE_URL ??= pick('DB_URL');
  if (flags.databaseUrl !== undefined) raw.DATABASE_URL = flags.databaseUrl;
  if (flags.migrationsDir !== undefined) raw.MIGRATIONS_DIR = flags.migrationsDir;
  if (flags.rollbackDir !== undefined) raw.ROLLBACK_DIR = flags.rollbackDir;
  if (flags.seedsDir !== undefined) raw.SEEDS_DIR = flags.seedsDir;
  if (flags.embedded) raw.MIGRATE_EMBEDDED = 'true';
  if (flags.dbWaitSeconds !== undefined) raw.DB_WAIT_TIMEOUT = String(flags.dbWaitSeconds);

  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '?');
      // A webhook URL carries its secret in the path (Slack, Teams): never shown either.
      const shown =
        name === 'DATABASE_URL' || name === 'ALERT_WEBHOOK_URL'
          ? '(the URL, not shown)'
          : JSON.stringify(raw[name] ?? '');
      return `${name}=${shown} ${issue.message}`;
    });
    throw new ValidationError('bad-settings', `Invalid settings:\n  ${problems.join('\n  ')}`, problems, {
      // The example ships in the package, so an app that installed tidemark has it too.
      hint: `Fix the variable in the environment or in ${envFilePath}; tidemark's .env.migrations.example documents each one (node_modules/tidemark/.env.migrations.example in a project that installed it).`,
    });
  }
  const s = parsed.data;
  const dir = (p: string) => (isAbsolute(p) ? p : resolve(cwd, p));
  const libpqEnv: Record<string, string> = {};
  for (const name of LIBPQ_VARIABLES) {
    const value = pick(name);
    if (value !== undefined) libpqEnv[name] = value;
  }

  return Object.freeze({
    databaseUrl: s.DATABASE_URL,
    libpqEnv: Object.freeze(libpqEnv),
    embedded: s.MIGRATE_EMBEDDED,
    migrationsDir: dir(s.MIGRATIONS_DIR),
    rollbackDir: dir(s.ROLLBACK_DIR),
    seedsDir: dir(s.SEEDS_DIR),
    migrationsTable: Object.freeze(s.MIGRATIONS_TABLE),
    maxLockWaitSeconds: s.MAX_LOCK_WAIT / 1000,
    maxLockWaitMs: s.MAX_LOCK_WAIT,
    statementTimeoutMs: s.DB_STATEMENT_TIMEOUT,
    migrationTimeoutSeconds: s.MIGRATION_TIMEOUT,
    lockRetries: s.LOCK_RETRIES,
    lockFinalAttempt: s.LOCK_FINAL_ATTEMPT,
    blockedWarnMs: s.BLOCKED_WARN,
    alertCommand: s.ALERT_COMMAND,
    alertWebhookUrl: s.ALERT_WEBHOOK_URL,
    alertTimeoutMs: s.ALERT_TIMEOUT,
    alertBlockedMs: s.ALERT_BLOCKED_AFTER,
    alertLongRunMs: s.ALERT_RUN_LONGER_THAN,
    backupBeforeMigrate: s.BACKUP_BEFORE_MIGRATE,
    backupDir: dir(s.BACKUP_DIR),
    backupRetentionDays: s.BACKUP_RETENTION_DAYS,
    backupKeep: s.BACKUP_KEEP,
    backupUploadCommand: s.BACKUP_UPLOAD_COMMAND,
    pgDumpPath: s.PG_DUMP_PATH,
    strategy: s.MIGRATION_STRATEGY,
    migrateEnv: s.MIGRATE_ENV,
    allowDdlInProduction: s.ALLOW_DDL_IN_PRODUCTION,
    dbWaitSeconds: s.DB_WAIT_TIMEOUT,
    schemaFile: dir(s.SCHEMA_FILE ?? './schema.sql'),
    schemaFileAuto: s.SCHEMA_FILE !== undefined,
    lintSizeThresholdBytes: s.LINT_SIZE_THRESHOLD,
    lintStartAfter: s.LINT_START_AFTER,
    lintRules: s.LINT_RULES,
    cwd,
    warnings: Object.freeze(
      unknownVariables({
        known: KNOWN_NAMES,
        aliases: ALIASES,
        env,
        file:
          fromFile === NO_FILE
            ? undefined
            : { path: envFilePath, shown: flags.envFile ?? DEFAULT_ENV_FILE, keys: Object.keys(fromFile) },
        isSet: (name) => raw[name] !== undefined || pick(name) !== undefined,
      }),
    ),
  });
}
