import type { Command } from 'commander';
import { createMigration } from '../../source/create.js';
import type { CommandContext } from '../context.js';
import type { Action } from '../main.js';

export function define(program: Command, action: Action): void {
  program
    .command('create')
    .description('write the next migration file and its rollback file')
    .argument('<name>', 'what the migration does, e.g. add_email_to_users')
    .option('--timestamp', 'use a UTC timestamp (yyyymmddhhmmss) as the version instead of the next number')
    .addHelpText(
      'after',
      `
Examples:
  $ migrate create add_email_to_users             migrations/005_add_email_to_users.sql + rollback/005_..._rollback.sql
  $ migrate create "add order status" --timestamp  migrations/20261125093000_add_order_status.sql`,
    )
    .action(action(create));
}

export async function create(ctx: CommandContext, flags: { timestamp?: boolean }, name: string): Promise<number> {
  const s = ctx.settings;
  const created = await createMigration(
    { migrationsDir: s.migrationsDir, rollbackDir: s.rollbackDir, cwd: s.cwd },
    name,
    flags,
  );
  if (ctx.output.mode === 'json') ctx.output.json(created);
  else {
    ctx.output.line(`Created ${created.up}`);
    ctx.output.line(`Created ${created.down}`);
  }
  return 0;
}
