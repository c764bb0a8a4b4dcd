/**
 * What every command that runs SQL checks before it runs anything (up, down, redo, seed; repair --rerun for
 * the guard): the safety lint of the files in the direction they run, and the production guard.
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
import type { Finding, LintContext as RuleContextOptions, LintInputFile } from '../sql/lint/types.js';
import type { FileLocks } from '../sql/locks.js';
import { statementWords } from '../sql/statement-words.js';
import type { LintRules, RunConfig } from './config.js';

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

/** One file a command is about to run, in the order and direction it runs. */
export interface PreflightFile {
  readonly file: Migration['up'];
  /** The migration's version; undefined for a seed. */
  readonly version: bigint | undefined;
  /** For a rollback file: the up file it undoes (dropping what that created is its purpose). */
  readonly undoes?: Migration['up'] | undefined;
  /** Why this file's findings must not stop the run (they are still reported), e.g. `re-applied by redo`. */
  readonly exempt?: string | undefined;
}

export interface PreflightRequest extends PreflightOptions {
  /** What is asking, for messages: `migrate up`, `migrate down`, `migrate seed`. */
  readonly command: string;
  /** Only the production guard (for commands that arrange for SQL to run later, e.g. repair --rerun). */
  readonly guardOnly?: boolean | undefined;
}

/** The files of migrations run forward. */
export function upFiles(migrations: readonly Migration[]): PreflightFile[] {
  return migrations.map((m) => ({ file: m.up, version: m.versionNumber }));
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
  return findings.filter((f) => f.severity === 'error' && !f.acknowledged && f.exempt === undefined);
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

/** What the project says about lint: the size threshold and per-rule overrides (ids checked). */
export async function lintPolicy(
  rules: LintRules | undefined,
): Promise<Pick<RuleContextOptions, 'sizeThresholdBytes' | 'ruleSeverity'>> {
  if (rules === undefined) return {};
  if (rules.severity !== undefined && rules.severity.size > 0) {
    const { RULES_BY_ID } = await import('../sql/lint/rules/index.js');
    const unknown = [...rules.severity.keys()].filter((id) => !RULES_BY_ID.has(id));
    if (unknown.length > 0) {
      throw usageError(
        'bad-settings',
        `LINT_RULES names ${unknown.length === 1 ? 'an unknown rule' : 'unknown rules'}: ${unknown.join(', ')}.`,
        {
          hint: 'Use rule ids as {{lint}} prints them (docs/rules/ has one page per rule), e.g. {{ruleOff}}.',
        },
      );
    }
  }
  return {
    ...(rules.sizeThresholdBytes !== undefined ? { sizeThresholdBytes: rules.sizeThresholdBytes } : {}),
    ...(rules.severity !== undefined ? { ruleSeverity: rules.severity } : {}),
  };
}

/** Told what a catalog read could not read exactly (e.g. a locked table's size), in a sentence. */
export type NoteSink = (message: string) => void;

/**
 * The lint's context; connected, with the catalog of what `texts` (the files to check, and the up files their
 * rollbacks undo) can name: rules look objects up by the names the SQL uses, so the rest of a large schema
 * is never read (db/catalog.ts `names`, sql/names.ts).
 */
async function catalogContext(
  client: Client | undefined,
  pgVersion: number,
  texts: readonly string[],
  rules?: LintRules,
  onNote?: NoteSink,
  whileWaiting?: () => void,
  details = true,
): Promise<RuleContextOptions> {
  const policy = await lintPolicy(rules);
  if (!client) return { pgVersion, ...policy };
  const [{ readCatalog }, { identifierNames }] = await Promise.all([
    import('../db/catalog.js'),
    import('../sql/names.js'),
  ]);
  const catalog = await readCatalog(client, { onNote, names: identifierNames(texts), whileWaiting, details });
  return { pgVersion: catalog.serverVersionNum, catalog, ...policy };
}

/** The texts a lint of `files` reads: each file and the up file it undoes. */
function textsOf(files: readonly LintInputFile[]): string[] {
  return files.flatMap((f) => (f.undoes === undefined ? [f.text] : [f.text, f.undoes]));
}

/**
 * Lints files; with a client, against the live catalog and server version. `oneRun`: the files are the
 * pending ones of one run, so a table an earlier file creates is new (empty) when a later one runs. Otherwise
 * (offline, --all, named files) each file is linted on its own: what earlier files created may be large now.
 */
export async function lintMigrations(
  files: readonly LintInputFile[],
  client: Client | undefined,
  pgVersion = 150000,
  oneRun = true,
  rules?: LintRules,
  onStatementKinds?: RuleContextOptions['onStatementKinds'],
  onNote?: NoteSink,
): Promise<Finding[]> {
  const [{ lintEachFile, lintFiles, ParsedAhead }, { withSmallYoungGeneration }] = await Promise.all([
    import('../sql/lint/index.js'),
    import('../sql/parser.js'),
  ]);
  // While the server answers the catalog read, the grammar is loaded and the first batches of files are parsed
  // (a parse does not depend on the catalog); the lint takes those and parses the rest. A failed load or parse
  // is the lint's to report, not this.
  let ahead: InstanceType<typeof ParsedAhead> | undefined;
  const whileWaiting = () => {
    ahead = new ParsedAhead(files, false);
  };
  // The catalog is read without the tables' details: sizes and the definitions of constraints and indexes
  // (most of the read's server time when the files name many existing tables). A finding that needed a detail
  // of a table (a size-bound error its size, a validated CHECK its definition) names that table, and only then
  // are those tables' details read and the files linted again, with them: the findings are those of a read
  // with every detail.
  return withSmallYoungGeneration(async () => {
    const incomplete = new Map<string, { readonly schema: string; readonly name: string }>();
    let base: RuleContextOptions;
    try {
      base = await catalogContext(client, pgVersion, textsOf(files), rules, onNote, whileWaiting, false);
    } finally {
      await ahead?.stop();
    }
    const lint = (context: RuleContextOptions, parsed?: typeof ahead) =>
      oneRun ? lintFiles(files, context, parsed) : lintEachFile(files, context, parsed);
    const findings = await lint(
      {
        ...base,
        ...(onStatementKinds ? { onStatementKinds } : {}),
        onIncompleteTable: (t) => incomplete.set(`${t.schema}.${t.name}`, t),
      },
      ahead,
    );
    if (incomplete.size === 0 || !client || !base.catalog) return findings;
    const { readTableDetails, withTableDetails } = await import('../db/catalog.js');
    const details = await readTableDetails(client, [...incomplete.values()], onNote);
    return lint({ ...base, catalog: withTableDetails(base.catalog, details) });
  });
}

export async function lockReport(
  files: readonly Migration['up'][],
  client: Client | undefined,
  pgVersion = 150000,
  onNote?: NoteSink,
): Promise<FileLocks[]> {
  const { lockReportForFiles } = await import('../sql/locks.js');
  return lockReportForFiles(files, await catalogContext(client, pgVersion, textsOf(files), undefined, onNote));
}

/** Why findings of a file at `version` do not stop a run, when the start-after version covers it. */
export function startAfterExemption(rules: LintRules | undefined, version: bigint | undefined): string | undefined {
  const after = rules?.startAfter;
  return after !== undefined && version !== undefined && version <= after
    ? `at or before ${rules?.startAfterName ?? 'startAfter'}=${after}`
    : undefined;
}

/** What the checks are told: the policies of the run (core/config). */
export type PreflightPolicy = Pick<
  RunConfig,
  'table' | 'lint' | 'lintRules' | 'production' | 'words' | 'backup' | 'backupOff'
>;

/** The production guard alone: DDL needs ALLOW_DDL_IN_PRODUCTION=true. Throws `ddl-in-production` (exit 2). */
export async function productionGuard(
  policy: Pick<RunConfig, 'production' | 'words'>,
  files: readonly PreflightFile[],
  command: string,
  known?: ReadonlyMap<string, readonly string[]>,
): Promise<void> {
  if (!policy.production || policy.production.allowDdl || files.length === 0) return;
  const { parseStatementsSync } = await import('../sql/split.js');
  const { loadParser, MAX_PARSE_CHARS } = await import('../sql/parser.js');
  await loadParser();
  const ddl: string[] = [];
  for (const { file } of files) {
    let kinds = known?.get(file.displayPath);
    if (kinds === undefined) {
      try {
        if (file.text.length > MAX_PARSE_CHARS) throw new Error('too large to parse');
        kinds = parseStatementsSync(file.text, file.displayPath).map((s) => s.kind);
      } catch {
        kinds = ['(does not parse)'];
      }
    }
    const found = kinds.filter((k) => !NOT_DDL.has(k));
    if (found.length > 0) ddl.push(`${file.displayPath} (${[...new Set(found.map(statementWords))].join(', ')})`);
  }
  if (ddl.length > 0) {
    throw usageError(
      'ddl-in-production',
      `${command}: refusing to run DDL in production: ${ddl.join('; ')}. Nothing was changed.`,
      {
        hint: `${policy.words.allowDdlInProduction} once the change has been reviewed ({{lintLocks}} shows what each statement locks).`,
      },
    );
  }
}

/** The production guard refuses a change without a backup; backup-first's check, for --dry-run. */
export function backupGuard(policy: PreflightPolicy, noBackup: boolean | undefined): void {
  const w = policy.words;
  if (!policy.production || (policy.backup && !noBackup)) return;
  const skipped = noBackup ? w.noBackup : (policy.backupOff ?? w.backupOff);
  throw usageError('backup-required-in-production', `Refusing to migrate production without a backup (${skipped}).`, {
    hint: `Let tidemark take and validate the backup, or ${w.notProduction}.`,
  });
}

/**
 * The checks before any command runs SQL (`up`, `down`, `redo`, `seed`; `--dry-run` of each runs them too
 * and fails the same way). Throws when the run must not start; returns the lint summary.
 *
 * - Production (MIGRATE_ENV=production): DDL needs ALLOW_DDL_IN_PRODUCTION=true, and
 *   the lint always runs and always stops on an unacknowledged error (--skip-lint does not apply).
 * - Elsewhere the lint runs unless --skip-lint, or the database is empty: on an empty database every object
 *   a migration touches is created by the same run, so there is nothing to lock, rewrite or lose, and
 *   bootstrapping a fresh database (every CI test database) does not pay the parser (~1 ms a file).
 * - Files are linted in the order and direction they run (a rollback file as itself), as one run.
 * - Findings of a file at or before LINT_START_AFTER, or marked exempt by the caller, are reported, not refused.
 */
export async function preflight(
  client: Client,
  policy: PreflightPolicy,
  files: readonly PreflightFile[],
  request: PreflightRequest,
  onNote?: NoteSink,
): Promise<LintSummary | undefined> {
  const production = policy.production !== undefined;
  const w = policy.words;
  // Under the guard the lint always runs: it parses first, and the guard reads the statement kinds of that
  // parse instead of parsing every file again. The guard's refusal (exit 2) still comes before the lint's.
  if (!production || request.guardOnly) await productionGuard(policy, files, request.command);
  if (request.guardOnly) return { findings: [], skipped: 'nothing runs now' };
  if (!production && !policy.lint) return undefined;

  let skipped: string | undefined;
  if (files.length === 0) {
    await productionGuard(policy, files, request.command);
    skipped = 'nothing to run';
  } else if (request.skipLint && !production) skipped = w.skipLint;
  else if (!production && (await databaseIsEmpty(client, policy.table))) skipped = 'the database has no tables yet';
  if (skipped) return { findings: [], skipped };

  const kinds = new Map<string, readonly string[]>();
  const linted = await lintMigrations(
    files.map((f) => (f.undoes ? { ...f.file, undoes: f.undoes.text } : f.file)),
    client,
    150000,
    true,
    policy.lintRules,
    (file, k) => kinds.set(file, k),
    onNote,
  );
  if (production) await productionGuard(policy, files, request.command, kinds);
  const exemptOf = new Map(
    files.map((f) => [f.file.displayPath, f.exempt ?? startAfterExemption(policy.lintRules, f.version)]),
  );
  const findings = linted.map((f) => {
    const exempt = exemptOf.get(f.file);
    return exempt === undefined ? f : { ...f, exempt };
  });
  const blocking = blockingFindings(findings);
  if (blocking.length > 0) {
    const lines = blocking.map((f) => `${f.file}:${f.line}:${f.column} ${f.rule}: ${f.message}`);
    const advice = production
      ? `Apply the safe alternative ({{lint}} shows it), or acknowledge a finding in its file: -- migrate:allow RULE -- reason. In production ${w.skipLint} does not apply.`
      : `Apply the safe alternative ({{lint}} shows it), acknowledge a finding in its file (-- migrate:allow RULE -- reason), or pass ${w.skipLint}.`;
    // A syntax error is no rule to acknowledge (ENGINE_FINDINGS in sql/lint, not imported here: the lint loads
    // lazily), and skipping the lint only moves PostgreSQL's own refusal to the run: the file needs fixing.
    const syntax = blocking.filter((f) => f.rule === 'syntax-error').length;
    const fixSql = 'Fix the SQL where the syntax error points: PostgreSQL would refuse it too.';
    throw new MigrateError(
      'lint-blocked',
      `${request.command} cannot start: ${blocking.length} unacknowledged lint error${blocking.length === 1 ? '' : 's'} (nothing was run):\n  ${lines.join('\n  ')}`,
      {
        hint: syntax === blocking.length ? fixSql : syntax > 0 ? `${fixSql} For the others: ${advice}` : advice,
        details: { findings: blocking },
      },
    );
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
  /** How the lint judges (size threshold, start-after version, per-rule severities). */
  readonly lintRules?: LintRules | undefined;
}

/**
 * `migrate lint`: the named files, else the pending migrations (every migration with --all, or offline where
 * nothing tells which are pending). Connected, rules see the live catalog; offline, they say what they could
 * not know.
 */
export async function lintReport(
  context: LintContext,
  client: Client | undefined,
  request: LintRequest,
): Promise<LintReport> {
  let files: Migration['up'][];
  let chosenVersions: [string, bigint][] = [];
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
        problems.push(
          `${name}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
        );
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
    chosenVersions = chosen.map((m) => [m.up.displayPath, m.versionNumber]);
  }
  const pgVersion = request.pgVersion ?? 150000;
  const rules = context.lintRules;
  const versions = new Map(chosenVersions);
  const findings = (await lintMigrations(files, client, pgVersion, oneRun, rules, undefined, request.onNote)).map(
    (f) => {
      const exempt = startAfterExemption(rules, versions.get(f.file));
      return exempt === undefined ? f : { ...f, exempt };
    },
  );
  const locks = request.locks ? await lockReport(files, client, pgVersion).catch(() => undefined) : undefined;
  const serverVersion = client ? await serverVersionNum(client) : pgVersion;
  return {
    files: files.map((f) => f.displayPath),
    findings,
    locks,
    mode: client ? 'database' : 'offline',
    pgVersion: serverVersion,
  };
}
