/** Flag parsers shared by commands: a bad value is a usage error (exit 2) that names the flag's form. */
import { InvalidArgumentError } from 'commander';

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
export async function refreshSchemaFile(ctx: import('../context.js').CommandContext, changed: boolean): Promise<void> {
  const s = ctx.settings;
  if (!s.schemaFileAuto || !changed) return;
  const { relative } = await import('node:path');
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
