/**
 * The tables whose rows pg_dump writes as TABLE DATA entries: ordinary tables (relkind r, which includes each
 * partition; a partitioned parent holds no rows) outside the system schemas, minus tables that belong to an
 * extension unless the extension marked them as configuration (pg_extension_config_dump). Views, foreign
 * tables, sequences and materialized views have no TABLE DATA entry. Unlogged tables do, except on a hot
 * standby, where pg_dump skips their data (it cannot be read there).
 */
import type { ClientBase } from 'pg';
import { expectedLabel } from './archive.js';

export interface DumpedTable {
  readonly oid: string;
  readonly schema: string;
  readonly name: string;
  readonly owner: string;
}

export function qualified(table: { readonly schema: string; readonly name: string }): string {
  return `${table.schema}.${table.name}`;
}

export async function tablesWithData(client: ClientBase): Promise<DumpedTable[]> {
  const { rows } = await client.query<DumpedTable>(
    `select c.oid::text as oid, n.nspname as schema, c.relname as name, pg_get_userbyid(c.relowner) as owner
       from pg_class c
       join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'r'
        and n.nspname <> 'information_schema'
        and n.nspname !~ '^pg_'
        and (c.relpersistence <> 'u' or not pg_is_in_recovery())
        and not exists (
              select 1 from pg_depend d
               where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e'
                 and not exists (select 1 from pg_extension e where c.oid = any (e.extconfig)))
      order by n.nspname, c.relname`,
  );
  return rows;
}

export interface TableDataComparison {
  readonly missing: readonly string[];
  readonly unexpected: readonly string[];
}

/**
 * Compares the TABLE DATA entries of an archive with the tables expected in it. Entries are matched by the
 * table oid pg_dump records (names may contain spaces, which the listing does not quote), then by label.
 */
export function compareTableData(
  expected: readonly DumpedTable[],
  listed: readonly { readonly oid: string; readonly label: string }[],
): TableDataComparison {
  const want = new Map(expected.map((t) => [t.oid, t]));
  const got = new Map(listed.map((l) => [l.oid, l.label]));
  const missing: string[] = [];
  const unexpected: string[] = [];
  for (const table of expected) {
    const label = got.get(table.oid);
    if (label !== expectedLabel(table.schema, table.name, table.owner)) missing.push(qualified(table));
  }
  for (const entry of listed) {
    const table = want.get(entry.oid);
    if (table === undefined || entry.label !== expectedLabel(table.schema, table.name, table.owner)) {
      unexpected.push(entry.label);
    }
  }
  return { missing, unexpected };
}
