import { Option, InvalidArgumentError, type Command } from 'commander';
import type { TableRef } from '../../config/settings.js';
import { FOREIGN_TOOLS, type ForeignTool } from '../../db/foreign-history.js';
import { describeTable } from '../../db/history.js';
import { usageError } from '../../errors.js';
import type { CommandContext } from '../context.js';
import type { Action } from '../main.js';
import { parseVersion } from './shared.js';

function parseTable(value: string): TableRef {
  const parts = value.split('.');
  if (parts.length > 2 || !parts.every((p) => /^[A-Za-z_][A-Za-z0-9_$]*$/.test(p))) {
    throw new InvalidArgumentError('use name or schema.name (letters, digits, _).');
  }
  return parts.length === 2 ? { schema: parts[0]!, table: parts[1]! } : { schema: 'public', table: parts[0]! };
}

export function define(program: Command, action: Action): void {
  program
    .command('baseline')
    .description('adopt an existing database: record migrations as applied without running them')
    .argument('[version]', 'every migration up to and including this version is already in the database', parseVersion)
    .addOption(
      new Option('--from <tool>', "read that tool's history table (read-only) to know what is applied").choices(
        FOREIGN_TOOLS,
      ),
    )
    .option('--from-table <table>', "that tool's table when not its default (schema.name)", parseTable)
    .option('--dry-run', 'show what would be recorded; change nothing')
    .addHelpText(
      'after',
      `
Examples:
  $ migrate baseline 012                       the database already has 001..012
  $ MIGRATIONS_TABLE=tidemark_migrations migrate baseline --from golang-migrate
  $ migrate baseline --from flyway --dry-run
golang-migrate and dbmate keep their history in schema_migrations, tidemark's default name: set MIGRATIONS_TABLE
to another name first. The other tool's table is only read, never changed.`,
    )
    .action(action(baseline));
}

interface BaselineFlags {
  from?: ForeignTool;
  fromTable?: TableRef;
  dryRun?: boolean;
}

export async function baseline(ctx: CommandContext, flags: BaselineFlags, version?: string): Promise<number> {
  if (version !== undefined && flags.from !== undefined)
    throw usageError('conflicting-flags', 'Give either a version or --from TOOL, not both.');
  if (version === undefined && flags.from === undefined)
    throw usageError(
      'baseline-no-version',
      'Say what the database already has: migrate baseline V, or migrate baseline --from TOOL.',
    );
  if (flags.fromTable !== undefined && flags.from === undefined)
    throw usageError('conflicting-flags', '--from-table needs --from TOOL.');
  const migrator = await ctx.migrator();
  const result = await migrator.baseline({
    version,
    from: flags.from,
    fromTable: flags.fromTable,
    dryRun: flags.dryRun,
  });
  const out = ctx.output;
  const names = (ms: readonly { version: string; name: string }[]) =>
    ms.map((m) => `${m.version}_${m.name}`).join(', ');
  if (out.mode === 'json') {
    out.json({
      version: result.version,
      dryRun: result.dryRun,
      from: result.from ?? null,
      foreignTable: result.foreignTable ? describeTable(result.foreignTable) : null,
      recorded: result.record.map((m) => ({ version: m.version, name: m.name, file: m.up.displayPath })),
      leftPending: result.leftPending.map((m) => ({ version: m.version, name: m.name, file: m.up.displayPath })),
      suggestedSetting: startAfterLine(ctx, result.version) ?? null,
    });
    return 0;
  }
  const source = result.from
    ? ` from ${result.from}'s history (${describeTable(result.foreignTable!)}, read only)`
    : '';
  const n = result.record.length;
  out.line(
    `${result.dryRun ? 'Would baseline' : 'Baselined'} at version ${result.version}${source}: ${result.dryRun ? 'would record' : 'recorded'} ${n} migration${n === 1 ? '' : 's'} as applied without running ${n === 1 ? 'it' : 'them'}: ${names(result.record)}.`,
  );
  if (result.leftPending.length > 0) {
    out.info(
      out.c.yellow(
        `${result.from} never applied ${names(result.leftPending)}: ${result.leftPending.length === 1 ? 'it stays' : 'they stay'} pending, out of order (migrate up --allow-out-of-order runs ${result.leftPending.length === 1 ? 'it' : 'them'}).`,
      ),
    );
  }
  if (!result.dryRun) out.line('migrate status shows the history; migrate up runs what is newer.');
  const line = startAfterLine(ctx, result.version);
  if (line) {
    out.line(
      `The lint judges files written before tidemark by today's rules; to report them without refusing them (after a down, or with migrate lint --all), add to .env.migrations:\n  ${line}`,
    );
  }
  return 0;
}

/** The LINT_START_AFTER line that covers an adopted history up to `version`, unless it is set that far already. */
function startAfterLine(ctx: CommandContext, version: string | undefined): string | undefined {
  if (version === undefined) return undefined;
  const current = ctx.settings.lintStartAfter;
  return current !== undefined && current >= BigInt(version) ? undefined : `LINT_START_AFTER=${version}`;
}
