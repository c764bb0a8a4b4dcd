import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import type { CommandContext } from '../context.js';
import type { Action } from '../main.js';
import { lockWait } from './up.js';
import { parseCount, parseVersion, parseWait, reportRun } from './shared.js';

export function define(program: Command, action: Action): void {
  program
    .command('down')
    .description('roll back applied migrations, newest first (default: one)')
    .option('--step <n>', 'roll back N migrations', parseCount)
    .option('--to <version>', 'roll back everything newer than this version (it stays applied)', parseVersion)
    .option('--all', 'roll back every applied migration')
    .option(
      '--dry-run',
      'list what would be rolled back and run the same checks (lint, production guard); change nothing',
    )
    .option(
      '--skip-lint',
      'do not refuse unacknowledged lint errors in the rollback files (reported; not in production)',
    )
    .option('--no-backup', 'do not take a backup first (said in the output)')
    .option('--wait [seconds]', "wait this long for another runner's lock", parseWait)
    .addHelpText(
      'after',
      `
Examples:
  $ migrate down                 roll back the newest migration
  $ migrate down --step 3        roll back three
  $ migrate down --to 002        roll back everything after 002
  $ migrate down --all --dry-run show what a full rollback would run`,
    )
    .action(action(down));
}

interface DownFlags {
  step?: number;
  to?: string;
  all?: boolean;
  dryRun?: boolean;
  skipLint?: boolean;
  backup?: boolean;
  wait?: number | true;
}

export async function down(ctx: CommandContext, flags: DownFlags): Promise<number> {
  const chosen = [flags.step !== undefined, flags.to !== undefined, Boolean(flags.all)].filter(Boolean).length;
  if (chosen > 1) throw usageError('conflicting-flags', 'Use only one of --step, --to and --all.');
  const migrator = await ctx.migrator({ lockWaitMs: lockWait(ctx, flags.wait) });
  const result = await migrator.down({
    step: flags.step,
    to: flags.to,
    all: flags.all,
    dryRun: flags.dryRun,
    skipLint: flags.skipLint,
    noBackup: flags.backup === false,
  });
  return reportRun(ctx, result);
}
