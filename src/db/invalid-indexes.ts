/**
 * INVALID indexes: what a failed `CREATE INDEX CONCURRENTLY` or `REINDEX CONCURRENTLY` leaves behind. Such an
 * index is still maintained on every write but never used by queries, and a rerun with `IF NOT EXISTS` would
 * keep it silently. https://www.postgresql.org/docs/current/sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY
 */
import type { Client } from './connection.js';
import { quoteIdent } from './quote.js';

export interface InvalidIndex {
  readonly schema: string;
  readonly name: string;
  readonly table: string;
  /** `DROP INDEX CONCURRENTLY IF EXISTS "schema"."name";` */
  readonly dropStatement: string;
}

export interface InvalidIndexFilter {
  /** The table as written in the SQL (`orders`, `shop.orders`); resolved with the session's search_path. */
  readonly table?: string | undefined;
  /** Only the index of this name (unqualified). */
  readonly name?: string | undefined;
  /** Only names matching this POSIX regular expression (REINDEX CONCURRENTLY's `_ccnew` copies). */
  readonly namePattern?: string | undefined;
}

/** INVALID indexes matching the filter (all of them with an empty filter). */
export async function findInvalidIndexes(client: Client, filter: InvalidIndexFilter = {}): Promise<InvalidIndex[]> {
  const { rows } = await client.query<{ schema: string; name: string; table: string }>(
    `select n.nspname as schema, c.relname as name, t.relname as table
       from pg_catalog.pg_index i
       join pg_catalog.pg_class c on c.oid = i.indexrelid
       join pg_catalog.pg_namespace n on n.oid = c.relnamespace
       join pg_catalog.pg_class t on t.oid = i.indrelid
      where not i.indisvalid
        and ($1::text is null or t.oid = to_regclass($1::text))
        and ($2::text is null or c.relname = $2::text)
        and ($3::text is null or c.relname ~ $3::text)
      order by 1, 2`,
    [filter.table ?? null, filter.name ?? null, filter.namePattern ?? null],
  );
  return rows.map((r) => ({
    ...r,
    dropStatement: `DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdent(r.schema)}.${quoteIdent(r.name)};`,
  }));
}
