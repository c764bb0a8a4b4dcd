import type { Command } from 'commander';
import type { RepairPlan } from '../../index.js';
import { usageError } from '../../errors.js';
import type { CommandContext } from '../context.js';
import type { Action } from '../main.js';
import { parseVersion } from './shared.js';

export function define(program: Command, action: Action): void {
  program
    .command('repair')
    .description('after a manual fix: clear a dirty mark, or accept a changed checksum (recorded, asks first)')
    .argument('<version>', 'the migration to repair, e.g. 003', parseVersion)
    .option(
      '--rerun',
      'for a dirty migration whose partial effects you undid by hand: forget it, so the next up runs it again',
    )
    .addHelpText(
      'after',
      `
A dirty migration stopped part-way outside a transaction. Look at the database first:
  finished it by hand?      migrate repair 003          (marks it applied)
  undid what it had done?   migrate repair 003 --rerun  (the next migrate up runs it from the start)
An applied migration whose file was edited on purpose:
  $ migrate repair 002      (records the file's new checksum)
Every repair is recorded in <tracking table>_repairs; migrate status shows them.
Without a terminal (CI, scripts) add --yes once you checked.`,
    )
    .action(action(repair));
}

async function confirm(ctx: CommandContext, question: string): Promise<boolean> {
  // Loaded here, not at the top: only a prompt needs readline, and every command's start-up would pay for it.
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: ctx.io.stdin, output: ctx.io.stderr as NodeJS.WritableStream, terminal: false });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

function resultJson(plan: RepairPlan | undefined): Record<string, unknown> {
  return { repaired: plan ?? null };
}

export async function repair(ctx: CommandContext, flags: { rerun?: boolean }, version: string): Promise<number> {
  const out = ctx.output;
  const migrator = await ctx.migrator();
  const options = { rerun: flags.rerun };
  const plan = await migrator.previewRepair(version, options);
  if (!plan) {
    if (out.mode === 'json') out.json(resultJson(undefined));
    else out.line(`${version} is applied, clean and unchanged: nothing to repair.`);
    return 0;
  }
  if (!ctx.flags.yes) {
    if (!ctx.interactive) {
      const ci = Boolean(ctx.io.env.CI) && ctx.io.env.CI !== 'false';
      throw usageError(
        'confirmation-required',
        `migrate repair would ${plan.description}; it changes the history, and there is no terminal to confirm on${ci ? ' (CI is set)' : ''}. Nothing was changed.`,
        {
          hint: `Check the database, then run it again with --yes: migrate repair ${version}${flags.rerun ? ' --rerun' : ''} --yes`,
        },
      );
    }
    if (!(await confirm(ctx, `This will ${plan.description}.\nIt is recorded in the repairs log. Go ahead?`))) {
      out.info('Nothing was changed.');
      if (out.mode === 'json') out.json({ ...resultJson(undefined), declined: true });
      return 1;
    }
  }
  const done = await migrator.repair(plan, options);
  if (out.mode === 'json') out.json(resultJson(done));
  else
    out.line(
      `Repaired ${done.version}_${done.name}: ${done.description}. Recorded in the repairs log (migrate status shows it).`,
    );
  return 0;
}
