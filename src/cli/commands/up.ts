import { type Command, Option } from 'commander';
import { DEFAULT_LOCK_WAIT_MS } from '../../index.js';
import type { CommandContext } from '../context.js';
import type { Action } from '../main.js';
import { parseCount, parseVersion, parseWait, reportRun } from './shared.js';

export function define(program: Command, action: Action): void {
  program
    .command('up')
    .description('apply pending migrations, oldest first, each in its own transaction')
    .option('--to <version>', 'apply up to and including this version', parseVersion)
    .option('--step <n>', 'apply at most N migrations', parseCount)
    .option('--dry-run', 'list what would run and run the same checks (lint, production guard); change nothing')
    .addOption(
      new Option(
        '--phase <phase>',
        'expand: stop before the first -- migrate:phase contract migration; contract: apply everything',
      ).choices(['expand', 'contract']),
    )
    .option('--allow-out-of-order', 'also apply pending migrations older than the newest applied one')
    .option('--no-backup', 'do not take a backup first (said in the output; refused in production)')
    .option(
      '--from-start',
      'run a dirty -- migrate:no-transaction migration from its first statement instead of resuming where it failed',
    )
    .option('--skip-lint', 'do not refuse unacknowledged lint errors (reported; not in production)')
    .option(
      '--wait [seconds]',
      `wait this long for another runner's lock (default ${DEFAULT_LOCK_WAIT_MS / 1000} s; bare --wait: MIGRATION_TIMEOUT)`,
      parseWait,
    )
    .addHelpText(
      'after',
      `
Examples:
  $ migrate up                     apply everything pending
  $ migrate up --to 004            apply up to version 004
  $ migrate up --step 1 --dry-run  show the next migration and the locks it takes, without running it
  $ migrate up --phase expand      before deploying new code (expand/contract)
  $ migrate up --embedded          try it on a local PostgreSQL 15`,
    )
    .action(action(up));
}

interface UpFlags {
  to?: string;
  step?: number;
  dryRun?: boolean;
  backup?: boolean;
  wait?: number | true;
  allowOutOfOrder?: boolean;
  skipLint?: boolean;
  phase?: 'expand' | 'contract';
  fromStart?: boolean;
}

export async function up(ctx: CommandContext, flags: UpFlags): Promise<number> {
  const migrator = await ctx.migrator({ lockWaitMs: lockWait(ctx, flags.wait) });
  const result = await migrator.up({
    to: flags.to,
    step: flags.step,
    dryRun: flags.dryRun,
    allowOutOfOrder: flags.allowOutOfOrder,
    skipLint: flags.skipLint,
    phase: flags.phase,
    fromStart: flags.fromStart,
    noBackup: flags.backup === false,
  });
  return reportRun(ctx, result);
}

export function lockWait(ctx: CommandContext, wait: number | true | undefined): number {
  if (wait === undefined) return DEFAULT_LOCK_WAIT_MS;
  if (wait === true) return ctx.settings.migrationTimeoutSeconds * 1000;
  return wait * 1000;
}
