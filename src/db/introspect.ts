/**
 * The small catalog reads every part of tidemark shares: which columns a table has (the tracking table, the
 * repairs and backup logs, another tool's history) and the server's version. The full catalog for lint
 * (db/catalog.ts) is loaded lazily; these stay small so the eager path does not pay for it.
 */
import type { ClientBase } from 'pg';
import type { TableRef } from '../config/settings.js';

/**
 * Column name -> type (format_type, e.g. `character varying(255)`) of `table`, in column order; an empty map
 * for a relation without columns; undefined when no relation of that name exists in that schema.
 */
export async function tableColumns(client: ClientBase, table: TableRef): Promise<Map<string, string> | undefined> {
  const { rows } = await client.query<{ name: string | null; type: string | null }>(
    `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type
       from pg_catalog.pg_class c
       join pg_catalog.pg_namespace n on n.oid = c.relnamespace
       left join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      where n.nspname = $1 and c.relname = $2
      order by a.attnum`,
    [table.schema, table.table],
  );
  if (rows.length === 0) return undefined;
  return new Map(rows.filter((r) => r.name !== null).map((r) => [r.name!, r.type!]));
}

/** server_version_num of the connected server, e.g. 150004 for 15.4. */
export async function serverVersionNum(client: ClientBase): Promise<number> {
  const { rows } = await client.query<{ v: string }>("select current_setting('server_version_num') as v");
  return Number(rows[0]?.v);
}
