import type { Command } from 'commander';
import type { VerifyFinding as Finding } from '../../index.js';
import { relative } from 'node:path';
import type { CommandContext } from '../context.js';
import type { Action } from '../main.js';
import { formatOption, reportToCi } from './shared.js';
import { reportFormat, verifyItems, type ReportFormat } from '../reporters.js';

export function define(program: Command, action: Action): void {
  program
    .command('verify')
    .description(
      'CI / post-deploy gate: drift, dirty, missing files, missing rollbacks, order, pending (exit 1 on an error)',
    )
    .option('--no-pending', 'pending migrations are errors (a post-deploy check: everything should have run)')
    .option('--allow-missing-rollback', 'a migration without a rollback file is a warning, not an error')
    .option('--allow-out-of-order', 'an out-of-order pending migration is a warning, not an error')
    .addOption(formatOption())
    .addHelpText(
      'after',
      `
Examples:
  $ migrate verify                        before deploying: is the history what the files say?
  $ migrate verify --no-pending           after deploying: and did everything run?
  $ migrate verify --json | jq '.findings[] | select(.severity == "error")'
  $ migrate verify --format github        annotations on the migration files (GitHub Actions)
  $ migrate verify --format gitlab > gl-code-quality-report.json`,
    )
    .action(action(verify));
}

interface VerifyFlags {
  pending?: boolean;
  allowMissingRollback?: boolean;
  allowOutOfOrder?: boolean;
  format?: ReportFormat;
}

export async function verify(ctx: CommandContext, flags: VerifyFlags): Promise<number> {
  const format = reportFormat(flags, ctx.flags.json);
  const s = ctx.settings;
  const migrator = await ctx.migrator();
  const report = await migrator.verify({
    noPending: flags.pending === false,
    allowMissingRollback: flags.allowMissingRollback,
    allowOutOfOrder: flags.allowOutOfOrder,
    rollbackDir: relative(s.cwd, s.rollbackDir) || s.rollbackDir,
  });
  const out = ctx.output;
  const n = (count: number, what: string) => `${count} ${what}${count === 1 ? '' : 's'}`;
  const summary = `Verified ${n(report.checked, 'migration')}: ${n(report.errors, 'error')}, ${n(report.warnings, 'warning')}.`;
  const exitCode = report.errors > 0 ? 1 : 0;
  if (reportToCi(ctx, format, 'verify', () => verifyItems(report.findings), summary)) return exitCode;
  if (out.mode === 'json') {
    out.json({ findings: report.findings });
  } else {
    const c = out.c;
    const mark = (f: Finding) => (f.severity === 'error' ? c.red('error  ') : c.yellow('warning'));
    for (const f of report.findings)
      out.line(`${mark(f)} ${f.version} ${c.dim(f.code)}: ${f.message}${f.file ? c.dim(` (${f.file})`) : ''}`);
    if (report.findings.length > 0) out.line();
    out.line(report.errors > 0 ? c.red(summary) : summary);
  }
  return exitCode;
}
