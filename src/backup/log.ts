/**
 * The `db_backups` table beside the tracking table (same schema): one row per validated backup, as the seed's
 * backup script keeps. BackupLog runs SQL and nothing else; backupDatabase decides when to write.
 *
 * Contract: check() is read-only and is called before the dump, so a table of that name with another shape
 * stops the step before anything is written; record() creates the table when absent and inserts one row, in
 * autocommit (never inside a migration's transaction); list() returns [] when the table does not exist.
 */
import type { ClientBase } from 'pg';
import type { TableRef } from '../config/settings.js';
import { tableColumns } from '../db/introspect.js';
import { quoteTable, sibling } from '../db/quote.js';
import { MigrateError } from '../errors.js';

export const BACKUP_LOG_TABLE = 'db_backups';

export interface BackupRecord {
  readonly fileName: string;
  readonly createdAt: Date;
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly database: string;
  readonly versionBefore: string | null;
  readonly pgDumpVersion: string;
  readonly durationMs: number;
}

export interface LoggedBackup extends BackupRecord {
  readonly id: number;
}

const COLUMNS = [
  'file_name',
  'created_at',
  'size_bytes',
  'sha256',
  'database',
  'version_before',
  'pg_dump_version',
  'duration_ms',
];

export class BackupLog {
  readonly #client: ClientBase;
  readonly #ref: TableRef;

  /** `trackingTable` is MIGRATIONS_TABLE; the log lives in its schema. */
  constructor(client: ClientBase, trackingTable: TableRef) {
    this.#client = client;
    this.#ref = sibling(trackingTable, BACKUP_LOG_TABLE);
  }

  get table(): TableRef {
    return this.#ref;
  }

  async #columns(): Promise<Set<string> | undefined> {
    const columns = await tableColumns(this.#client, this.#ref);
    return columns === undefined ? undefined : new Set(columns.keys());
  }

  /** Throws `backup-log-foreign` (exit 1) when a db_backups table exists without tidemark's columns. */
  async check(): Promise<void> {
    const columns = await this.#columns();
    if (columns === undefined) return;
    const missing = COLUMNS.filter((c) => !columns.has(c));
    if (missing.length > 0) {
      const name = `${this.#ref.schema}.${this.#ref.table}`;
      throw new MigrateError(
        'backup-log-foreign',
        `The table ${name} exists but is not tidemark's backup log (it lacks ${missing.join(', ')}); tidemark does not alter it.`,
        {
          hint: `Rename it (ALTER TABLE ${name} RENAME TO db_backups_old) so tidemark can create its own, or add the missing columns.`,
          details: { table: name, missing },
        },
      );
    }
  }

  async #ensure(): Promise<void> {
    try {
      await this.#client.query(
        `create table if not exists ${quoteTable(this.#ref)} (
           id bigint generated always as identity primary key,
           file_name text not null,
           created_at timestamptz not null,
           size_bytes bigint not null,
           sha256 text not null,
           database text not null,
           version_before text,
           pg_dump_version text not null,
           duration_ms integer not null
         )`,
      );
    } catch (error) {
      // Two runners creating it at once: the loser sees a unique violation on the catalog; the table exists.
      if ((error as { code?: string }).code !== '23505' && (error as { code?: string }).code !== '42P07') throw error;
    }
  }

  async record(backup: BackupRecord): Promise<void> {
    await this.#ensure();
    await this.#client.query(
      `insert into ${quoteTable(this.#ref)}
         (file_name, created_at, size_bytes, sha256, database, version_before, pg_dump_version, duration_ms)
       values ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        backup.fileName,
        backup.createdAt,
        backup.sizeBytes,
        backup.sha256,
        backup.database,
        backup.versionBefore,
        backup.pgDumpVersion,
        Math.round(backup.durationMs),
      ],
    );
  }

  /** Newest first. */
  async list(limit = 100): Promise<LoggedBackup[]> {
    if ((await this.#columns()) === undefined) return [];
    const { rows } = await this.#client.query<{
      id: string;
      file_name: string;
      created_at: Date;
      size_bytes: string;
      sha256: string;
      database: string;
      version_before: string | null;
      pg_dump_version: string;
      duration_ms: number;
    }>(
      `select id::text, file_name, created_at, size_bytes::text, sha256, database, version_before, pg_dump_version, duration_ms
         from ${quoteTable(this.#ref)}
        order by created_at desc, id desc
        limit $1`,
      [limit],
    );
    return rows.map((r) => ({
      id: Number(r.id),
      fileName: r.file_name,
      createdAt: r.created_at,
      sizeBytes: Number(r.size_bytes),
      sha256: r.sha256,
      database: r.database,
      versionBefore: r.version_before,
      pgDumpVersion: r.pg_dump_version,
      durationMs: r.duration_ms,
    }));
  }
}
