/**
 * The backfill log: one row per backfill beside the tracking table (`<table>_backfills`), holding how far it
 * got. The batch itself updates its row in the same statement that updates the data (see ops/backfill.ts), so
 * a kill at any moment leaves the log and the data agreeing: a finished batch is never redone.
 * Runs SQL and nothing else (STYLE 8).
 */
import type { TableRef } from '../config/settings.js';
import type { Client } from './connection.js';
import { createOwnTable } from './history.js';
import { quoteTable, sibling } from './quote.js';

export interface BackfillRow {
  readonly name: string;
  readonly tableName: string;
  readonly keyColumn: string;
  readonly setSql: string;
  readonly whereSql: string | null;
  /** The last key of the last finished batch (as text); null before the first. */
  readonly lastKey: string | null;
  readonly rowsScanned: number;
  readonly rowsUpdated: number;
  readonly batches: number;
  readonly startedAt: Date;
  readonly finishedAt: Date | null;
}

export function backfillLogRef(trackingTable: TableRef): TableRef {
  return sibling(trackingTable, `${trackingTable.table}_backfills`);
}

export class BackfillLog {
  readonly #client: Client;
  readonly #ref: TableRef;

  constructor(client: Client, trackingTable: TableRef) {
    this.#client = client;
    this.#ref = backfillLogRef(trackingTable);
  }

  /** The quoted table name, for the batch statement that updates its row. */
  get table(): string {
    return quoteTable(this.#ref);
  }

  async ensure(): Promise<void> {
    // Looked up first: CREATE TABLE IF NOT EXISTS checks the schema's CREATE privilege before it looks, and
    // `create schema if not exists` the database's, so a role granted only CREATE on schema public (or
    // nothing, once the owner made the log) could not run a backfill.
    const { rows } = await this.#client.query<{ t: string | null }>('select to_regclass($1)::text as t', [this.table]);
    if (rows[0]?.t) return;
    await createOwnTable(
      this.#client,
      this.#ref,
      'the backfill log',
      `create table if not exists ${this.table} (
         name text primary key,
         table_name text not null,
         key_column text not null,
         set_sql text not null,
         where_sql text,
         last_key text,
         rows_scanned bigint not null default 0,
         rows_updated bigint not null default 0,
         batches integer not null default 0,
         started_at timestamptz not null default now(),
         updated_at timestamptz not null default now(),
         finished_at timestamptz
       )`,
    );
  }

  async read(name: string): Promise<BackfillRow | undefined> {
    const { rows } = await this.#client.query<{
      name: string;
      table_name: string;
      key_column: string;
      set_sql: string;
      where_sql: string | null;
      last_key: string | null;
      rows_scanned: string;
      rows_updated: string;
      batches: number;
      started_at: Date;
      finished_at: Date | null;
    }>(`select * from ${this.table} where name = $1`, [name]);
    const r = rows[0];
    if (!r) return undefined;
    return {
      name: r.name,
      tableName: r.table_name,
      keyColumn: r.key_column,
      setSql: r.set_sql,
      whereSql: r.where_sql,
      lastKey: r.last_key,
      rowsScanned: Number(r.rows_scanned),
      rowsUpdated: Number(r.rows_updated),
      batches: r.batches,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
    };
  }

  /** A new row, or the existing one reset (--restart). */
  async start(row: {
    name: string;
    tableName: string;
    keyColumn: string;
    setSql: string;
    whereSql: string | null;
  }): Promise<void> {
    await this.#client.query(
      `insert into ${this.table} (name, table_name, key_column, set_sql, where_sql) values ($1, $2, $3, $4, $5)
       on conflict (name) do update set table_name = excluded.table_name, key_column = excluded.key_column,
         set_sql = excluded.set_sql, where_sql = excluded.where_sql, last_key = null, rows_scanned = 0,
         rows_updated = 0, batches = 0, started_at = now(), updated_at = now(), finished_at = null`,
      [row.name, row.tableName, row.keyColumn, row.setSql, row.whereSql],
    );
  }

  async finish(name: string): Promise<void> {
    await this.#client.query(`update ${this.table} set finished_at = now(), updated_at = now() where name = $1`, [
      name,
    ]);
  }
}
