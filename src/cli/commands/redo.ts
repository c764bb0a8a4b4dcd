import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import type { Action } from '../main.js';
import { renderRunSummary, runResultJson } from '../render.js';
import { lockWait } from './up.js';
import { parseWait, refreshSchemaFile } from './shared.js';

export function define(program: Command, action: Action): void {
  program
    .command('redo')
    .description('roll back the newest migration and apply it again (checks its rollback while you write it)')
    .option('--no-backup', 'do not take a backup first')
    .option('--dry-run', 'run the checks (lint of the rollback and the migration, production guard); change nothing')
    .option(
      '--skip-lint',
      'do not refuse unacknowledged lint errors in the rollback file (reported; not in production)',
    )
    .option('--wait [seconds]', "wait this long for another runner's lock", parseWait)
    .addHelpText('after', '\nExample:\n  $ migrate redo')
    .action(action(redo));
}

export async function redo(
  ctx: CommandContext,
  flags: { wait?: number | true; backup?: boolean; dryRun?: boolean; skipLint?: boolean },
): Promise<number> {
  const migrator = await ctx.migrator({ lockWaitMs: lockWait(ctx, flags.wait) });
  const { down, up } = await migrator.redo({
    noBackup: flags.backup === false,
    dryRun: flags.dryRun,
    skipLint: flags.skipLint,
  });
  await refreshSchemaFile(ctx, !flags.dryRun);
  if (ctx.output.mode === 'json') ctx.output.json({ down: runResultJson(down), up: runResultJson(up) });
  else {
    renderRunSummary(ctx.output, down);
    renderRunSummary(ctx.output, up);
  }
  return 0;
}
