import type { Command } from 'commander';
import { listSeeds } from '../../source/files.js';
import type { CommandContext } from '../context.js';
import type { Action } from '../main.js';

export function define(program: Command, action: Action): void {
  program
    .command('seed')
    .description('run seeds/NAME.sql in one transaction; without NAME, list the seeds')
    .argument('[name]', 'the seed file name without .sql, e.g. development')
    .option('--force', 'run even when MIGRATE_ENV=production')
    .addHelpText(
      'after',
      `
Examples:
  $ migrate seed               list seeds/*.sql
  $ migrate seed development   run seeds/development.sql`,
    )
    .action(action(seed));
}

export async function seed(ctx: CommandContext, flags: { force?: boolean }, name?: string): Promise<number> {
  const out = ctx.output;
  if (name === undefined) {
    // Listing needs no database.
    const seeds = await listSeeds(ctx.settings.seedsDir);
    if (out.mode === 'json') out.json({ seeds });
    else if (seeds.length === 0) out.line(`No seeds in ${ctx.settings.seedsDir}.`);
    else for (const s of seeds) out.line(s);
    return 0;
  }
  const migrator = await ctx.migrator();
  const result = await migrator.seed(name, { force: flags.force });
  if (out.mode === 'json') out.json(result);
  else out.line(`Seeded ${result.file} in ${result.executionMs} ms.`);
  return 0;
}
