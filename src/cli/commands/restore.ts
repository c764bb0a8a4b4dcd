import type { Command } from 'commander';
import type { RestoreResult } from '../../index.js';
import { usageError } from '../../errors.js';
import type { CommandContext } from '../context.js';
import type { Action } from '../main.js';

export function define(program: Command, action: Action): void {
  program
    .command('restore')
    .description('restore a backup file into a new database and check it (--force: replace an existing one)')
    .argument('<file>', 'a backup written by migrate backup (pg_dump -Fc)')
    .requiredOption('--into <database>', 'the database to restore into (created when absent)')
    .option(
      '--force',
      'replace an existing non-empty database (asks you to type its name, or --yes); the old one is kept renamed',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ migrate restore backups/app_20240115T103005Z_004.dump --into app_check
  $ migrate restore backups/app_20240115T103005Z_004.dump --into app --force   (asks for the name)`,
    )
    .action(action(restore));
}

async function typedConfirmation(ctx: CommandContext, database: string): Promise<boolean> {
  // Loaded here, not at the top: only a prompt needs readline, and every command's start-up would pay for it.
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: ctx.io.stdin, output: ctx.io.stderr as NodeJS.WritableStream, terminal: false });
  try {
    const answer = await rl.question(
      `This replaces the database "${database}" with the backup (the current one is kept under a new name).\nType the database name to go ahead: `,
    );
    return answer.trim() === database;
  } finally {
    rl.close();
  }
}

function resultJson(file: string, r: RestoreResult): Record<string, unknown> {
  return {
    file,
    database: r.database,
    created: r.created,
    previousDatabase: r.previousDatabase ?? null,
    tables: r.tables.length,
    version: r.version,
    durationMs: r.durationMs,
  };
}

export async function restore(
  ctx: CommandContext,
  flags: { into: string; force?: boolean },
  file: string,
): Promise<number> {
  const out = ctx.output;
  const migrator = await ctx.migrator();
  if (flags.force && !ctx.flags.yes) {
    if (!ctx.interactive) {
      throw usageError(
        'confirmation-required',
        `migrate restore --force would replace the database "${flags.into}", and there is no terminal to confirm on. Nothing was changed.`,
        {
          hint: `Run it again with --yes once you are sure: migrate restore ${file} --into ${flags.into} --force --yes`,
        },
      );
    }
    if (!(await typedConfirmation(ctx, flags.into))) {
      out.info('The name did not match; nothing was changed.');
      return 1;
    }
  }
  await out.progress(`Restoring ${file} into ${flags.into}`);
  const result = await migrator.restore({ file, into: flags.into, force: flags.force });
  out.done(
    `restored into ${result.database} ${out.c.dim(`(${result.tables.length} tables checked, ${(result.durationMs / 1000).toFixed(1)} s)`)}`,
  );
  if (out.mode === 'json') {
    out.json({ restore: resultJson(file, result) });
    return 0;
  }
  out.line(
    `The database ${result.database} is at ${result.version === null ? 'no version (its tracking table is empty or absent)' : `version ${result.version}`}.`,
  );
  if (result.previousDatabase)
    out.line(
      `The previous ${result.database} is kept as ${result.previousDatabase}; drop it when you no longer need it.`,
    );
  return 0;
}
