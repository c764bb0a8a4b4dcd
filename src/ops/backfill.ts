/**
 * `migrate backfill`: updates a large table in batches walked by primary key, each batch one short statement
 * (its own transaction), so the application's writes keep going between batches and never wait for long.
 *
 * - Keyset pagination: a batch is the next `batch` keys after the last finished one (`where pk > last order
 *   by pk limit n`), then `update ... where pk > last and pk <= hi`. Never OFFSET, never a scan of what is done.
 * - Exactly once: the data update and the progress row (`<tracking table>_backfills`) change in ONE statement
 *   (data-modifying CTEs), so a kill -9 at any moment leaves both agreeing: resuming starts after the last
 *   finished batch and never redoes one.
 * - Throttled: a pause between batches; while a replica lags more than --max-lag, it waits; when the monitor
 *   sees application sessions waiting on the backfill, the pause doubles (back to normal once they stop).
 * - SIGTERM/SIGINT finish the running batch and stop cleanly; the same command resumes.
 *
 * The seed's `UPDATE ... LIMIT` is not PostgreSQL; `WHERE col IS NULL` alone re-scans the done part of the table
 * on every batch. The keyset walk is what the seed's loop meant.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TableRef } from '../config/settings.js';
import type { Client } from '../db/connection.js';
import type { Connector } from '../db/connector.js';
import { BackfillLog } from '../db/backfill-log.js';
import { Locker, lockKey } from '../db/lock.js';
import { quoteIdent, quoteTable } from '../db/quote.js';
import { MigrateError, usageError } from '../errors.js';
import { LOCK_NOT_AVAILABLE, type LockRetryPolicy } from './lock-retry.js';
import { RunOps, type OpsPolicy, type OpsEvent } from './run-ops.js';

export interface BackfillSpec {
  /** `table` or `schema.table`. */
  readonly table: string;
  /** The SET list, as in `update t set <set>`: e.g. `full_name = first_name || ' ' || last_name`. */
  readonly set: string;
  /** Only rows matching this condition are updated (e.g. `full_name is null`); every key is still walked. */
  readonly where?: string | undefined;
  readonly batchSize: number;
  /** The pause between batches, in ms. */
  readonly pauseMs: number;
  /** Wait while a replica replays more than this far behind (ms); undefined = do not look. */
  readonly maxLagMs?: number | undefined;
  /** The progress row's name; default: the table and a hash of SET/WHERE. */
  readonly name?: string | undefined;
  /** Forget recorded progress and start from the first key. */
  readonly restart?: boolean | undefined;
}

export interface BackfillContext {
  readonly connector: Connector;
  /** The tracking table: the progress log lives beside it. */
  readonly trackingTable: TableRef;
  readonly lockRetry: LockRetryPolicy;
  /** statement_timeout of each batch, ms (0 = off). */
  readonly statementMs: number;
  readonly ops: OpsPolicy | undefined;
  readonly emit: (event: BackfillEvent | OpsEvent) => void;
  /** SIGTERM/SIGINT: the running batch finishes, then the backfill stops. */
  readonly signal: AbortSignal | undefined;
}

export interface BackfillProgress {
  readonly name: string;
  readonly table: string;
  /** Keys walked so far (all runs), and rows the SET changed. */
  readonly rowsDone: number;
  readonly rowsUpdated: number;
  /** The table's row estimate (pg_class.reltuples); undefined when never analysed. */
  readonly estimate: number | undefined;
  readonly batches: number;
  /** This run's speed, and the time left at that speed (undefined without an estimate). */
  readonly rowsPerSecond: number;
  readonly etaMs: number | undefined;
}

export type BackfillEvent =
  | {
      readonly type: 'backfill-start';
      readonly name: string;
      readonly table: string;
      readonly key: string;
      readonly estimate: number | undefined;
      /** Set when recorded progress was found: where this run resumes. */
      readonly resumed: { readonly rowsDone: number; readonly batches: number } | undefined;
    }
  | ({ readonly type: 'backfill-progress' } & BackfillProgress)
  | {
      /** Replication lag: the backfill waits (once per wait); lock waits: the pause between batches grew. */
      readonly type: 'backfill-throttled';
      readonly name: string;
      readonly reason: 'replication-lag' | 'lock-waits';
      /** The lag in ms, or the sessions that waited on the last batch. */
      readonly figure: number;
      /** The lag's limit (--max-lag), ms; for lock waits the new pause between batches. */
      readonly limitMs: number;
      readonly pauseMs: number;
    }
  | {
      /** The throttle let go: the replica caught up, or no session waited on a batch any more. */
      readonly type: 'backfill-resumed';
      readonly name: string;
      readonly reason: 'replication-lag' | 'lock-waits';
      /** The lag now (ms), or 0 sessions. */
      readonly figure: number;
      /** How long the backfill waited (lag) or ran slowed (lock waits), ms. */
      readonly throttledMs: number;
    };

export interface BackfillResult {
  readonly name: string;
  readonly table: string;
  readonly key: string;
  /** finished now; stopped by a signal (resume with the same command); finished by an earlier run. */
  readonly status: 'finished' | 'stopped' | 'already-finished';
  readonly rowsDone: number;
  readonly rowsUpdated: number;
  readonly batches: number;
  /** Of this run. */
  readonly durationMs: number;
  readonly resumed: boolean;
  /** The signal that stopped it. */
  readonly stoppedBy?: string | undefined;
}

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_$]*$/;

/** `users` / `app.users` -> a TableRef; undefined when it is not a plain (optionally qualified) name. */
export function parseTable(text: string): TableRef | undefined {
  const parts = text.trim().split('.');
  if (parts.length > 2 || !parts.every((p) => TABLE_NAME.test(p))) return undefined;
  return parts.length === 2 ? { schema: parts[0]!, table: parts[1]! } : { schema: 'public', table: parts[0]! };
}

/** The default progress name: the table, and a hash of what it does (another SET is another backfill). */
export function defaultName(table: TableRef, set: string, where: string | undefined): string {
  const hash = createHash('sha256')
    .update(`${set}\0${where ?? ''}`)
    .digest('hex')
    .slice(0, 8);
  return `${table.schema}.${table.table}:${hash}`;
}

/**
 * The batch: one statement, so the data and the progress row commit together. With key columns k1..kn, `$1..$n`
 * are the last finished key (absent for the first batch; each parameter's type is inferred from its column),
 * then the batch size and the name. A composite key is walked as a row comparison, `(a, b) > ($1, $2)`, which
 * a btree index on (a, b) answers as one range scan. The CTEs' columns have names no user table has, so the
 * user's SET/WHERE cannot collide with them. `hi` is the batch's last key as text: the value itself for one
 * column, a JSON array of the values' text for several (decodeKey reads it back).
 */
export function batchSql(
  table: string,
  keys: readonly string[],
  set: string,
  where: string | undefined,
  log: string,
  first: boolean,
): string {
  const n = keys.length;
  const tuple = (xs: readonly string[]) => (xs.length === 1 ? xs[0]! : `(${xs.join(', ')})`);
  const cols = keys.map(quoteIdent);
  const aliases = keys.map((_, i) => `tidemark_k${i + 1}`);
  const after = first ? '' : `${tuple(cols)} > ${tuple(keys.map((_, i) => `$${i + 1}`))}`;
  const limit = first ? '$1' : `$${n + 1}`;
  const name = first ? '$2' : `$${n + 2}`;
  const hiText =
    n === 1 ? `${aliases[0]}::text` : `json_build_array(${aliases.map((a) => `${a}::text`).join(', ')})::text`;
  return (
    `with tidemark_keys as (\n` +
    `  select ${cols.map((c, i) => `${c} as ${aliases[i]}`).join(', ')} from ${table}` +
    ` where ${first ? 'true' : after} order by ${cols.join(', ')} limit ${limit}\n` +
    `), tidemark_hi as (\n` +
    `  select ${aliases.join(', ')}, ${hiText} as tidemark_text from tidemark_keys order by ${aliases.map((a) => `${a} desc`).join(', ')} limit 1\n` +
    `), tidemark_bounds as (\n` +
    `  select (select tidemark_text from tidemark_hi) as tidemark_hi, (select count(*) from tidemark_keys) as tidemark_n\n` +
    `), tidemark_updated as (\n` +
    `  update ${table} set ${set}\n` +
    `   where ${first ? '' : `${after} and `}${tuple(cols)} <= (select ${aliases.join(', ')} from tidemark_hi)${where ? ` and (${where})` : ''}\n` +
    `  returning 1\n` +
    `), tidemark_logged as (\n` +
    `  update ${log} set last_key = coalesce((select tidemark_hi from tidemark_bounds), last_key),\n` +
    `         rows_scanned = rows_scanned + (select tidemark_n from tidemark_bounds),\n` +
    `         rows_updated = rows_updated + (select count(*) from tidemark_updated),\n` +
    `         batches = batches + (case when (select tidemark_n from tidemark_bounds) > 0 then 1 else 0 end), updated_at = now()\n` +
    `   where name = ${name}\n` +
    `  returning last_key\n` +
    `)\n` +
    `select (select tidemark_hi from tidemark_bounds) as hi, (select tidemark_n from tidemark_bounds)::int as scanned,\n` +
    `       (select count(*) from tidemark_updated)::int as updated, (select count(*) from tidemark_logged)::int as logged`
  );
}

/** The recorded last key (`hi` of batchSql) -> the batch's parameters for the key columns. */
export function decodeKey(lastKey: string, columns: number): string[] {
  if (columns === 1) return [lastKey];
  const values = JSON.parse(lastKey) as unknown;
  if (!Array.isArray(values) || values.length !== columns || !values.every((v) => typeof v === 'string')) {
    throw new Error(`the recorded last key ${lastKey} is not ${columns} key values`);
  }
  return values as string[];
}

/** Speed and time left. */
export function progressOf(
  done: number,
  doneBefore: number,
  estimate: number | undefined,
  elapsedMs: number,
): { rowsPerSecond: number; etaMs: number | undefined } {
  const thisRun = done - doneBefore;
  const rowsPerSecond = elapsedMs > 0 ? Math.round((thisRun * 1000) / elapsedMs) : 0;
  if (estimate === undefined || rowsPerSecond === 0) return { rowsPerSecond, etaMs: undefined };
  return { rowsPerSecond, etaMs: Math.max(0, Math.round(((estimate - done) / rowsPerSecond) * 1000)) };
}

/** The pause after a batch: doubled (up to 5 s) while the backfill made sessions wait, back to the base after. */
export function nextPause(basePauseMs: number, currentMs: number, sessionsWaited: boolean): number {
  if (!sessionsWaited) return basePauseMs;
  return Math.min(Math.max(currentMs * 2, basePauseMs, 100), 5000);
}

interface KeyColumn {
  readonly name: string;
  readonly type: string;
}

/** The primary key's columns, in the key's order. */
async function keyOf(client: Client, table: TableRef, qualified: string): Promise<KeyColumn[]> {
  let rows: { name: string; type: string }[];
  try {
    ({ rows } = await client.query<{ name: string; type: string }>(
      `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type
         from pg_catalog.pg_index i
         cross join lateral unnest(i.indkey::int2[]) with ordinality as k(attnum, n)
         join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
        where i.indrelid = $1::regclass and i.indisprimary
        order by k.n`,
      [qualified],
    ));
  } catch (error) {
    if ((error as { code?: string }).code === '42P01' || (error as { code?: string }).code === '3F000') {
      throw usageError('backfill-unknown-table', `There is no table ${table.schema}.${table.table} to backfill.`, {
        hint: 'Check the name (schema.table); the backfill runs against the database of DATABASE_URL.',
      });
    }
    throw error;
  }
  if (rows.length === 0) {
    const name = `${table.schema}.${table.table}`;
    // Walking without a key would need a scan of what is done (or ctid, which an UPDATE changes) on every batch.
    throw usageError(
      'backfill-no-key',
      `${name} has no primary key; migrate backfill walks a table by its primary key, so that each batch is the next range of keys and no row is updated twice.`,
      {
        hint: `Give it one first. Without a table rewrite or a long lock, when columns that identify a row exist: "create unique index concurrently ${table.table}_pkey_idx on ${qualified} (col, ...)", then "alter table ${qualified} add primary key using index ${table.table}_pkey_idx" (the columns must be NOT NULL). Otherwise add an identity column in a migration ("alter table ${qualified} add column id bigint generated always as identity primary key", which rewrites the table).`,
      },
    );
  }
  return rows;
}

/** EXPLAIN checks the SET and WHERE (syntax, columns, types) before anything runs. */
async function checkSql(client: Client, qualified: string, spec: BackfillSpec): Promise<void> {
  try {
    await client.query(`explain update ${qualified} set ${spec.set}${spec.where ? ` where (${spec.where})` : ''}`);
  } catch (error) {
    const e = error as { message?: string; code?: string };
    throw usageError(
      'backfill-bad-sql',
      `The backfill's --set/--where do not work on ${qualified}: ${e.message ?? String(error)}${e.code ? ` (SQLSTATE ${e.code})` : ''}.`,
      {
        hint: `--set is what follows SET in "update ${qualified} set ...", --where a condition on its rows. Nothing was changed.`,
      },
    );
  }
}

async function estimateOf(client: Client, qualified: string): Promise<number | undefined> {
  const { rows } = await client.query<{ n: number }>(
    'select reltuples::float8 as n from pg_catalog.pg_class where oid = $1::regclass',
    [qualified],
  );
  const n = rows[0]?.n;
  return n === undefined || n < 0 ? undefined : Math.round(n);
}

/** How often a backfill held back by replication lag looks again. */
const LAG_POLL_MS = 1000;

async function replicationLagMs(client: Client): Promise<number> {
  // replay_lag is NULL without replicas, and for a role without pg_read_all_stats: both read as "no lag".
  const { rows } = await client.query<{ ms: number | null }>(
    'select (max(extract(epoch from replay_lag)) * 1000)::float8 as ms from pg_catalog.pg_stat_replication',
  );
  return Math.round(rows[0]?.ms ?? 0);
}

/** Runs (or resumes) a backfill on a session of its own. */
export async function runBackfill(client: Client, ctx: BackfillContext, spec: BackfillSpec): Promise<BackfillResult> {
  const ref = parseTable(spec.table);
  if (!ref)
    throw usageError(
      'backfill-bad-table',
      `"${spec.table}" is not a table name; use name or schema.name (letters, digits, _).`,
    );
  const qualified = quoteTable(ref);
  const tableName = `${ref.schema}.${ref.table}`;
  const keys = await keyOf(client, ref, qualified);
  const keyText = keys.map((k) => k.name).join(', ');
  await checkSql(client, qualified, spec);
  const name = spec.name ?? defaultName(ref, spec.set, spec.where);
  const log = new BackfillLog(client, ctx.trackingTable);
  await log.ensure();

  // One run per backfill at a time: a second one would walk the same keys.
  const database =
    ctx.connector.database ?? (await client.query<{ db: string }>('select current_database() as db')).rows[0]!.db;
  const locker = new Locker(client, lockKey(database, { schema: 'tidemark-backfill', table: name }));
  if (!(await locker.tryAcquire())) {
    const holder = await locker.holder();
    throw new MigrateError(
      'backfill-running',
      `The backfill ${name} is already running${holder ? ` in process ${holder.pid} (${holder.applicationName || 'no application_name'}, user ${holder.user})` : ''}.`,
      {
        hint: 'Let it finish, or stop it (SIGTERM finishes its batch) and run the command again to resume.',
      },
    );
  }
  try {
    let row = await log.read(name);
    if (
      row &&
      !spec.restart &&
      (row.setSql !== spec.set ||
        (row.whereSql ?? undefined) !== (spec.where ?? undefined) ||
        row.tableName !== tableName ||
        row.keyColumn !== keyText)
    ) {
      throw usageError(
        'backfill-changed',
        `A backfill named ${name} was recorded with another table, key or SET/WHERE (${row.tableName} by ${row.keyColumn}: set ${row.setSql}${row.whereSql ? ` where ${row.whereSql}` : ''}).`,
        {
          hint: "Give this one another --name, or pass --restart to forget that one's progress and start over.",
        },
      );
    }
    if (row?.finishedAt && !spec.restart) {
      return {
        name,
        table: tableName,
        key: keyText,
        status: 'already-finished',
        rowsDone: row.rowsScanned,
        rowsUpdated: row.rowsUpdated,
        batches: row.batches,
        durationMs: 0,
        resumed: false,
      };
    }
    if (!row || spec.restart) {
      await log.start({ name, tableName, keyColumn: keyText, setSql: spec.set, whereSql: spec.where ?? null });
      row = (await log.read(name))!;
    }
    const resumed = row.batches > 0 ? { rowsDone: row.rowsScanned, batches: row.batches } : undefined;
    const estimate = await estimateOf(client, qualified);
    ctx.emit({ type: 'backfill-start', name, table: tableName, key: keyText, estimate, resumed });
    return await walk(client, ctx, spec, {
      name,
      tableName,
      qualified,
      keys,
      keyText,
      log,
      row,
      estimate,
      resumed: resumed !== undefined,
    });
  } finally {
    await locker.release().catch(() => {});
  }
}

interface Walk {
  readonly name: string;
  readonly tableName: string;
  readonly qualified: string;
  readonly keys: readonly KeyColumn[];
  /** The key's column names, `a, b`, as the log and the result show them. */
  readonly keyText: string;
  readonly log: BackfillLog;
  readonly row: {
    readonly lastKey: string | null;
    readonly rowsScanned: number;
    readonly rowsUpdated: number;
    readonly batches: number;
  };
  readonly estimate: number | undefined;
  readonly resumed: boolean;
}

async function walk(client: Client, ctx: BackfillContext, spec: BackfillSpec, w: Walk): Promise<BackfillResult> {
  const started = performance.now();
  const keyNames = w.keys.map((k) => k.name);
  const firstSql = batchSql(w.qualified, keyNames, spec.set, spec.where, w.log.table, true);
  const nextSql = batchSql(w.qualified, keyNames, spec.set, spec.where, w.log.table, false);
  let lastKey = w.row.lastKey;
  let done = w.row.rowsScanned;
  let updated = w.row.rowsUpdated;
  let batches = w.row.batches;
  let pauseMs = spec.pauseMs;
  /** Since when the pause is above the base because sessions waited on batches. */
  let slowedSince: number | undefined;
  // The session's lock_timeout, set only when the attempt's differs (one round trip per batch, not three).
  const lockTimeout = { current: -1 };
  const ops =
    ctx.ops &&
    (await RunOps.start(
      ctx.connector,
      { ...ctx.ops, alerts: { command: undefined, webhookUrl: undefined, timeoutMs: 0 } },
      ctx.emit,
    ));
  const pid = (client as unknown as { processID: number }).processID;
  // Batches are short: sampled four times a second, the monitor sees the sessions a batch makes wait.
  const watch = ops?.watch({ version: '', name: `backfill ${w.tableName}`, file: '' }, pid, 250);
  // synchronous_commit off: a batch's commit does not wait for its WAL flush (measured: most of a 1000-row
  // batch's time on an ordinary disk). A crash may lose the last few batches, but each lost one loses its data
  // and its progress row together (one statement), so the resume redoes exactly those: still exactly once.
  await client.query(
    `select set_config('statement_timeout', $1, false), set_config('synchronous_commit', 'off', false)`,
    [String(ctx.statementMs)],
  );
  const result = (status: BackfillResult['status'], stoppedBy?: string): BackfillResult => ({
    name: w.name,
    table: w.tableName,
    key: w.keyText,
    status,
    rowsDone: done,
    rowsUpdated: updated,
    batches,
    durationMs: Math.round(performance.now() - started),
    resumed: w.resumed,
    ...(stoppedBy ? { stoppedBy } : {}),
  });
  try {
    for (;;) {
      if (ctx.signal?.aborted) return result('stopped', String(ctx.signal.reason));
      if (spec.maxLagMs !== undefined) {
        let lag = await replicationLagMs(client);
        if (lag > spec.maxLagMs) {
          // Reported once per wait (and once when it ends), not once per look: a CI log stays readable.
          const since = performance.now();
          ctx.emit({
            type: 'backfill-throttled',
            name: w.name,
            reason: 'replication-lag',
            figure: lag,
            limitMs: spec.maxLagMs,
            pauseMs: LAG_POLL_MS,
          });
          while (lag > spec.maxLagMs && !ctx.signal?.aborted) {
            await sleep(LAG_POLL_MS, undefined, { signal: ctx.signal }).catch(() => {});
            if (!ctx.signal?.aborted) lag = await replicationLagMs(client);
          }
          if (ctx.signal?.aborted) return result('stopped', String(ctx.signal.reason));
          ctx.emit({
            type: 'backfill-resumed',
            name: w.name,
            reason: 'replication-lag',
            figure: lag,
            throttledMs: Math.round(performance.now() - since),
          });
        }
      }
      const batch = await runBatch(
        client,
        ctx.lockRetry,
        lockTimeout,
        lastKey === null ? firstSql : nextSql,
        lastKey === null ? [spec.batchSize, w.name] : [...decodeKey(lastKey, keyNames.length), spec.batchSize, w.name],
        w.name,
      );
      if (batch.scanned === 0 || batch.hi === null) break;
      lastKey = batch.hi;
      done += batch.scanned;
      updated += batch.updated;
      batches += 1;
      const elapsed = performance.now() - started;
      ctx.emit({
        type: 'backfill-progress',
        name: w.name,
        table: w.tableName,
        rowsDone: done,
        rowsUpdated: updated,
        estimate: w.estimate,
        batches,
        ...progressOf(done, w.row.rowsScanned, w.estimate, elapsed),
      });
      if (batch.scanned < spec.batchSize) break;
      const caused = watch?.blockedSince();
      const waited = (caused?.blocked ?? 0) > 0;
      const next = nextPause(spec.pauseMs, pauseMs, waited);
      if (waited && next > pauseMs) {
        slowedSince ??= performance.now();
        ctx.emit({
          type: 'backfill-throttled',
          name: w.name,
          reason: 'lock-waits',
          figure: caused!.blocked,
          limitMs: next,
          pauseMs: next,
        });
      } else if (!waited && slowedSince !== undefined) {
        ctx.emit({
          type: 'backfill-resumed',
          name: w.name,
          reason: 'lock-waits',
          figure: 0,
          throttledMs: Math.round(performance.now() - slowedSince),
        });
        slowedSince = undefined;
      }
      pauseMs = next;
      if (pauseMs > 0 && !ctx.signal?.aborted) await sleep(pauseMs, undefined, { signal: ctx.signal }).catch(() => {});
    }
    await w.log.finish(w.name);
    return result('finished');
  } finally {
    await client.query('reset statement_timeout; reset lock_timeout; reset synchronous_commit').catch(() => {});
    await watch?.stop();
    await ops?.close();
  }
}

/** One batch under the lock-retry policy: a lock timeout (a writer holds one of its rows) retries the same batch. */
async function runBatch(
  client: Client,
  policy: LockRetryPolicy,
  lockTimeout: { current: number },
  sql: string,
  params: unknown[],
  name: string,
): Promise<{ hi: string | null; scanned: number; updated: number }> {
  for (let attempt = 1; ; attempt += 1) {
    const ms = policy.lockTimeoutMs(attempt);
    if (ms !== lockTimeout.current) {
      await client.query(`select set_config('lock_timeout', $1, false)`, [`${ms}ms`]);
      lockTimeout.current = ms;
    }
    try {
      const { rows } = await client.query<{ hi: string | null; scanned: number; updated: number; logged: number }>(
        sql,
        params,
      );
      const r = rows[0]!;
      if (r.logged !== 1)
        throw new MigrateError(
          'backfill-log-lost',
          `The progress row of backfill ${name} disappeared while it ran; nothing of the last batch was kept.`,
          { hint: 'Run the command again: it starts over from the first key.' },
        );
      return { hi: r.hi, scanned: r.scanned, updated: r.updated };
    } catch (error) {
      const wait =
        (error as { code?: string }).code === LOCK_NOT_AVAILABLE ? policy.retryAfterMs(attempt, error) : undefined;
      if (wait === undefined) {
        if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) {
          throw new MigrateError(
            'backfill-lock-timeout',
            `A batch of backfill ${name} could not lock its rows in ${attempt} attempts: writers held them.`,
            {
              hint: 'Every finished batch is kept: run the same command again to resume, at a quieter time or with a smaller --batch-size.',
              cause: error,
            },
          );
        }
        throw error;
      }
      await sleep(wait);
    }
  }
}
