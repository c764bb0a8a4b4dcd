import type { Command } from 'commander';
import type { CheckStatus } from '../../core/doctor.js';
import type { CommandContext } from '../context.js';
import type { Action } from '../main.js';

export function define(program: Command, action: Action): void {
  program
    .command('doctor')
    .description('check what an init container or CI step needs, one line per check (exit 1 when one fails)')
    .addHelpText(
      'after',
      `
Checks: settings parse, migrations load, the database answers, the role can create (or write) the tracking
table and take advisory locks, no transaction-mode pooler (PgBouncer) is in between, pg_dump can dump the
server, the backup folder is writable with room. Nothing is left behind.

Examples:
  $ migrate doctor
  $ migrate doctor --json | jq '.checks[] | select(.status == "fail")'`,
    )
    .action(action(doctor));
}

export async function doctor(ctx: CommandContext): Promise<number> {
  // Loaded on use: every pod start parses the CLI bundle, and only this command needs the checks.
  const { doctor: runDoctor } = await import('../../core/doctor.js');
  const report = await runDoctor({ settings: () => ctx.settings, connection: () => ctx.connection() });
  const out = ctx.output;
  if (out.mode === 'json') {
    out.json({
      ok: report.ok,
      checks: report.checks.map((c) => ({ id: c.id, status: c.status, message: c.message, hint: c.hint ?? null })),
    });
  } else {
    const c = out.c;
    const label: Record<CheckStatus, string> = {
      ok: c.green('ok  '),
      warn: c.yellow('warn'),
      fail: c.red('FAIL'),
      skip: c.dim('skip'),
    };
    const width = Math.max(...report.checks.map((check) => check.id.length));
    for (const check of report.checks) {
      out.line(`${label[check.status]}  ${check.id.padEnd(width)}  ${check.message}`);
      if (check.hint && check.status !== 'ok') out.line(`      ${' '.repeat(width)}  ${c.cyan('→')} ${check.hint}`);
    }
    const failed = report.checks.filter((check) => check.status === 'fail').length;
    out.line();
    out.line(
      failed === 0
        ? c.green(`All checks passed (${report.checks.length}).`)
        : c.red(`${failed} of ${report.checks.length} checks failed.`),
    );
  }
  return report.ok ? 0 : 1;
}
