import type { Command } from 'commander';
import type { RepairRow, ResumePoint, StatusEntry } from '../../index.js';
import type { CommandContext } from '../context.js';
import type { Action } from '../main.js';

export function define(program: Command, action: Action): void {
  program
    .command('status')
    .description('every known migration and its state: applied, pending, changed, missing, dirty')
    .option('--exit-code', 'exit 1 while any migration is pending or dirty (a deploy gate); 0 when all have run')
    .addHelpText(
      'after',
      `
Examples:
  $ migrate status
  $ migrate status --json | jq '.migrations[] | select(.state != "applied")'
  $ migrate status --exit-code > /dev/null && echo "schema ready"`,
    )
    .action(action(status));
}

export function statusJson(
  entries: readonly StatusEntry[],
  resumePoints: readonly ResumePoint[] = [],
): Record<string, unknown> {
  const resume = new Map(resumePoints.map((p) => [p.version, p]));
  return {
    migrations: entries.map((e) => ({
      version: e.version,
      name: e.name,
      state: e.state,
      appliedAt: e.row?.appliedAt.toISOString() ?? null,
      executionMs: e.row?.executionMs ?? null,
      appliedBy: e.row?.appliedBy ?? null,
      file: e.migration?.up.displayPath ?? null,
      rollbackFile: e.migration?.downDisplayPath ?? null,
      checksum: e.migration?.checksum ?? null,
      appliedChecksum: e.row?.checksum ?? null,
      outOfOrder: e.outOfOrder,
      resume: resumeJson(resume.get(e.version)),
    })),
  };
}

/** A dirty migration's resume point (null for every other state). */
function resumeJson(p: ResumePoint | undefined): Record<string, unknown> | null {
  if (!p) return null;
  return {
    resumable: p.resumable,
    statementsDone: p.statementsDone ?? null,
    statements: p.statements ?? null,
    nextStatement: p.nextStatement ?? null,
    nextLine: p.nextLine ?? null,
    nextText: p.nextText ?? null,
    ranUnchanged: p.ranUnchanged ?? null,
    next: p.next,
  };
}

export function repairsJson(repairs: readonly RepairRow[]): Record<string, unknown>[] {
  return repairs.map((r) => ({
    version: r.version,
    action: r.action,
    repairedAt: r.repairedAt.toISOString(),
    repairedBy: r.repairedBy,
    dbUser: r.dbUser,
    wasDirty: r.wasDirty,
    oldChecksum: r.oldChecksum,
    newChecksum: r.newChecksum,
  }));
}

function repairLine(r: RepairRow): string {
  const when = r.repairedAt.toISOString().replace('T', ' ').slice(0, 19);
  const what =
    r.action === 'accept-checksum'
      ? `accepted a changed checksum (${r.oldChecksum?.slice(0, 12)} -> ${r.newChecksum?.slice(0, 12)})`
      : r.action === 'clear-dirty'
        ? 'cleared the dirty mark (finished by hand)'
        : r.action === 'rerun'
          ? 'forgot a dirty run (to run again)'
          : 'baselined (recorded as applied without running)';
  return `  ${when}  ${r.version}  ${what}, by ${r.repairedBy} (database user ${r.dbUser})`;
}

/** States that mean the database has not caught up with the files: what `--exit-code` gates on. */
const NOT_RUN = new Set(['pending', 'dirty']);

interface StatusFlags {
  exitCode?: boolean;
}

export async function status(ctx: CommandContext, flags: StatusFlags = {}): Promise<number> {
  const migrator = await ctx.migrator();
  const report = await migrator.status();
  const repairs = report.repairs;
  const out = ctx.output;
  // dbmate's `status --exit-code` convention: 1 while anything is left to run, so a deploy gate is one command.
  const notRun = report.entries.filter((e) => NOT_RUN.has(e.state)).length;
  const code = flags.exitCode && notRun > 0 ? 1 : 0;
  if (code !== 0)
    out.info(`${notRun} migration${notRun === 1 ? '' : 's'} not run yet (pending or dirty): exit 1 (--exit-code).`);
  if (out.mode === 'json') {
    out.json({ ...statusJson(report.entries, report.resumePoints), repairs: repairsJson(repairs) });
    return code;
  }
  if (report.entries.length === 0) {
    out.line('No migrations yet: migrate create NAME writes the first one.');
    return code;
  }
  const c = out.c;
  const paint: Record<string, (s: string) => string> = {
    applied: c.green,
    pending: c.yellow,
    changed: c.red,
    missing: c.red,
    dirty: c.red,
  };
  const resume = new Map(report.resumePoints.map((p) => [p.version, p]));
  const stateOf = (e: StatusEntry): string => {
    const p = resume.get(e.version);
    const at =
      p?.statementsDone !== undefined && p.statements !== undefined
        ? ` (${p.statementsDone} of ${p.statements} done)`
        : '';
    return e.state + at + (e.outOfOrder ? ' (out of order)' : '');
  };
  // The table of a thousand migrations is built with indexed loops and plain concatenation, in code that runs
  // once (never optimized): the arrays per row, the map() closures and the join() per line were most of
  // status's own time. Each line is the cells padded to their column's width, two spaces apart, trimmed at the
  // end; the state is painted after padding.
  const entries = report.entries;
  const n = entries.length;
  const states: string[] = new Array<string>(n);
  const applied: string[] = new Array<string>(n);
  const durations: string[] = new Array<string>(n);
  const header = ['VERSION', 'NAME', 'STATE', 'APPLIED AT (UTC)', 'DURATION'] as const;
  let w0 = header[0].length;
  let w1 = header[1].length;
  let w2 = header[2].length;
  let w3 = header[3].length;
  let w4 = header[4].length;
  for (let i = 0; i < n; i += 1) {
    const e = entries[i]!;
    const state = stateOf(e);
    const at = e.row ? e.row.appliedAt.toISOString().replace('T', ' ').slice(0, 19) : '';
    const took = e.row ? `${e.row.executionMs} ms` : '';
    states[i] = state;
    applied[i] = at;
    durations[i] = took;
    if (e.version.length > w0) w0 = e.version.length;
    if (e.name.length > w1) w1 = e.name.length;
    if (state.length > w2) w2 = state.length;
    if (at.length > w3) w3 = at.length;
    if (took.length > w4) w4 = took.length;
  }
  const line = (a: string, b: string, state: string, d: string, f: string, color?: (s: string) => string) => {
    const padded = state.padEnd(w2);
    return `${a.padEnd(w0)}  ${b.padEnd(w1)}  ${color ? color(padded) : padded}  ${d.padEnd(w3)}  ${f.padEnd(w4)}`.trimEnd();
  };
  const lines: string[] = new Array<string>(n + 1);
  lines[0] = c.bold(line(header[0], header[1], header[2], header[3], header[4]));
  for (let i = 0; i < n; i += 1) {
    const e = entries[i]!;
    lines[i + 1] = line(e.version, e.name, states[i]!, applied[i]!, durations[i]!, paint[e.state]);
  }
  // One write for the whole table: a write per row was a third of `status`'s own time at 1000 migrations.
  out.line(lines.join('\n'));
  const counts = new Map<string, number>();
  for (const e of report.entries) counts.set(e.state, (counts.get(e.state) ?? 0) + 1);
  out.line();
  out.line([...counts].map(([state, n]) => `${n} ${state}`).join(', '));
  for (const p of report.resumePoints) out.line(p.next);
  if (repairs.length > 0) {
    out.line();
    out.line(c.bold('Repairs (oldest first):'));
    for (const r of repairs) out.line(repairLine(r));
  }
  return code;
}
