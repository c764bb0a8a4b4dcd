/**
 * What `up` checks before it runs anything: the safety lint of the pending files and the production guard.
 * The policy lives here; the parser, the rules and the catalog reader live in src/sql and src/db and load
 * only when a check needs them.
 */
import type { TableRef } from '../config/settings.js';
import type { Client } from '../db/connection.js';
import { serverVersionNum } from '../db/introspect.js';
import { quoteTable } from '../db/quote.js';
import { MigrateError, usageError } from '../errors.js';
import type { MigrationSource } from '../source/source.js';
import type { Migration } from '../source/types.js';
import type { Finding } from '../sql/lint/types.js';
import type { FileLocks } from '../sql/locks.js';
import type { RunConfig } from './config.js';

export interface LintSummary {
  readonly findings: readonly Finding[];
  /** Why the lint did not run, when it did not (reported in the output and --json). */
  readonly skipped: string | undefined;
}

export interface PreflightOptions {
  readonly skipLint?: boolean | undefined;
  /** --no-backup: refused in production by the migrator's backup step, under the runner lock. */
  readonly noBackup?: boolean | undefined;
}

/** Statement kinds that change no schema: data changes and session commands. Anything else counts as DDL. */
const NOT_DDL = new Set([
  'InsertStmt',
  'UpdateStmt',
  'DeleteStmt',
  'SelectStmt',
  'MergeStmt',
  'CopyStmt',
  'CallStmt',
  'VariableSetStmt',
  'VariableShowStmt',
  'NotifyStmt',
  'ListenStmt',
  'UnlistenStmt',
  'TransactionStmt',
  'ExplainStmt',
  'VacuumStmt',
  'LockStmt',
]);

export function blockingFindings(findings: readonly Finding[]): Finding[] {
  return findings.filter((f) => f.severity === 'error' && !f.acknowledged);
}

/** True when the database holds no relation besides our tracking table: nothing a migration could lock. */
async function databaseIsEmpty(client: Client, table: TableRef): Promise<boolean> {
  const { rows } = await client.query<{ n: number }>(
    `select count(*)::int as n
       from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p', 'm', 'v', 'f')
        and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'
        and c.oid <> coalesce(to_regclass($1), 0)`,
    [quoteTable(table)],
  );
  return rows[0]?.n === 0;
}

/** Told what a catalog read could not read exactly (e.g. a locked table's size), in a sentence. */
export type NoteSink = (message: string) => void;

async function catalogContext(client: Client | undefined, pgVersion: number, onNote?: NoteSink) {
  if (!client) return { pgVersion };
  const { readCatalog } = await import('../db/catalog.js');
  const catalog = await readCatalog(client, { onNote });
  return { pgVersion: catalog.serverVersionNum, catalog };
}

/**
 * Lints files; with a client, against the live catalog and server version. `oneRun`: the files are the
 * pending ones of one run, so a table an earlier file creates is new (empty) when a later one runs. Otherwise
 * (offline, --all, named files) each file is linted on its own: what earlier files created may be large now.
 */
export async function lintMigrations(files: readonly Migration['up'][], client: Client | undefined, pgVersion = 150000, oneRun = true, onNote?: NoteSink): Promise<Finding[]> {
  const { lintFile, lintFiles } = await import('../sql/lint/index.js');
  const context = await catalogContext(client, pgVersion, onNote);
  if (oneRun) return lintFiles(files, context);
  const findings: Finding[] = [];
  for (const file of files) findings.push(...(await lintFile(file, context)));
  return findings;
}

export async function lockReport(files: readonly Migration['up'][], client: Client | undefined, pgVersion = 150000, onNote?: NoteSink): Promise<FileLocks[]> {
  const { lockReportForFiles } = await import('../sql/locks.js');
  return lockReportForFiles(files, await catalogContext(client, pgVersion, onNote));
}

/** What the checks before `up` are told: the policies of the run (core/config). */
export type PreflightPolicy = Pick<RunConfig, 'table' | 'lint' | 'production' | 'words'>;

/**
 * The checks before `up` runs `pending`. Throws when the run must not start; returns the lint summary, or
 * undefined when the policy has no lint.
 *
 * - Under the production guard (MIGRATE_ENV=production): DDL needs ALLOW_DDL_IN_PRODUCTION=true, and
 *   the lint always runs and always stops on an unacknowledged error (--skip-lint does not apply).
 * - Elsewhere the lint runs unless --skip-lint, or the database is empty: on an empty database every object
 *   a migration touches is created by the same run, so there is nothing to lock, rewrite or lose, and
 *   bootstrapping a fresh database (every CI test database) does not pay the parser (~1 ms a file).
 */
export async function preflight(client: Client, policy: PreflightPolicy, pending: readonly Migration[], options: PreflightOptions, onNote?: NoteSink): Promise<LintSummary | undefined> {
  const production = policy.production !== undefined;
  const w = policy.words;
  if (policy.production && !policy.production.allowDdl) {
    const { parseStatementsSync } = await import('../sql/split.js');
    const { loadParser, MAX_PARSE_CHARS } = await import('../sql/parser.js');
    await loadParser();
    const ddl: string[] = [];
    for (const m of pending) {
      let kinds: string[];
      try {
        if (m.up.text.length > MAX_PARSE_CHARS) throw new Error('too large to parse');
        kinds = parseStatementsSync(m.up.text, m.up.displayPath).map((s) => s.kind);
      } catch {
        kinds = ['(does not parse)'];
      }
      const found = kinds.filter((k) => !NOT_DDL.has(k));
      if (found.length > 0) ddl.push(`${m.up.displayPath} (${[...new Set(found)].join(', ')})`);
    }
    if (ddl.length > 0) {
      throw usageError('ddl-in-production', `Refusing to run DDL in production: ${ddl.join('; ')}.`, {
        hint: `${w.allowDdlInProduction} once the change has been reviewed (migrate lint --locks shows what each statement locks).`,
      });
    }
  }
  if (!production && !policy.lint) return undefined;

  let skipped: string | undefined;
  if (options.skipLint && !production) skipped = w.skipLint;
  else if (!production && (await databaseIsEmpty(client, policy.table))) skipped = 'the database has no tables yet';
  if (skipped) return { findings: [], skipped };

  const findings = await lintMigrations(pending.map((m) => m.up), client, undefined, true, onNote);
  const blocking = blockingFindings(findings);
  if (blocking.length > 0) {
    const lines = blocking.map((f) => `${f.file}:${f.line}:${f.column} ${f.rule}: ${f.message}`);
    throw new MigrateError('lint-blocked', `migrate up cannot start: ${blocking.length} unacknowledged lint error${blocking.length === 1 ? '' : 's'} (nothing was run):\n  ${lines.join('\n  ')}`, {
      hint: production
        ? `Apply the safe alternative (migrate lint shows it), or acknowledge a finding in its file: -- migrate:allow RULE -- reason. In production ${w.skipLint} does not apply.`
        : `Apply the safe alternative (migrate lint shows it), acknowledge a finding in its file (-- migrate:allow RULE -- reason), or pass ${w.skipLint}.`,
      details: { findings: blocking },
    });
  }
  return { findings, skipped: undefined };
}

export interface LintRequest {
  /** Files named on the command line; otherwise the migrations. */
  readonly files?: readonly string[] | undefined;
  /** Every migration, not only the pending ones. */
  readonly all?: boolean | undefined;
  readonly locks?: boolean | undefined;
  /** server_version_num to assume offline (e.g. 150000). */
  readonly pgVersion?: number | undefined;
  readonly onNote?: NoteSink | undefined;
}

export interface LintReport {
  readonly files: readonly string[];
  readonly findings: readonly Finding[];
  readonly locks: readonly FileLocks[] | undefined;
  /** What the lint read the schema from: `database` (catalog + server version) or `offline`. */
  readonly mode: 'database' | 'offline';
  readonly pgVersion: number;
}

/** Where `lintReport` finds migrations and named files. */
export interface LintContext {
  readonly source: MigrationSource;
  readonly table: TableRef;
  /** Named files that are relative paths are resolved against, and shown relative to; none: absolute paths only. */
  readonly root: string | undefined;
}

/**
 * `migrate lint`: the named files, else the pending migrations (every migration with --all, or offline where
 * nothing tells which are pending). Connected, rules see the live catalog; offline, they say what they could
 * not know.
 */
export async function lintReport(context: LintContext, client: Client | undefined, request: LintRequest): Promise<LintReport> {
  let files: Migration['up'][];
  let oneRun = false;
  if (request.files && request.files.length > 0) {
    const { readSqlFile } = await import('../source/files.js');
    const { dirname, isAbsolute, resolve } = await import('node:path');
    const problems: string[] = [];
    files = [];
    for (const name of request.files) {
      if (!isAbsolute(name) && context.root === undefined) {
        problems.push(`${name}: not an absolute path (there is no root folder to resolve it against)`);
        continue;
      }
      const path = context.root === undefined ? name : resolve(context.root, name);
      try {
        files.push(await readSqlFile(path, context.root ?? dirname(path), problems));
      } catch (error) {
        problems.push(`${name}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
      }
    }
    if (problems.length > 0) throw usageError('bad-lint-files', `Cannot lint:\n  ${problems.join('\n  ')}`);
  } else {
    const migrations = await context.source.load();
    let chosen = migrations;
    if (client && !request.all) {
      const { HistoryStore } = await import('../db/history.js');
      const { statusOf } = await import('./plan.js');
      const history = await new HistoryStore(client, context.table).read();
      chosen = statusOf(migrations, history)
        .filter((e) => e.state === 'pending')
        .map((e) => e.migration!);
      oneRun = true;
    }
    files = chosen.map((m) => m.up);
  }
  const pgVersion = request.pgVersion ?? 150000;
  const findings = await lintMigrations(files, client, pgVersion, oneRun, request.onNote);
  const locks = request.locks ? await lockReport(files, client, pgVersion).catch(() => undefined) : undefined;
  const serverVersion = client ? await serverVersionNum(client) : pgVersion;
  return { files: files.map((f) => f.displayPath), findings, locks, mode: client ? 'database' : 'offline', pgVersion: serverVersion };
}
