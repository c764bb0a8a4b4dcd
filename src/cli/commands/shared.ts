/**
 * What several commands share: flag parsers (a bad value is a usage error, exit 2, that names the flag's form),
 * the report after a run (up, down) and the CI formats of the checks (lint, verify).
 */
import { InvalidArgumentError, Option } from 'commander';
import { relative } from 'node:path';
import type { RunResult } from '../../index.js';
import type { CommandContext } from '../context.js';
import { renderRunSummary, runResultJson } from '../render.js';
import { FORMATS, githubAnnotations, gitlabCodeQuality, type ReportFormat, type ReportItem } from '../reporters.js';

export function parseVersion(value: string): string {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('a version is the leading digits of a file name, e.g. 003.');
  return value;
}

export function parseCount(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('use a whole number of 1 or more.');
  return Number(value);
}

export function parseWait(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('use a whole number of seconds, e.g. 120.');
  return Number(value);
}

/**
 * With SCHEMA_FILE set, up, down and redo rewrite the schema file after they changed something. A failure here
 * does not undo the migration (it is committed): it is a warning, and `migrate schema check` will say the file is stale.
 */
export async function refreshSchemaFile(ctx: CommandContext, changed: boolean): Promise<void> {
  const s = ctx.settings;
  if (!s.schemaFileAuto || !changed) return;
  const shown = relative(s.cwd, s.schemaFile) || s.schemaFile;
  try {
    const { writeSchemaFile } = await import('../../schema/dump.js');
    await writeSchemaFile(s.schemaFile, {
      params: await ctx.connection(),
      trackingTable: s.migrationsTable,
      pgDumpPath: s.pgDumpPath,
      signal: ctx.io.signal,
    });
    ctx.output.info(`Wrote ${shown} (SCHEMA_FILE).`);
  } catch (error) {
    ctx.output.info(
      ctx.output.c.yellow(`Warning: ${shown} was not rewritten: ${(error as Error).message} Run migrate schema dump.`),
    );
  }
}

/** The end of `up` and `down`: the schema file rewritten when the run changed something, then the summary. */
export async function reportRun(ctx: CommandContext, result: RunResult): Promise<number> {
  await refreshSchemaFile(ctx, !result.dryRun && result.applied.length > 0);
  if (ctx.output.mode === 'json') ctx.output.json(runResultJson(result));
  else renderRunSummary(ctx.output, result);
  return 0;
}

/** The `--format` option of a check (lint, verify); reportToCi renders the CI formats. */
export function formatOption(): Option {
  return new Option(
    '--format <format>',
    'text, json (= --json), github (workflow annotations) or gitlab (Code Quality JSON)',
  ).choices(FORMATS);
}

/**
 * `--format github|gitlab` of a check (`tool`: lint, verify): the findings as workflow annotations on stdout, or
 * as a GitLab Code Quality report, and the summary on stderr. False for the other formats, which the command
 * renders itself.
 */
export function reportToCi(
  ctx: CommandContext,
  format: ReportFormat,
  tool: 'lint' | 'verify',
  items: () => readonly ReportItem[],
  summary: string,
): boolean {
  const out = ctx.output;
  if (format === 'github') {
    for (const line of githubAnnotations(items(), `tidemark ${tool}`)) out.line(line);
  } else if (format === 'gitlab') {
    const s = ctx.settings;
    out.json(gitlabCodeQuality(items(), `tidemark-${tool}`, relative(s.cwd, s.migrationsDir) || s.migrationsDir));
  } else {
    return false;
  }
  out.info(summary);
  return true;
}
