import type { Command } from 'commander';
import { relative } from 'node:path';
import type { CommandContext } from '../context.js';
import type { Action } from '../main.js';

export function define(program: Command, action: Action): void {
  const schema = program
    .command('schema')
    .description(
      'the schema file kept in git (SCHEMA_FILE, default schema.sql): dump it, or check the database against it',
    );
  schema
    .command('dump')
    .description("write the schema (pg_dump --schema-only, normalised; tidemark's tables left out) to SCHEMA_FILE")
    .addHelpText('after', '\nExample:\n  $ migrate schema dump && git add schema.sql')
    .action(action(dump));
  schema
    .command('check')
    .description(
      'exit 1 with the differences when the database does not match SCHEMA_FILE (CI gate, post-deploy check)',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ migrate schema check                 a hand-made change in the database shows here
  $ migrate schema check --json | jq '.changes'
The file is restored into a scratch database (the role needs CREATEDB) and the two catalogs are compared.`,
    )
    .action(action(check));
}

function shown(ctx: CommandContext): string {
  return relative(ctx.settings.cwd, ctx.settings.schemaFile) || ctx.settings.schemaFile;
}

export async function dump(ctx: CommandContext): Promise<number> {
  const s = ctx.settings;
  const { writeSchemaFile, schemaFileVersion } = await import('../../schema/dump.js');
  const text = await writeSchemaFile(s.schemaFile, {
    params: await ctx.connection(),
    trackingTable: s.migrationsTable,
    pgDumpPath: s.pgDumpPath,
    signal: ctx.io.signal,
  });
  const version = schemaFileVersion(text) ?? null;
  if (ctx.output.mode === 'json') ctx.output.json({ file: shown(ctx), version, bytes: Buffer.byteLength(text) });
  else ctx.output.line(`Wrote ${shown(ctx)} (${version === null ? 'no migration applied' : `at version ${version}`}).`);
  return 0;
}

export async function check(ctx: CommandContext): Promise<number> {
  const s = ctx.settings;
  const { checkSchema, readSchemaFile } = await import('../../schema/dump.js');
  const { describeChange, describeColumnOrder } = await import('../../schema/diff.js');
  const file = shown(ctx);
  const text = await readSchemaFile(s.schemaFile, file);
  await ctx.output.progress(`Comparing the database with ${file}`);
  const { diff, fileVersion } = await checkSchema({
    params: await ctx.connection(),
    trackingTable: s.migrationsTable,
    pgDumpPath: s.pgDumpPath,
    signal: ctx.io.signal,
    text,
    displayPath: file,
  });
  ctx.output.stop();
  const ok = diff.changes.length === 0;
  const out = ctx.output;
  if (out.mode === 'json') {
    out.json({
      file,
      fileVersion: fileVersion ?? null,
      matches: ok,
      changes: diff.changes,
      columnOrder: diff.columnOrder,
    });
    return ok ? 0 : 1;
  }
  const c = out.c;
  // expected = the file, actual = the database.
  const where = (line: string) =>
    line
      .replace(/^added /, `in the database only: `)
      .replace(/^missing /, `in ${file} only: `)
      .replace(/^changed (.*?): /, `changed $1 (${file} -> database): `);
  if (!ok) {
    out.line(c.red(`The database differs from ${file}${fileVersion ? ` (written at version ${fileVersion})` : ''}:`));
    for (const change of diff.changes) out.line(`  ${where(describeChange(change))}`);
  }
  for (const w of diff.columnOrder) out.line(`  ${c.yellow('warning')} ${describeColumnOrder(w)}`);
  if (ok) out.line(`The database matches ${file}.`);
  else
    out.line(
      `\nIf the change is intended, write it as a migration (or run migrate schema dump and commit the file); otherwise it was made by hand.`,
    );
  return ok ? 0 : 1;
}
