/**
 * Reading another migration tool's history table, for `migrate baseline --from TOOL`. Read-only by
 * construction: every read runs in a `READ ONLY` transaction, so not even a bug here could alter the table a
 * team may still need to switch back to. Runs SQL and nothing else (STYLE 8); the baseline rules are in core.
 *
 * What each tool keeps (from their documentation):
 * - golang-migrate: `schema_migrations(version bigint, dirty boolean)`, one row, the current version; a
 *   dirty row means its last migration failed part-way (`migrate force V` is its repair).
 * - dbmate: `schema_migrations(version varchar)`, one row per applied version (it can apply out of order).
 * - node-pg-migrate: `pgmigrations(id, name, run_on)`, one row per applied file, `name` is the file name
 *   without extension, starting with its numeric prefix.
 * - Flyway: `flyway_schema_history(installed_rank, version, type, success, ...)`, an append-only log: failed
 *   rows (`success = false`), repeatable migrations (no version), baselines, undo and delete markers.
 */
import type { TableRef } from '../config/settings.js';
import { MigrateError, usageError } from '../errors.js';
import type { Client } from './connection.js';
import { describeTable } from './history.js';
import { tableColumns } from './introspect.js';
import { inTransaction } from './transaction.js';
import { quoteTable } from './quote.js';

export const FOREIGN_TOOLS = ['golang-migrate', 'dbmate', 'node-pg-migrate', 'flyway'] as const;
export type ForeignTool = (typeof FOREIGN_TOOLS)[number];

/** Where each tool keeps its history by default. */
export const DEFAULT_FOREIGN_TABLES: Readonly<Record<ForeignTool, TableRef>> = {
  'golang-migrate': { schema: 'public', table: 'schema_migrations' },
  dbmate: { schema: 'public', table: 'schema_migrations' },
  'node-pg-migrate': { schema: 'public', table: 'pgmigrations' },
  flyway: { schema: 'public', table: 'flyway_schema_history' },
};

const REQUIRED: Readonly<Record<ForeignTool, readonly string[]>> = {
  'golang-migrate': ['version', 'dirty'],
  dbmate: ['version'],
  'node-pg-migrate': ['name', 'run_on'],
  flyway: ['installed_rank', 'version', 'type', 'success'],
};

export interface ForeignHistory {
  readonly tool: ForeignTool;
  readonly table: TableRef;
  /** Versions that tool recorded one by one as applied, ascending. */
  readonly versions: readonly bigint[];
  /**
   * Every version up to this one counts as applied: golang-migrate keeps only its current version, and a
   * Flyway BASELINE row stands for everything up to it. Undefined when the tool records each version.
   */
  readonly upTo: bigint | undefined;
}

function bad(tool: ForeignTool, table: TableRef, message: string, hint: string): MigrateError {
  return new MigrateError('foreign-history-unusable', `${tool}'s history in ${describeTable(table)}: ${message}`, {
    hint,
  });
}

function digits(tool: ForeignTool, table: TableRef, value: string, what: string): bigint {
  const match = /^\d+/.exec(value.trim());
  if (!match || (tool !== 'node-pg-migrate' && match[0] !== value.trim())) {
    throw bad(
      tool,
      table,
      `${what} "${value}" is not a whole-number version, and a tidemark version is the leading digits of a file name.`,
      'Rename the migration files to numeric versions first, or baseline by hand: migrate baseline V.',
    );
  }
  return BigInt(match[0]);
}

/** Reads `tool`'s history from `table` without changing anything. */
export async function readForeignHistory(client: Client, tool: ForeignTool, table: TableRef): Promise<ForeignHistory> {
  return inTransaction(client, () => read(client, tool, table), { mode: 'transaction read only' });
}

async function read(client: Client, tool: ForeignTool, table: TableRef): Promise<ForeignHistory> {
  const columns = await tableColumns(client, table);
  if (columns === undefined || columns.size === 0) {
    throw usageError(
      'foreign-history-not-found',
      `There is no table ${describeTable(table)}, where ${tool} keeps its history.`,
      {
        hint: `If ${tool} was configured with another table, pass it: {{foreignTable}}`,
      },
    );
  }
  const have = new Set(columns.keys());
  const missing = REQUIRED[tool].filter((c) => !have.has(c));
  if (missing.length > 0) {
    throw bad(
      tool,
      table,
      `the table has no ${missing.join(', ')} column (it has ${[...have].join(', ')}), so it is not ${tool}'s.`,
      'Check {{foreignTool}}.',
    );
  }
  const name = quoteTable(table);
  const result = (versions: bigint[], upTo?: bigint): ForeignHistory => ({
    tool,
    table,
    versions: [...new Set(versions)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    upTo,
  });

  switch (tool) {
    case 'golang-migrate': {
      const { rows } = await client.query<{ version: string; dirty: boolean }>(
        `select version::text as version, dirty from ${name}`,
      );
      if (rows.length === 0) return result([]);
      if (rows.length > 1)
        throw bad(
          tool,
          table,
          `it has ${rows.length} rows; golang-migrate keeps exactly one.`,
          'Check {{foreignTool}}.',
        );
      const row = rows[0]!;
      if (row.dirty) {
        throw bad(
          tool,
          table,
          `version ${row.version} is marked dirty: its migration failed part-way, so the database's state is unknown.`,
          `Fix the database by hand and clear the mark with golang-migrate first (migrate force ${row.version}), then baseline.`,
        );
      }
      // golang-migrate's "no version" after a full rollback is -1 (NilVersion).
      if (row.version.startsWith('-')) return result([]);
      return result([], digits(tool, table, row.version, 'version'));
    }
    case 'dbmate': {
      const { rows } = await client.query<{ version: string }>(`select version::text as version from ${name}`);
      return result(rows.map((r) => digits(tool, table, r.version, 'version')));
    }
    case 'node-pg-migrate': {
      const { rows } = await client.query<{ name: string }>(`select name::text as name from ${name} order by run_on`);
      return result(rows.map((r) => digits(tool, table, r.name, 'migration name')));
    }
    case 'flyway': {
      const { rows } = await client.query<{ version: string | null; type: string; success: boolean }>(
        `select version::text as version, type::text as type, success from ${name} order by installed_rank`,
      );
      const failed = rows.filter((r) => !r.success);
      if (failed.length > 0) {
        throw bad(
          tool,
          table,
          `version${failed.length === 1 ? '' : 's'} ${failed.map((r) => r.version ?? '(repeatable)').join(', ')} failed (success = false).`,
          'Fix the database by hand and clean the history with flyway repair first, then baseline.',
        );
      }
      const applied = new Set<bigint>();
      let baseline: bigint | undefined;
      for (const r of rows) {
        // Repeatable migrations have no version; the row Flyway writes when it creates the schema is no migration.
        if (r.version === null || r.version === '' || r.type === 'SCHEMA') continue;
        const v = digits(tool, table, r.version, 'version');
        if (r.type === 'BASELINE') baseline = v;
        // An undo, or a migration marked deleted by `flyway repair`, is no longer applied.
        else if (r.type.startsWith('UNDO') || r.type === 'DELETE') applied.delete(v);
        else applied.add(v);
      }
      return result([...applied], baseline);
    }
  }
}
