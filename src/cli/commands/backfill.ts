import { type Command, InvalidArgumentError } from 'commander';
import type { CommandContext } from '../context.js';
import type { Action } from '../main.js';
import { parseCount } from './shared.js';

export function define(program: Command, action: Action): void {
  program
    .command('backfill')
    .description(
      'update a large table in short batches walked by primary key: resumable, throttled, stops cleanly on SIGTERM',
    )
    .argument('<table>', 'the table, e.g. users or app.users (walked by its primary key, one or more columns)')
    .requiredOption(
      '--set <assignments>',
      'what follows SET in an UPDATE, e.g. "full_name = first_name || \' \' || last_name"',
    )
    .option('--where <condition>', 'update only rows matching this, e.g. "full_name is null"')
    .option('--batch-size <n>', 'keys per batch (default 1000)', parseCount, 1000)
    .option(
      '--pause <duration>',
      'pause between batches: seconds or with a unit, e.g. 0.1 or 100ms (default 100ms)',
      parseDuration,
      100,
    )
    .option(
      '--max-lag <duration>',
      'wait while a replica replays further behind than this, e.g. 10 (seconds)',
      parseDuration,
    )
    .option('--name <name>', 'the name its progress is kept under (default: the table and a hash of --set/--where)')
    .option('--restart', 'forget recorded progress and start from the first key')
    .addHelpText(
      'after',
      `
Progress is kept in <tracking table>_backfills, updated in the same statement as each batch: after a crash
or kill the same command resumes after the last finished batch. SIGTERM or Ctrl-C finish the running batch
and stop (exit 143/130); run it again to resume.

Examples:
  $ migrate backfill users --set "full_name = first_name || ' ' || last_name" --where "full_name is null"
  $ migrate backfill app.orders --set "total_cents = (total * 100)::bigint" --batch-size 5000 --pause 50ms --max-lag 5`,
    )
    .action(action(backfill));
}

function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|min)?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError('use seconds (0.5) or a unit (100ms, 2s, 1min).');
  const n = Number(m[1]);
  const unit = m[2]?.toLowerCase();
  return Math.round(unit === 'ms' ? n : unit === 'min' ? n * 60_000 : n * 1000);
}

interface BackfillFlags {
  set: string;
  where?: string;
  batchSize: number;
  pause: number;
  maxLag?: number;
  name?: string;
  restart?: boolean;
}

export async function backfill(ctx: CommandContext, flags: BackfillFlags, table: string): Promise<number> {
  const out = ctx.output;
  const migrator = await ctx.migrator();
  const result = await migrator.backfill({
    table,
    set: flags.set,
    where: flags.where,
    batchSize: flags.batchSize,
    pauseMs: flags.pause,
    maxLagMs: flags.maxLag,
    name: flags.name,
    restart: flags.restart,
  });
  out.stop();
  if (out.mode === 'json') {
    out.json(result);
    return 0;
  }
  const rows = `${result.rowsDone.toLocaleString('en-US')} rows walked, ${result.rowsUpdated.toLocaleString('en-US')} updated, in ${result.batches} batches`;
  if (result.status === 'already-finished')
    out.line(`Backfill ${result.name} already finished earlier (${rows}); --restart runs it again.`);
  else if (result.status === 'stopped')
    out.line(
      `Backfill ${result.name} stopped by ${result.stoppedBy} after its running batch (${rows}); run the same command to resume.`,
    );
  else out.line(`Backfill ${result.name} finished: ${rows} (this run ${(result.durationMs / 1000).toFixed(1)} s).`);
  return 0;
}
