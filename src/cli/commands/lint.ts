import { type Command, InvalidArgumentError } from 'commander';
import { blockingFindings } from '../../index.js';
import type { CommandContext } from '../context.js';
import type { Action } from '../main.js';
import { formatOption, reportToCi } from './shared.js';
import { findingJson, renderFinding, renderLocks } from '../render.js';
import { lintItems, reportFormat, type ReportFormat } from '../reporters.js';

export function define(program: Command, action: Action): void {
  program
    .command('lint')
    .description('safety findings (and with --locks, the lock each statement takes) for pending or given migrations')
    .argument('[files...]', 'SQL files to lint (default: the pending migrations)')
    .option('--all', 'lint every migration, not only the pending ones')
    .option('--locks', 'also report the lock each statement takes, on which table, and whether it rewrites or scans it')
    .option(
      '--pg-version <major>',
      `server version to assume offline, ${LINT_PG_VERSIONS.min} to ${LINT_PG_VERSIONS.max} (default 15; connected, the server says)`,
      parsePgVersion,
    )
    .option('--offline', 'do not connect, even when DATABASE_URL is set')
    .addOption(formatOption())
    .addHelpText(
      'after',
      `
Without a database (no DATABASE_URL, or --offline) every migration is linted against --pg-version.
Acknowledge a finding in its file, before the first statement:  -- migrate:allow RULE -- reason

Examples:
  $ migrate lint                               pending migrations, against the live catalog
  $ migrate lint --offline --all --pg-version 16
  $ migrate lint migrations/007_add_index.sql --locks
  $ migrate lint --json | jq '.findings[] | select(.severity == "error")'
  $ migrate lint --format github               annotations on the pull request's diff (GitHub Actions)
  $ migrate lint --format gitlab > gl-code-quality-report.json`,
    )
    .action(action(lint));
}

/** The majors the lint can judge: its rules know 10 and later, and it parses with PostgreSQL 17's grammar. */
export const LINT_PG_VERSIONS = { min: 10, max: 17 } as const;

function parsePgVersion(value: string): number {
  const { min, max } = LINT_PG_VERSIONS;
  const major = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!(major >= min && major <= max)) {
    throw new InvalidArgumentError(
      `use a major version from ${min} to ${max}: tidemark parses with PostgreSQL ${max}'s grammar and knows nothing newer.`,
    );
  }
  return major * 10000;
}

interface LintFlags {
  all?: boolean;
  locks?: boolean;
  pgVersion?: number;
  offline?: boolean;
  format?: ReportFormat;
}

export async function lint(ctx: CommandContext, flags: LintFlags, files: string[] = []): Promise<number> {
  const format = reportFormat(flags, ctx.flags.json);
  const s = ctx.settings;
  const connected =
    !flags.offline &&
    (s.databaseUrl !== undefined ||
      s.embedded ||
      s.libpqEnv.PGHOST !== undefined ||
      s.libpqEnv.PGDATABASE !== undefined);
  const migrator = await ctx.migrator({ offline: !connected });
  const report = await migrator.lint({
    files,
    all: flags.all || !connected,
    locks: flags.locks,
    pgVersion: flags.pgVersion,
    offline: !connected,
  });
  const blocking = blockingFindings(report.findings);
  const out = ctx.output;
  const errors = blocking.length;
  const warnings = report.findings.filter(
    (f) => (f.severity === 'warning' || f.exempt !== undefined) && !f.acknowledged,
  ).length;
  const summary =
    `${report.files.length} file${report.files.length === 1 ? '' : 's'} linted (${report.mode === 'database' ? 'against the database' : `offline, PostgreSQL ${Math.floor(report.pgVersion / 10000)}`}): ` +
    `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}.`;
  const exitCode = blocking.length > 0 ? 1 : 0;
  if (reportToCi(ctx, format, 'lint', () => lintItems(report.findings), summary)) return exitCode;
  if (out.mode === 'json') {
    out.json({
      findings: report.findings.map(findingJson),
      ...(report.locks ? { locks: report.locks } : {}),
      files: report.files,
      mode: report.mode,
      pgVersion: report.pgVersion,
    });
  } else {
    for (const f of report.findings) renderFinding(out, f);
    if (report.locks) {
      if (report.findings.length > 0) out.line();
      renderLocks(out, report.locks);
    }
    out.info(summary);
  }
  return exitCode;
}
