/**
 * The tracking table. HistoryStore runs SQL and nothing else (STYLE 8): the migrator decides what to write.
 * Every read and write of the tracking table goes through it (the backup module's included).
 *
 * Contract, for whoever adds a method or another store:
 * - It works on the connection it is given and never opens, ends or switches one; it begins no transaction
 *   (callers wrap writes with db/transaction.ts inTransaction, or run them in the migration's own query).
 * - read() returns every row ordered by version number; latestVersion() the newest numeric one or null.
 * - For a transactional migration the row rides in the migration's own transaction, so the row and the
 *   schema change commit together or not at all. For a no-transaction one, insertApplied({ dirty: true })
 *   (up) or markDirty() (down) runs first, outside any transaction, so the mark survives a failure, and
 *   markClean() (or delete()) after it succeeds.
 * - exists() never alters a table of another shape: it throws foreign-tracking-table (exit 2) instead.
 *   ensure() creates the schema and table only when missing.
 * - Writes assume the caller holds the runner lock (db/lock.ts); reads do not need it.
 */
import type { TableRef } from '../config/settings.js';
import { MigrateError } from '../errors.js';
import type { Client } from './connection.js';
import { tableColumns } from './introspect.js';
import { quoteIdent, quoteLiteral, quoteTable } from './quote.js';

export interface HistoryRow {
  readonly version: string;
  readonly name: string;
  readonly checksum: string;
  readonly appliedAt: Date;
  readonly executionMs: number;
  readonly appliedBy: string;
  readonly dirty: boolean;
  /**
   * A dirty no-transaction migration: how many of its statements completed, and the checksum of those
   * statements' text (so a resume knows they are still the same). Undefined on tables from before these
   * columns existed, and on clean rows.
   */
  readonly statementsDone?: number | undefined;
  readonly statementsChecksum?: string | undefined;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export interface AppliedRecord {
  readonly version: string;
  readonly name: string;
  readonly checksum: string;
  readonly executionMs: number;
  readonly appliedBy: string;
  readonly dirty?: boolean;
}

const REQUIRED_COLUMNS = ['version', 'name', 'checksum', 'applied_at', 'execution_ms', 'applied_by', 'dirty'];
/** Added later (issue 14), on the first no-transaction migration: older tracking tables keep working without them. */
const PROGRESS_COLUMNS = ['statements_done', 'statements_checksum'];

/**
 * The text of the errors our own statements raise on purpose (SQLSTATE 22P02, see failUnless): the file ended
 * the runner's transaction itself, or a migration sent ahead found that the one before it did not commit.
 */
export const TRANSACTION_ENDED = 'tidemark: the migration ended its own transaction';
export const PREVIOUS_NOT_DONE = 'tidemark: the migration before this one did not commit';

/**
 * SQL that is true when `condition` holds and fails otherwise, with `text` in the error message
 * (`invalid input syntax for type boolean: "<text>"`, SQLSTATE 22P02). Plain SQL (no PL/pgSQL): the CASE is not
 * constant (current_setting is stable), so the cast runs only when the condition is false (a constant would be
 * cast, and fail, when the statement is planned); in a WHERE clause without column references it is a
 * one-time filter, evaluated once even when no row matches.
 */
function failUnless(condition: string, text: string): string {
  return `(case when ${condition} then 'true' else ${QUOTED[text] ?? quoteLiteral(text)} end)::boolean`;
}

/** Our failure texts as SQL literals, quoted once: failUnless runs for every migration. */
const QUOTED: Record<string, string> = {
  [TRANSACTION_ENDED]: quoteLiteral(TRANSACTION_ENDED),
  [PREVIOUS_NOT_DONE]: quoteLiteral(PREVIOUS_NOT_DONE),
};

/** Whether `error` is one that failUnless raised with `text`. */
export function isOwnFailure(error: unknown, text: string): boolean {
  const e = error as { code?: string; message?: string } | undefined;
  return e?.code === '22P02' && typeof e.message === 'string' && e.message.includes(text);
}

export function describeTable(ref: TableRef): string {
  return ref.schema === 'public' ? ref.table : `${ref.schema}.${ref.table}`;
}

/** Names the tool whose tracking table has these columns, for the foreign-table message. */
export function guessOwner(columns: ReadonlyMap<string, string>): string {
  const names = [...columns.keys()].sort().join(',');
  if (names === 'dirty,version') return 'golang-migrate (version bigint, dirty boolean)';
  if (names === 'version') return 'Rails or dbmate (a single version column)';
  if (columns.has('installed_rank')) return 'Flyway';
  if (columns.has('run_on')) return 'node-pg-migrate';
  if (columns.has('applied') && columns.has('migration_id')) return 'Sqitch';
  return 'another tool';
}

/**
 * Creates `schema` when it does not exist. Not `create schema if not exists` alone: PostgreSQL checks the
 * database's CREATE privilege before it looks, so a role granted CREATE on an existing schema (the usual
 * least-privilege setup since PostgreSQL 15: `grant create on schema public to app`) would be refused.
 */
export async function ensureSchema(client: Client, schema: string): Promise<void> {
  const { rowCount } = await client.query('select 1 from pg_catalog.pg_namespace where nspname = $1', [schema]);
  if (rowCount) return;
  await client.query(`create schema if not exists ${quoteIdent(schema)}`);
}

/**
 * Creates one of tidemark's tables (the tracking table, or a log beside it) and its schema when missing. A
 * missing privilege becomes one paragraph with the GRANT: PostgreSQL 15 no longer lets every role create in
 * schema public, and a least-privilege role's first `up` met it as an "Unexpected error".
 */
export async function createOwnTable(client: Client, ref: TableRef, what: string, create: string): Promise<void> {
  try {
    await ensureSchema(client, ref.schema);
    await client.query(create);
  } catch (error) {
    if ((error as { code?: string }).code !== '42501') throw error;
    throw new MigrateError(
      'tracking-table-denied',
      `The role cannot create ${what} ${describeTable(ref)}: ${(error as Error).message} (42501).`,
      {
        hint: `Grant CREATE on schema ${ref.schema} to the role (and CREATE on the database if the schema does not exist), or have the table's owner create it once (its first run does).`,
        cause: error,
      },
    );
  }
}

export class HistoryStore {
  readonly #client: Client;
  readonly #ref: TableRef;
  readonly #table: string;

  constructor(client: Client, ref: TableRef) {
    this.#client = client;
    this.#ref = ref;
    this.#table = quoteTable(ref);
  }

  get ref(): TableRef {
    return this.#ref;
  }

  /**
   * The newest version recorded (numeric order of leading-digit versions); null when the table is absent or
   * empty. Read by the backup module: the version a backup is taken "before", and a restored database's.
   */
  async latestVersion(): Promise<string | null> {
    const { rows: exists } = await this.#client.query<{ t: string | null }>('select to_regclass($1)::text as t', [
      this.#table,
    ]);
    if (exists[0]?.t === null || exists[0]?.t === undefined) return null;
    const { rows } = await this.#client.query<{ version: string }>(
      `select version::text as version from ${this.#table}
        where version::text ~ '^[0-9]+$'
        order by version::text::numeric desc
        limit 1`,
    );
    return rows[0]?.version ?? null;
  }

  /** Column name -> data type of the table, or undefined when it does not exist. */
  columns(): Promise<Map<string, string> | undefined> {
    return tableColumns(this.#client, this.#ref);
  }

  /** Throws (exit 2) when a table of this name exists with another tool's shape; never alters it. */
  async exists(): Promise<boolean> {
    const columns = await this.columns();
    if (columns === undefined) return false;
    const missing = REQUIRED_COLUMNS.filter((c) => !columns.has(c));
    if (missing.length > 0) {
      const name = describeTable(this.#ref);
      throw new MigrateError(
        'foreign-tracking-table',
        `The table ${name} exists but is not tidemark's tracking table: it looks like ${guessOwner(columns)}'s ` +
          `(columns: ${[...columns.keys()].join(', ')}). tidemark left it untouched.`,
        {
          hint:
            `Point tidemark at another table with {{trackingTable}} (e.g. tidemark_migrations, or schema.table); ` +
            `to adopt that tool's history, see {{adoptHistory}}.`,
        },
      );
    }
    return true;
  }

  /** Creates the schema and table when absent; checks the shape when present. */
  async ensure(): Promise<void> {
    if (await this.exists()) return;
    await createOwnTable(
      this.#client,
      this.#ref,
      'the tracking table',
      `create table if not exists ${this.#table} (
         version text primary key,
         name text not null,
         checksum text not null,
         applied_at timestamptz not null default now(),
         execution_ms integer not null default 0,
         applied_by text not null default current_user,
         dirty boolean not null default false,
         statements_done integer,
         statements_checksum text
       )`,
    );
  }

  /**
   * Adds the progress columns of resumable no-transaction migrations to a table created before they existed.
   * Nullable, no default: a catalog-only change. Asked of the catalog first, because ALTER TABLE takes its lock
   * even when IF NOT EXISTS then finds the column.
   */
  async ensureProgressColumns(): Promise<void> {
    const columns = await this.columns();
    if (!columns || PROGRESS_COLUMNS.every((c) => columns.has(c))) return;
    await this.#client.query(
      `alter table ${this.#table} add column if not exists statements_done integer, add column if not exists statements_checksum text`,
    );
  }

  /** After each statement of a no-transaction migration: how far it got. */
  async recordProgress(version: string, statementsDone: number, statementsChecksum: string): Promise<void> {
    await this.#client.query(
      `update ${this.#table} set statements_done = $2, statements_checksum = $3 where version = $1`,
      [version, statementsDone, statementsChecksum],
    );
  }

  /** A resumed migration runs the fixed file: the row takes its checksum (still dirty until the last statement). */
  async setChecksum(version: string, checksum: string): Promise<void> {
    await this.#client.query(`update ${this.#table} set checksum = $2 where version = $1`, [version, checksum]);
  }

  /** Every row, oldest version first; [] when the table does not exist yet. */
  async read(): Promise<HistoryRow[]> {
    // Optimistic: one query instead of a catalog look-up first (a new backend's first catalog query is the
    // slow part of a no-op `up`). A missing table or schema means no history; a missing column means another
    // tool's table, which exists() then explains. Never called inside a transaction (an error would abort it).
    let result;
    try {
      result = await this.#select();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === '42P01' || code === '3F000') return [];
      if (code === '42703') await this.exists();
      throw error;
    }
    const rows = JSON.parse(result.rows[0]?.rows ?? '[]') as [
      string,
      string,
      string,
      number,
      number,
      string,
      boolean,
      string | null,
      string | null,
    ][];
    // A plain loop with indexes, not map() with destructuring and a spread: it runs for every row of every pod
    // start, and that mapper was the costliest function V8's optimizing compiler picked up in a no-op `up`.
    const history: HistoryRow[] = [];
    for (let i = 0; i < rows.length; i += 1) {
      const r = rows[i]!;
      const done = r[7];
      const row: Mutable<HistoryRow> = {
        version: r[0],
        name: r[1],
        checksum: r[2],
        appliedAt: new Date(r[3]),
        executionMs: r[4],
        appliedBy: r[5],
        dirty: r[6],
      };
      if (done !== null && done !== undefined) {
        row.statementsDone = Number(done);
        row.statementsChecksum = r[8] ?? undefined;
      }
      history.push(row);
    }
    return history.sort((a, b) => compareVersions(a.version, b.version));
  }

  /**
   * The whole history as ONE JSON text value, parsed by JSON.parse: pg's row-by-row parsing of a thousand
   * rows cost ~25 ms of CPU in a cold process, every pod start; one value costs ~3 ms. applied_at travels as
   * epoch milliseconds (what a Date holds anyway). The rows come in compareVersions' order, so read()'s sort
   * (kept: it is the contract, whatever the server's collation) only confirms it: n-1 comparisons instead of
   * ~n log n, each two regular expressions in code that runs cold.
   */
  #select() {
    // The progress columns (issue 14) may not exist (a table from before them): they are read through
    // to_jsonb, and only for dirty rows, so the common read costs what it did.
    return this.#client.query<{ rows: string }>(
      `select coalesce(json_agg(json_build_array(version, name, checksum, extract(epoch from applied_at) * 1000, ` +
        `execution_ms, applied_by, dirty, case when dirty then to_jsonb(t) ->> 'statements_done' end, ` +
        `case when dirty then to_jsonb(t) ->> 'statements_checksum' end) order by ${VERSION_ORDER}), '[]')::text as rows ` +
        `from ${this.#table} t`,
    );
  }

  async insertApplied(record: AppliedRecord): Promise<void> {
    await this.#client.query(
      `insert into ${this.#table} (version, name, checksum, execution_ms, applied_by, dirty)
       values ($1, $2, $3, $4, $5, $6)`,
      [
        record.version,
        record.name,
        record.checksum,
        Math.round(record.executionMs),
        record.appliedBy,
        record.dirty ?? false,
      ],
    );
  }

  /**
   * The INSERT of an applied row as SQL text (literals quoted), for the migrator's one-round-trip run. It returns
   * the server-measured duration of the transaction so far. It fails (TRANSACTION_ENDED) unless the
   * transaction-local setting `marker` is still the version: a file that ended the runner's transaction itself
   * is noticed, and the error stops the rest of the query and any query sent behind it (core/executor).
   */
  insertAppliedSql(record: Omit<AppliedRecord, 'executionMs' | 'dirty'>, marker: string): string {
    // VALUES, not INSERT ... SELECT ... WHERE: cheaper to plan, and the check rides in the dirty column.
    return (
      `insert into ${this.#table} (version, name, checksum, execution_ms, applied_by, dirty) ` +
      `values (${quoteLiteral(record.version)}, ${quoteLiteral(record.name)}, ${quoteLiteral(record.checksum)}, ` +
      `(extract(epoch from clock_timestamp() - now()) * 1000)::int, ${quoteLiteral(record.appliedBy)}, ` +
      `not ${failUnless(`current_setting(${quoteLiteral(marker)}, true) = ${quoteLiteral(record.version)}`, TRANSACTION_ENDED)}) returning execution_ms`
    );
  }

  /** The DELETE of a row as SQL text: fails like insertAppliedSql unless it deleted the row inside the marked transaction. */
  deleteSql(version: string, marker: string): string {
    return (
      `with deleted as (delete from ${this.#table} where version = ${quoteLiteral(version)} returning 1) ` +
      `select ${failUnless(`count(*) = 1 and current_setting(${quoteLiteral(marker)}, true) = ${quoteLiteral(version)}`, TRANSACTION_ENDED)} as recorded from deleted`
    );
  }

  /**
   * A condition for a migration sent ahead of its turn (core/executor): it fails (PREVIOUS_NOT_DONE) unless
   * the migration before it committed, i.e. its row is there (up) or gone (down). Only the runner holding the
   * lock writes the table, so the row says what committed.
   */
  committedSql(version: string, direction: 'up' | 'down'): string {
    const present = `exists (select 1 from ${this.#table} where version = ${quoteLiteral(version)})`;
    return failUnless(direction === 'up' ? present : `not ${present}`, PREVIOUS_NOT_DONE);
  }

  async markClean(version: string, executionMs: number): Promise<void> {
    await this.#client.query(`update ${this.#table} set dirty = false, execution_ms = $2 where version = $1`, [
      version,
      Math.round(executionMs),
    ]);
  }

  /** For `migrate repair`: sets the row's checksum and dirty mark (inside the repair's transaction). */
  async repairRow(version: string, values: { checksum: string; dirty: boolean }): Promise<void> {
    await this.#client.query(`update ${this.#table} set checksum = $2, dirty = $3 where version = $1`, [
      version,
      values.checksum,
      values.dirty,
    ]);
  }

  async markDirty(version: string): Promise<void> {
    await this.#client.query(`update ${this.#table} set dirty = true where version = $1`, [version]);
  }

  async delete(version: string): Promise<void> {
    await this.#client.query(`delete from ${this.#table} where version = $1`, [version]);
  }
}

/** Orders versions by their numeric value (`001` < `2` < `10`); text that is not digits sorts last. */
export function compareVersions(a: string, b: string): number {
  const da = DIGITS.test(a);
  const db = DIGITS.test(b);
  if (da && db) {
    // Without BigInt (a sort calls this for every pair it compares): numbers of digits without leading zeros
    // first, then the digits themselves.
    const x = a.length > 1 && a.charCodeAt(0) === 48 ? a.replace(LEADING_ZEROS, '') : a;
    const y = b.length > 1 && b.charCodeAt(0) === 48 ? b.replace(LEADING_ZEROS, '') : b;
    if (x.length !== y.length) return x.length < y.length ? -1 : 1;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (da !== db) return da ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

const DIGITS = /^\d+$/;
/** compareVersions as SQL (digit versions first, by number; then the others, byte order). */
const VERSION_ORDER =
  `version::text !~ '^[0-9]+$', length(ltrim(version::text, '0')), ltrim(version::text, '0') collate "C", ` +
  `version::text collate "C"`;
/** Leading zeros, keeping the last digit: `000` is 0. */
const LEADING_ZEROS = /^0+(?=\d)/;
