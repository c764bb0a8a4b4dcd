/**
 * A scratch database on the same server: created empty from template0 for one job (test-rollback, schema
 * check) and dropped in `finally`, whether the job succeeded, failed or was interrupted by a signal (the
 * job's statements are cancelled by the abort, its promise rejects, and the drop runs before the process
 * exits). Only a second signal (immediate exit) or a kill -9 can leave one: the name says whose it is (the
 * pid), and the next job drops it.
 *
 * Which ones are left is told by the server, not by the pid: the job holds an advisory lock named after its
 * scratch database on its admin session from before the CREATE until after the DROP, and the server releases
 * it when that session ends, however the process died. A pid cannot tell that: the job may have run on
 * another host, or in another container where pids are reused from 1.
 */
import { randomBytes } from 'node:crypto';
import { MigrateError } from '../errors.js';
import { connect, withDeadline, type Client } from './connection.js';
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
 * The advisory lock a job holds on its scratch database `name` (two int4 keys: the runner lock's bigint keys
 * are another space). Session-level, on the admin session, so it lasts exactly as long as the job can drop.
 */
const CLAIM = 'select pg_advisory_lock(hashtext($1), hashtext($2))';
const TRY_CLAIM = 'select pg_try_advisory_lock(hashtext($1), hashtext($2)) as ok';
const UNCLAIM = 'select pg_advisory_unlock(hashtext($1), hashtext($2))';

/**
 * Scratch databases whose job is gone: named as withScratchDatabase names them, nobody holding their claim
 * (a hash collision with a live one only keeps a leftover longer) and nobody connected.
 */
const LEFT_OVER = `
  select d.datname as name from pg_database d
  where d.datname ~ $1
    and not exists (
      select 1 from pg_locks l
      where l.locktype = 'advisory' and l.granted and l.objsubid = 2
        and l.classid = hashtext($2)::oid and l.objid = hashtext(d.datname)::oid)
    and not exists (select 1 from pg_stat_activity a where a.datname = d.datname)`;
const LEFTOVER_DROP_DEADLINE_MS = 300_000;
const SCRATCH_NAME = `^${SCRATCH_PREFIX}[0-9]+_[0-9a-f]{8}$`;

/** True when a process with this pid exists here (EPERM: it does, as another user's). */
function processLives(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

/**
 * Drops the scratch databases of jobs that died without dropping them (a second signal, a kill -9, a lost
 * connection), each under its claim so that two jobs starting together do not both drop it. Best effort: a
 * leftover that cannot be dropped now stays for the next job. Returns the names dropped.
 */
export async function dropLeftoverScratchDatabases(admin: Client): Promise<string[]> {
  const dropped: string[] = [];
  const { rows } = await admin.query<{ name: string }>(LEFT_OVER, [SCRATCH_NAME, SCRATCH_PREFIX]);
  for (const { name } of rows) {
    // A job of an older tidemark claims nothing and is not always connected to its database: when the pid
    // in the name lives on this machine, it may be that job (or a reused pid): leave it.
    if (processLives(Number(name.slice(SCRATCH_PREFIX.length).split('_')[0]))) continue;
    const { rows: claim } = await admin.query<{ ok: boolean }>(TRY_CLAIM, [SCRATCH_PREFIX, name]);
    if (!claim[0]?.ok) continue;
    try {
      // A DROP waits for a checkpoint: minutes on a busy server are no dead path (the default deadline is 60 s).
      await withDeadline(admin, LEFTOVER_DROP_DEADLINE_MS, () =>
        admin.query(`drop database if exists ${quoteIdent(name)}`),
      );
      dropped.push(name);
    } catch {
      // Someone connected meanwhile (DROP refuses: 55006), or the role may not drop it: not ours to force.
    } finally {
      await admin.query(UNCLAIM, [SCRATCH_PREFIX, name]);
    }
  }
  return dropped;
}

/**
 * Runs `fn` with a new empty database and drops it afterwards, always. `purpose` names the command in the
 * error when the role lacks CREATEDB. Scratch databases that dead jobs left are dropped after the job's own,
 * unless it was interrupted (a signal means "stop"): each DROP DATABASE waits for a checkpoint, which on a
 * busy server took longer than a query's deadline, so nothing of the job may wait for it or fail with it.
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
    await admin.query(CLAIM, [SCRATCH_PREFIX, name]);
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
  let interrupted = false;
  try {
    return await fn({ name, params: withDatabase(params, name) });
  } catch (error) {
    interrupted = error instanceof MigrateError && error.code === 'interrupted';
    throw error;
  } finally {
    // WITH (FORCE) ends sessions still connected to it (a cancelled statement's connection may linger).
    await admin.query(`drop database if exists ${quoteIdent(name)} with (force)`).catch(async () => {
      const again = await adminClient(params).catch(() => undefined);
      await again?.query(`drop database if exists ${quoteIdent(name)} with (force)`).catch(() => {});
      await again?.end().catch(() => {});
    });
    if (!interrupted) await dropLeftoverScratchDatabases(admin).catch(() => []);
    await admin.end().catch(() => {});
  }
}
