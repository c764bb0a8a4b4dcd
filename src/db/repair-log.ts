/**
 * The repairs log: one row per change to the history that did not come from running a migration
 * (`migrate repair`, `migrate baseline`), kept in a table beside the tracking table (`<table>_repairs`).
 * Runs SQL and nothing else (STYLE 8). Contract: record() is called inside the same transaction as the change it
 * describes, so a repair and its record commit together or not at all.
 */
import type { TableRef } from '../config/settings.js';
import { MigrateError } from '../errors.js';
import type { Client } from './connection.js';
import { createOwnTable, describeTable } from './history.js';
import { tableColumns } from './introspect.js';
import { quoteTable, sibling } from './quote.js';

export type RepairAction = 'clear-dirty' | 'accept-checksum' | 'rerun' | 'baseline';

export interface RepairRecord {
  readonly version: string;
  readonly action: RepairAction;
  readonly oldChecksum: string | null;
  readonly newChecksum: string | null;
  readonly wasDirty: boolean;
  /** The operating-system user and host that ran the command (`alice@laptop`). */
  readonly repairedBy: string;
}

export interface RepairRow extends RepairRecord {
  readonly id: number;
  /** The database role that made the change. */
  readonly dbUser: string;
  readonly repairedAt: Date;
}

const COLUMNS = [
  'id',
  'version',
  'action',
  'old_checksum',
  'new_checksum',
  'was_dirty',
  'repaired_by',
  'db_user',
  'repaired_at',
];

/** The log's table for a tracking table: `schema_migrations` -> `schema_migrations_repairs`, same schema. */
export function repairLogTable(tracking: TableRef): TableRef {
  return sibling(tracking, `${tracking.table}_repairs`);
}

export class RepairLog {
  readonly #client: Client;
  readonly #ref: TableRef;
  readonly #table: string;

  constructor(client: Client, tracking: TableRef) {
    this.#client = client;
    this.#ref = repairLogTable(tracking);
    this.#table = quoteTable(this.#ref);
  }

  get ref(): TableRef {
    return this.#ref;
  }

  /** False when the table does not exist; throws (exit 2) when a table of that name has another shape. */
  async exists(): Promise<boolean> {
    const have = await tableColumns(this.#client, this.#ref);
    if (have === undefined) return false;
    const missing = COLUMNS.filter((c) => !have.has(c));
    if (missing.length > 0) {
      throw new MigrateError(
        'foreign-repair-log',
        `The table ${describeTable(this.#ref)} exists but is not tidemark's repairs log (it lacks ${missing.join(', ')}). tidemark left it untouched.`,
        {
          hint: 'Rename that table, or point tidemark at another tracking table with {{trackingTable}} (the log is named after it).',
        },
      );
    }
    return true;
  }

  async ensure(): Promise<void> {
    if (await this.exists()) return;
    await createOwnTable(
      this.#client,
      this.#ref,
      'the repair log',
      `create table if not exists ${this.#table} (
         id bigint generated always as identity primary key,
         version text not null,
         action text not null,
         old_checksum text,
         new_checksum text,
         was_dirty boolean not null default false,
         repaired_by text not null,
         db_user text not null default current_user,
         repaired_at timestamptz not null default now()
       )`,
    );
  }

  async record(record: RepairRecord): Promise<void> {
    await this.#client.query(
      `insert into ${this.#table} (version, action, old_checksum, new_checksum, was_dirty, repaired_by)
       values ($1, $2, $3, $4, $5, $6)`,
      [record.version, record.action, record.oldChecksum, record.newChecksum, record.wasDirty, record.repairedBy],
    );
  }

  /** Every repair, oldest first; [] when the log does not exist yet. */
  async read(): Promise<RepairRow[]> {
    // Asked first whether the log exists (to_regclass answers null, never an error), then read only when it
    // does: most databases never had a repair, and a select of the missing table left "ERROR: relation ... does
    // not exist" in the server's log on every `status` (a deploy gate runs it on every deploy). `status` sends
    // the question right behind the history's query, so its answer arrives while the files are read. A missing
    // column is a foreign table, which exists() explains.
    const { rows } = await this.#client.query<{ present: boolean }>('select to_regclass($1) is not null as present', [
      this.#table,
    ]);
    if (!rows[0]?.present) return [];
    try {
      return await this.#select();
    } catch (error) {
      const code = (error as { code?: string }).code;
      // Dropped between the two queries.
      if (code === '42P01' || code === '3F000') return [];
      if (code === '42703' && !(await this.exists())) return [];
      throw error;
    }
  }

  async #select(): Promise<RepairRow[]> {
    const { rows } = await this.#client.query<{
      id: string;
      version: string;
      action: RepairAction;
      old_checksum: string | null;
      new_checksum: string | null;
      was_dirty: boolean;
      repaired_by: string;
      db_user: string;
      repaired_at: Date;
    }>(
      `select id, version, action, old_checksum, new_checksum, was_dirty, repaired_by, db_user, repaired_at from ${this.#table} order by id`,
    );
    return rows.map((r) => ({
      id: Number(r.id),
      version: r.version,
      action: r.action,
      oldChecksum: r.old_checksum,
      newChecksum: r.new_checksum,
      wasDirty: r.was_dirty,
      repairedBy: r.repaired_by,
      dbUser: r.db_user,
      repairedAt: r.repaired_at,
    }));
  }
}
