import { type Command, Option } from 'commander';
import type { CommandContext } from '../context.js';
import type { Action } from '../main.js';
import { parseVersion } from './shared.js';

export function define(program: Command, action: Action): void {
  program
    .command('test-rollback')
    .description(
      'prove every rollback restores the schema before its migration, in a scratch database created and dropped for the run',
    )
    .addOption(
      new Option(
        '--mode <mode>',
        'step: apply, roll back, compare, apply again, one migration at a time; chain: all up, all down, compare',
      )
        .choices(['step', 'chain'])
        .default('step'),
    )
    .option(
      '--from <version>',
      'start after this version: migrations up to it are applied without being tested',
      parseVersion,
    )
    .option('--from-backup [file]', 'start from a backup (default: the newest of this database in BACKUP_DIR)')
    .option('--from-schema [file]', 'start from a schema file (default: SCHEMA_FILE) at the version in its header')
    .option(
      '--idempotent',
      'also run each up a second time in a rolled-back transaction; list those that are not re-runnable',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ migrate test-rollback                          every migration, step mode, from an empty database
  $ migrate test-rollback --mode chain             all up, all down, all up again
  $ migrate test-rollback --from 0420 --json       only the rollbacks after 0420 (older ones are known broken)
  $ migrate test-rollback --from-backup            the pending migrations, on a copy of the newest backup
The role needs CREATEDB; the database of DATABASE_URL is never changed.`,
    )
    .action(action(testRollback));
}

interface Flags {
  mode: 'step' | 'chain';
  from?: string;
  fromBackup?: string | true;
  fromSchema?: string | true;
  idempotent?: boolean;
}

export async function testRollback(ctx: CommandContext, flags: Flags): Promise<number> {
  const core = await import('../../core/test-rollback.js');
  const { describeChange, describeColumnOrder } = await import('../../schema/diff.js');
  const s = ctx.settings;
  const connection = await ctx.connection();
  const migrator = await ctx.migrator();
  const migrations = await migrator.loadMigrations();
  const start = await core.rollbackStart(s, connection.database, {
    fromBackup: flags.fromBackup,
    fromSchema: flags.fromSchema,
  });
  const out = ctx.output;
  const c = out.c;
  let tested = 0;
  const report = await core.testRollback(
    {
      migrator,
      table: s.migrationsTable,
      signal: ctx.io.signal,
      connection,
      migrations,
      pgDumpPath: s.pgDumpPath,
      onEvent: (event) => {
        if (event.type === 'scratch-ready')
          void out.progress(`Testing rollbacks (${flags.mode} mode) in the scratch database ${event.database}`);
        else if (event.step.action === 'compare' && out.mode === 'tty')
          out.relabel(
            `Testing rollbacks (${flags.mode} mode): ${++tested} done, at ${event.migration?.version}_${event.migration?.name}`,
          );
      },
    },
    { mode: flags.mode, from: flags.from, start, idempotent: flags.idempotent },
  );
  out.stop();
  const ok = report.problems.length === 0;
  if (out.mode === 'json') {
    out.json({
      ok,
      ...report,
      startVersion: report.startVersion ?? null,
      start: start.kind === 'empty' ? { kind: 'empty' } : { kind: start.kind, file: start.file },
    });
    return ok ? 0 : 1;
  }
  for (const p of report.problems) {
    out.line(
      `${c.red('FAIL')} ${p.version ? `${p.version}_${p.name}` : 'chain'}: ${p.message}${p.file ? c.dim(` (${p.file})`) : ''}`,
    );
    for (const change of p.changes) out.line(`     ${describeChange(change)}`);
  }
  for (const w of report.warnings) {
    out.line(`${c.yellow('warning')} ${w.message}`);
    for (const o of w.columnOrder ?? []) out.line(`     ${describeColumnOrder(o)}`);
  }
  const n = (count: number, what: string) => `${count} ${what}${count === 1 ? '' : 's'}`;
  const from = report.startVersion ? ` after version ${report.startVersion}` : '';
  const summary = `Tested ${n(report.tested.length, 'rollback')}${from} (${report.mode} mode, ${(report.durationMs / 1000).toFixed(1)} s): ${n(report.problems.length, 'failure')}, ${n(report.warnings.length, 'warning')}.`;
  out.line(ok ? c.green(summary) : c.red(summary));
  if (report.notTested.length > 0)
    out.line(
      `Not tested (the scratch database was unusable after the failure): ${report.notTested.map((m) => `${m.version}_${m.name}`).join(', ')}.`,
    );
  return ok ? 0 : 1;
}
