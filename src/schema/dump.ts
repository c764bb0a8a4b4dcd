/**
 * `migrate schema dump | check`: the schema kept in git (SCHEMA_FILE, default schema.sql).
 *
 * The file is `pg_dump --schema-only --no-owner --no-privileges`, normalised so that the same schema always
 * gives the same bytes: no pg_dump/server version header, no `\restrict` / `\unrestrict` lines (pg_dump
 * >= 15.14 writes a random key into every dump), no timestamps, the values views folded from 'now' written back as 'now'. Owner and
 * grants are left out as dbmate and Rails do: roles differ between a laptop, CI and production, and a file
 * that cannot be restored elsewhere is no use as a reference. tidemark's own tables are never in it.
 *
 * The check restores the file into a scratch database and compares the two catalog snapshots (grants off, as
 * the file has none). Comparing text was the alternative; it breaks on every pg_dump upgrade (new SET lines,
 * new header comments, changed ordering) and its diff says "line 812 differs" where the catalog comparison says
 * "changed column public.users.email: type text -> character varying(20)".
 */
import { promises as fsp } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import type { TableRef } from '../config/settings.js';
import { describeExit, runProgram } from '../backup/process.js';
import { latestTrackedVersion } from '../backup/restore.js';
import { findPgTools, serverVersion } from '../backup/tools.js';
import { connect } from '../db/connection.js';
import { libpqChildEnv, type ConnectionParams } from '../db/params.js';
import { withScratchDatabase } from '../db/scratch.js';
import { MigrateError, usageError } from '../errors.js';
import { diffSnapshots, type SchemaDiff } from './diff.js';
import { normaliseVolatileLiterals, snapshotSchema, tidemarkTables } from './snapshot.js';

/** First line of every schema file; the version is that of the newest applied migration. */
const HEADER = '-- tidemark schema dump (migrate schema dump); do not edit by hand.';
const VERSION_LINE = /^-- tidemark version: (\S+)$/m;

export interface SchemaFileOptions {
  readonly params: ConnectionParams;
  readonly trackingTable: TableRef;
  readonly pgDumpPath?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** A pg_dump pattern matching exactly this table (double quotes make every character literal). */
function exactPattern(ref: TableRef): string {
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  return `${q(ref.schema)}.${q(ref.table)}`;
}

/**
 * Makes pg_dump's output the same bytes for the same schema. `version` (the newest applied migration) goes
 * in the header, so a test-rollback can start from the file.
 */
export function normaliseDump(text: string, version: string | null): string {
  const kept: string[] = [];
  for (const line of text.replace(/\r\n/g, '\n').split('\n')) {
    if (/^\\(un)?restrict\b/.test(line)) continue;
    if (/^-- (Dumped from database version|Dumped by pg_dump version|Started on|Completed on)\b/.test(line)) continue;
    kept.push(line);
  }
  const body = normaliseVolatileLiterals(kept.join('\n'), 'now')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/^\s+/, '')
    .replace(/\s+$/, '');
  return `${HEADER}\n-- tidemark version: ${version ?? 'none'}\n\n${body}\n`;
}

/** The version in a schema file's header; undefined when it has none (or says none). */
export function schemaFileVersion(text: string): string | undefined {
  const v = VERSION_LINE.exec(text)?.[1];
  return v === undefined || v === 'none' ? undefined : v;
}

/** Runs pg_dump --schema-only and returns the normalised text. Throws MigrateError (pg_dump missing or failing). */
export async function dumpSchema(options: SchemaFileOptions): Promise<string> {
  const client = await connect(options.params);
  let version: string | null;
  let pgDump: string;
  try {
    const server = await serverVersion(client);
    pgDump = (await findPgTools({ explicitPath: options.pgDumpPath, serverVersionNum: server.num })).pgDump.path;
    version = await latestTrackedVersion(client, options.trackingTable);
  } finally {
    await client.end().catch(() => {});
  }
  const args = ['--schema-only', '--no-owner', '--no-privileges', '--no-password'];
  for (const table of tidemarkTables(options.trackingTable)) args.push(`--exclude-table=${exactPattern(table)}`);
  const run = await runProgram(pgDump, args, {
    env: libpqChildEnv(options.params),
    captureStdout: true,
    signal: options.signal,
    secrets: [options.params.password],
  });
  if (run.code !== 0) {
    throw new MigrateError(
      'schema-dump-failed',
      `pg_dump --schema-only failed (${describeExit(run)})${run.stderr ? `: ${run.stderr}` : '.'}`,
      {
        hint: 'Nothing was written. Check that the role may read every schema, or set PG_DUMP_PATH to a pg_dump at least as new as the server.',
      },
    );
  }
  return normaliseDump(run.stdout, version);
}

/** Writes the file atomically (a reader never sees half of it); returns its text. */
export async function writeSchemaFile(path: string, options: SchemaFileOptions): Promise<string> {
  const text = await dumpSchema(options);
  await fsp.mkdir(dirname(path), { recursive: true });
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  await fsp.writeFile(temp, text);
  await fsp.rename(temp, path);
  return text;
}

export async function readSchemaFile(path: string, displayPath: string): Promise<string> {
  try {
    return await fsp.readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw usageError('schema-file-missing', `The schema file ${displayPath} does not exist.`, {
        hint: 'Write it with migrate schema dump (and commit it), or point SCHEMA_FILE at it.',
      });
    }
    throw error;
  }
}

export interface SchemaCheckResult {
  /** expected = the file, actual = the database. */
  readonly diff: SchemaDiff;
  readonly fileVersion: string | undefined;
}

/** Compares the database with the schema file restored into a scratch database. */
export async function checkSchema(
  options: SchemaFileOptions & { readonly text: string; readonly displayPath: string },
): Promise<SchemaCheckResult> {
  const client = await connect(options.params);
  let actual;
  try {
    actual = await snapshotSchema(client, { trackingTable: options.trackingTable, grants: false });
  } finally {
    await client.end().catch(() => {});
  }
  const expected = await withScratchDatabase(options.params, 'migrate schema check', async (scratch) => {
    const c = await connect(scratch.params);
    try {
      try {
        await c.query(options.text);
      } catch (error) {
        throw new MigrateError(
          'schema-file-invalid',
          `The schema file ${options.displayPath} does not load into an empty database: ${(error as Error).message}.`,
          {
            hint: 'Write it again with migrate schema dump; a hand edit or a merge conflict may have broken it.',
            cause: error,
          },
        );
      }
      return await snapshotSchema(c, { trackingTable: options.trackingTable, grants: false });
    } finally {
      await c.end().catch(() => {});
    }
  });
  return { diff: diffSnapshots(expected, actual), fileVersion: schemaFileVersion(options.text) };
}
