/**
 * The runner lock: one session-level advisory lock per database + tracking table, so that concurrent runners
 * (many pods starting at once) apply each migration exactly once.
 *
 * Waiters poll pg_try_advisory_lock between idle periods and never call the blocking pg_advisory_lock: a
 * backend blocked in that call holds a snapshot, and CREATE INDEX CONCURRENTLY in the runner that holds the
 * lock waits for every snapshot older than its own, so the two would wait for each other forever.
 * https://www.postgresql.org/docs/current/sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TableRef } from '../config/settings.js';
import { interruptedError, MigrateError } from '../errors.js';
import type { Client } from './connection.js';

export interface LockHolder {
  readonly pid: number;
  readonly applicationName: string;
  readonly user: string;
  readonly clientAddress: string | null;
  readonly since: Date | null;
  readonly state: string | null;
}

/** A signed 64-bit key from the database and the table's qualified name. */
export function lockKey(database: string, table: TableRef): bigint {
  const digest = createHash('sha256').update(`tidemark:${database}:${table.schema}.${table.table}`).digest();
  return digest.readBigInt64BE(0);
}

export class Locker {
  readonly #client: Client;
  readonly #key: bigint;
  #held = false;

  constructor(client: Client, key: bigint) {
    this.#client = client;
    this.#key = key;
  }

  get held(): boolean {
    return this.#held;
  }

  async tryAcquire(): Promise<boolean> {
    const { rows } = await this.#client.query<{ ok: boolean }>('select pg_try_advisory_lock($1::bigint) as ok', [
      this.#key.toString(),
    ]);
    this.#held = rows[0]?.ok === true;
    return this.#held;
  }

  /** Who holds the lock now (pg_locks stores a bigint key as classid = high 32 bits, objid = low 32 bits). */
  async holder(): Promise<LockHolder | undefined> {
    const unsigned = BigInt.asUintN(64, this.#key);
    const high = Number(unsigned >> 32n);
    const low = Number(unsigned & 0xffffffffn);
    const { rows } = await this.#client.query<{
      pid: number;
      application_name: string;
      usename: string;
      client_addr: string | null;
      backend_start: Date | null;
      state: string | null;
    }>(
      `select a.pid, a.application_name, a.usename, host(a.client_addr) as client_addr, a.backend_start, a.state
         from pg_catalog.pg_locks l
         join pg_catalog.pg_stat_activity a on a.pid = l.pid
        where l.locktype = 'advisory' and l.granted and l.objsubid = 1
          and l.classid = $1::bigint::oid and l.objid = $2::bigint::oid and l.database = (select oid from pg_database where datname = current_database())
        limit 1`,
      [high, low],
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      pid: r.pid,
      applicationName: r.application_name,
      user: r.usename,
      clientAddress: r.client_addr,
      since: r.backend_start,
      state: r.state,
    };
  }

  /**
   * Polls until the lock is ours or `waitMs` has passed (then exit 3, naming the holder).
   * `onWait` is called once when the first attempt fails, with the current holder.
   */
  async acquire(
    waitMs: number,
    onWait?: (holder: LockHolder | undefined) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const deadline = Date.now() + waitMs;
    if (await this.tryAcquire()) return;
    onWait?.(await this.holder());
    let pause = 100;
    while (Date.now() < deadline) {
      if (signal?.aborted) {
        const name = String(signal.reason);
        throw interruptedError(name, `Interrupted by ${name} while waiting for the runner lock; nothing was run.`);
      }
      await sleep(Math.min(pause + Math.random() * 100, Math.max(0, deadline - Date.now())));
      if (await this.tryAcquire()) return;
      pause = Math.min(pause * 1.5, 1000);
    }
    const holder = await this.holder();
    const who = holder
      ? `process ${holder.pid} (${holder.applicationName || 'no application_name'}, user ${holder.user}${
          holder.clientAddress ? ` from ${holder.clientAddress}` : ''
        })`
      : 'another runner';
    throw new MigrateError(
      'runner-lock-timeout',
      `Another migration run holds the runner lock: ${who}; gave up after ${Math.round(waitMs / 1000)} s.`,
      {
        hint: holder
          ? `Wait for it to finish, or pass {{wait}} to wait longer. If it is stuck: select pg_terminate_backend(${holder.pid});`
          : '{{runAgain}}, or pass {{wait}} to wait longer.',
        details: holder ? { holderPid: holder.pid } : undefined,
      },
    );
  }

  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    await this.#client.query('select pg_advisory_unlock($1::bigint)', [this.#key.toString()]);
  }
}
