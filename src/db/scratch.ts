/**
 * A scratch database on the same server: created empty from template0 for one job (test-rollback, schema
 * check) and dropped in `finally`, whether the job succeeded, failed or was interrupted by a signal (the
 * job's statements are cancelled by the abort, its promise rejects, and the drop runs before the process
 * exits). Only a second signal (immediate exit) or a kill -9 can leave one: the name says whose it is.
 */
import { randomBytes } from 'node:crypto';
import { MigrateError } from '../errors.js';
import { connect, type Client } from './connection.js';
import { withDatabase, type ConnectionParams } from './params.js';
import { quoteIdent } from './quote.js';

/** Every scratch database's name starts with this, so a leftover is recognisable. */
export const SCRATCH_PREFIX = 'tidemark_scratch_';

export interface ScratchDatabase {
  readonly name: string;
  readonly params: ConnectionParams;
}

async function adminClient(params: ConnectionParams): Promise<Client> {
  // CREATE/DROP DATABASE run from another database than the one dropped; `postgres` exists almost everywhere.
  try {
    return await connect(withDatabase(params, 'postgres'));
  } catch {
    return connect(params);
  }
}

/** Throws `createdb-required` (exit 2) when the role may not create databases. */
async function assertCanCreate(admin: Client, purpose: string): Promise<void> {
  const { rows } = await admin.query<{ ok: boolean; role: string }>(
    `select rolcreatedb or rolsuper as ok, current_user as role from pg_roles where rolname = current_user`,
  );
  const row = rows[0];
  if (row && !row.ok) {
    throw new MigrateError(
      'createdb-required',
      `${purpose} works in a scratch database that tidemark creates and drops, but the role "${row.role}" may not create databases (it lacks CREATEDB).`,
      {
        hint: `Grant it (ALTER ROLE ${quoteIdent(row.role)} CREATEDB), or point {{scratchServer}} at a server where the role may, such as the PostgreSQL of a CI job. The database itself is never changed.`,
      },
    );
  }
}

/**
 * Runs `fn` with a new empty database and drops it afterwards, always. `purpose` names the command in the
 * error when the role lacks CREATEDB.
 */
export async function withScratchDatabase<T>(
  params: ConnectionParams,
  purpose: string,
  fn: (scratch: ScratchDatabase) => Promise<T>,
): Promise<T> {
  const admin = await adminClient(params);
  const name = `${SCRATCH_PREFIX}${process.pid}_${randomBytes(4).toString('hex')}`;
  try {
    await assertCanCreate(admin, purpose);
    await admin.query(`create database ${quoteIdent(name)} template template0`);
  } catch (error) {
    await admin.end().catch(() => {});
    if ((error as { code?: string }).code === '42501') {
      throw new MigrateError(
        'createdb-required',
        `${purpose} could not create its scratch database: ${(error as Error).message}.`,
        {
          hint: 'Grant the role CREATEDB, or point {{scratchServer}} at a server where it may create databases.',
          cause: error,
        },
      );
    }
    throw error;
  }
  try {
    return await fn({ name, params: withDatabase(params, name) });
  } finally {
    // WITH (FORCE) ends sessions still connected to it (a cancelled statement's connection may linger).
    await admin.query(`drop database if exists ${quoteIdent(name)} with (force)`).catch(async () => {
      const again = await adminClient(params).catch(() => undefined);
      await again?.query(`drop database if exists ${quoteIdent(name)} with (force)`).catch(() => {});
      await again?.end().catch(() => {});
    });
    await admin.end().catch(() => {});
  }
}
