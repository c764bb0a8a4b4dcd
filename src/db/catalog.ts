/**
 * What lint and the lock report need to know about the live schema: column types, constraints, indexes,
 * estimated rows and size, the server version. Read-only, parameterised SQL, one round trip per query.
 * This adapter only reads; deciding what the facts mean is `sql/lint` and `sql/locks`.
 */
import type pg from 'pg';

export interface CatalogColumn {
  readonly name: string;
  /** `format_type` output: `character varying(20)`, `numeric(10,2)`, `integer`. */
  readonly type: string;
  /** `pg_type.typname`: `varchar`, `numeric`, `int4`, `_int4` for arrays. */
  readonly typeName: string;
  /** Integer modifiers decoded from atttypmod: varchar(20) -> [20], numeric(10,2) -> [10, 2], none -> []. */
  readonly mods: readonly number[];
  readonly notNull: boolean;
}

export interface CatalogConstraint {
  readonly name: string;
  /** pg_constraint.contype: c check, f foreign key, p primary key, u unique, x exclusion, n not null (17+). */
  readonly type: string;
  readonly validated: boolean;
  /** `pg_get_constraintdef`, e.g. `CHECK ((email IS NOT NULL))`. */
  readonly definition: string;
}

export interface CatalogIndex {
  readonly name: string;
  readonly unique: boolean;
  readonly valid: boolean;
  readonly definition: string;
}

export interface CatalogTable {
  readonly schema: string;
  readonly name: string;
  /** pg_class.reltuples: -1 (or 0) when never analysed. */
  readonly estimatedRows: number;
  /** pg_total_relation_size: heap, indexes and TOAST. */
  readonly sizeBytes: number;
  readonly columns: readonly CatalogColumn[];
  readonly constraints: readonly CatalogConstraint[];
  readonly indexes: readonly CatalogIndex[];
}

export interface Catalog {
  /** server_version_num, e.g. 150004. */
  readonly serverVersionNum: number;
  /** Keyed by `schema.name`. */
  readonly tables: ReadonlyMap<string, CatalogTable>;
  /** Indexes by `schema.name` of the index, to the `schema.name` of their table. */
  readonly indexTables: ReadonlyMap<string, string>;
  /** Function name (lower case, unqualified) -> pg_proc.provolatile ('i', 's', 'v'); 'v' if any overload is. */
  readonly functionVolatility: ReadonlyMap<string, string>;
  /**
   * Every relation outside the system schemas (tables, indexes, sequences, views, ...): `schema.name` ->
   * pg_class.relkind. With `schemas` and `types` it lets lint prove that a `DROP ... IF EXISTS` target is
   * absent. Absent (a hand-made catalog in a test): existence is judged from `tables` and `indexTables`.
   */
  readonly relations?: ReadonlyMap<string, string>;
  /** Schema names (system schemas included: a name there exists). */
  readonly schemas?: ReadonlySet<string>;
  /** User-defined types (enums, domains, ranges, composites) as `schema.name`. */
  readonly types?: ReadonlySet<string>;
  /** `current_schemas(false)`: where the runner's session resolves an unqualified name. */
  readonly searchPath?: readonly string[];
}

/**
 * How long a catalog read may wait for a table lock. pg_total_relation_size opens each table (ACCESS SHARE),
 * so one `LOCK TABLE` anywhere stalled `up` and `--dry-run` for the holder's whole duration. Past this, the
 * sizes come from pg_class instead (an estimate, lock-free) and a note says which table, and who held it.
 */
export const CATALOG_LOCK_TIMEOUT_MS = 1_000;
const LOCK_NOT_AVAILABLE = '55P03';

export interface ReadCatalogOptions {
  /** Told, in a sentence, what the read could not read exactly and why (e.g. a table locked by another session). */
  readonly onNote?: ((message: string) => void) | undefined;
  /**
   * Read only objects with one of these names (unqualified, as stored): tables, with their columns, constraints
   * and indexes, and the tables of indexes so named; relations, types and functions (by lower-cased name) so
   * named. Schemas and the search_path are read whole. Undefined: everything. The lint passes every name its
   * files could use (`sql/names.ts`), so lookups by any other name never happen and the answer is the same as
   * with the whole catalog, for a fraction of the rows on a large schema.
   */
  readonly names?: readonly string[] | undefined;
}

type TableRow = { oid: number; schema: string; name: string; kind: string; reltuples: number; size: string };

/**
 * `$3`, when given, are the names to read (ReadCatalogOptions.names): a table by its name or an index's. Joined
 * as a set: `relname = any($3)` with thousands of names made the planner choose parallel index probes, 4x slower.
 */
const TABLES_SQL = (size: string, named: boolean) =>
  `select c.oid::int8 as oid, n.nspname as schema, c.relname as name, c.relkind::text as kind,
          c.reltuples::float8 as reltuples, ${size} as size
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p', 'm') and n.nspname <> all($1::text[]) and n.nspname not like 'pg_temp%'${
      named
        ? `
      and c.oid in (select t.oid from pg_class t where t.relname in (select unnest($3::name[]))
                    union all
                    select i.indrelid from pg_index i join pg_class ic on ic.oid = i.indexrelid
                     where ic.relname in (select unnest($3::name[])))`
        : ''
    }`;

/** pg_total_relation_size without opening the table: pages of the heap, its TOAST and its indexes, as of the last VACUUM/ANALYZE. */
const ESTIMATED_SIZE = `((c.relpages::int8 + coalesce((select t.relpages from pg_class t where t.oid = c.reltoastrelid), 0)
      + coalesce((select sum(ic.relpages) from pg_index i join pg_class ic on ic.oid = i.indexrelid where i.indrelid = c.oid), 0))
      * current_setting('block_size')::int8)::text`;

/** Tables other sessions hold ACCESS EXCLUSIVE on (what the catalog functions would wait for), with the holder in words. */
async function lockedTables(client: pg.Client | pg.PoolClient): Promise<{ oids: number[]; who: string }> {
  const { rows } = await client.query<{ oid: number; rel: string; pid: number; app: string; query: string }>(
    `select l.relation::int8 as oid, format('%s.%s', n.nspname, c.relname) as rel, a.pid, a.application_name as app,
            left(regexp_replace(a.query, '\\s+', ' ', 'g'), 60) as query
       from pg_locks l join pg_stat_activity a on a.pid = l.pid
       join pg_class c on c.oid = l.relation join pg_namespace n on n.oid = c.relnamespace
      where l.locktype = 'relation' and l.granted and l.mode = 'AccessExclusiveLock' and a.pid <> pg_backend_pid()
        and l.database = (select oid from pg_database where datname = current_database())
      order by 2`,
  );
  const shown = rows
    .slice(0, 3)
    .map((r) => `${r.rel} is locked (ACCESS EXCLUSIVE) by pid ${r.pid}${r.app ? ` (${r.app})` : ''}: ${r.query}`);
  if (rows.length > 3) shown.push(`and ${rows.length - 3} more`);
  return { oids: rows.map((r) => Number(r.oid)), who: shown.join('; ') || 'a table was locked by another session' };
}

/** Schemas tidemark never reads tables of. */
const SYSTEM_SCHEMAS = ['pg_catalog', 'information_schema', 'pg_toast'];

/**
 * Reads the catalog of the connected database (user tables in every non-system schema).
 *
 * @example const catalog = await readCatalog(client); catalog.tables.get('public.users')?.estimatedRows
 */
export async function readCatalog(
  client: pg.Client | pg.PoolClient,
  options: ReadCatalogOptions = {},
): Promise<Catalog> {
  // Session-level and put back afterwards: the caller may or may not be inside a transaction.
  const version = await client.query<{ v: string; previous: string }>(
    `select current_setting('server_version_num') as v, current_setting('lock_timeout') as previous, set_config('lock_timeout', $1, false)`,
    [`${CATALOG_LOCK_TIMEOUT_MS}ms`],
  );
  try {
    return await readCatalogBounded(client, Number(version.rows[0]?.v ?? 0), options);
  } finally {
    await client
      .query(`select set_config('lock_timeout', $1, false)`, [version.rows[0]?.previous ?? '0'])
      .catch(() => {});
  }
}

async function readCatalogBounded(
  client: pg.Client | pg.PoolClient,
  serverVersionNum: number,
  options: ReadCatalogOptions,
): Promise<Catalog> {
  // Tables another session holds ACCESS EXCLUSIVE on, found once a query could not get its lock in time:
  // their size is then estimated and their indexes and constraints left out (pg_get_indexdef opens the table).
  let locked: number[] = [];
  // Named: the tables read first, then their columns, constraints and indexes by oid ($3).
  let only: unknown[] = options.names === undefined ? [] : [options.names];
  const bounded = async <T extends pg.QueryResultRow>(sql: string): Promise<pg.QueryResult<T>> => {
    try {
      return await client.query<T>(sql, [SYSTEM_SCHEMAS, locked, ...only]);
    } catch (error) {
      if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw error;
      const found = await lockedTables(client);
      locked = [...new Set([...locked, ...found.oids])];
      options.onNote?.(
        `The catalog read did not wait for locked tables: ${found.who}. Their sizes are estimates from pg_class (as of the last VACUUM/ANALYZE) and their indexes and constraints are not known to the lint.`,
      );
      return client.query<T>(sql, [SYSTEM_SCHEMAS, locked, ...only]);
    }
  };
  const named = options.names !== undefined;
  const tables = await bounded<TableRow>(
    TABLES_SQL(
      `case when c.oid = any($2::oid[]) then ${ESTIMATED_SIZE} else pg_total_relation_size(c.oid)::text end`,
      named,
    ),
  );
  if (named) only = [tables.rows.map((t) => t.oid)];
  const ofTables = (oid: string) => (named ? ` and ${oid} = any($3::int8[])` : '');
  const columns = await bounded<{
    oid: number;
    name: string;
    type: string;
    typname: string;
    typmod: number;
    notnull: boolean;
    numeric: boolean;
  }>(
    `select a.attrelid::int8 as oid, a.attname as name, format_type(a.atttypid, a.atttypmod) as type,
            t.typname, a.atttypmod as typmod, a.attnotnull as notnull, t.typname in ('numeric', '_numeric') as numeric
       from pg_attribute a join pg_type t on t.oid = a.atttypid
       join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
      where a.attnum > 0 and not a.attisdropped and c.relkind in ('r', 'p', 'm')
        and n.nspname <> all($1::text[]) and cardinality($2::oid[]) >= 0${ofTables('c.oid::int8')}
      order by a.attrelid, a.attnum`,
  );
  const constraints = await bounded<{ oid: number; name: string; type: string; validated: boolean; def: string }>(
    `select co.conrelid::int8 as oid, co.conname as name, co.contype::text as type, co.convalidated as validated,
            pg_get_constraintdef(co.oid) as def
       from pg_constraint co join pg_class c on c.oid = co.conrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname <> all($1::text[]) and co.conrelid <> all($2::oid[]) and co.confrelid <> all($2::oid[])${ofTables('co.conrelid::int8')}
      order by co.conrelid, co.conname`,
  );
  const indexes = await bounded<{
    oid: number;
    schema: string;
    name: string;
    unique: boolean;
    valid: boolean;
    def: string;
  }>(
    `select i.indrelid::int8 as oid, n.nspname as schema, ic.relname as name, i.indisunique as unique,
            i.indisvalid as valid, pg_get_indexdef(i.indexrelid) as def
       from pg_index i join pg_class ic on ic.oid = i.indexrelid join pg_namespace n on n.oid = ic.relnamespace
      where n.nspname <> all($1::text[]) and i.indrelid <> all($2::oid[])${ofTables('i.indrelid::int8')}
      order by i.indrelid, ic.relname`,
  );
  const functions = await client.query<{ name: string; volatility: string }>(
    `select lower(proname) as name, max(provolatile::text) as volatility from pg_proc${named ? ' where lower(proname) = any($1::text[])' : ''}
      group by lower(proname)`,
    named ? [options.names] : [],
  );

  // Existence of every named object lint may see dropped or renamed, and the search_path of this session
  // (the runner's: the same connection settings), in one round trip.
  const names = await client.query<{
    relations: [string, string][] | null;
    schemas: string[];
    types: string[] | null;
    path: string[];
  }>(
    `select (select json_agg(json_build_array(n.nspname || '.' || c.relname, c.relkind::text))
               from pg_class c join pg_namespace n on n.oid = c.relnamespace
              where n.nspname <> all($1::text[]) and n.nspname not like 'pg_temp%' and n.nspname not like 'pg_toast%'${named ? ' and c.relname = any($2::text[])' : ''}) as relations,
            (select array_agg(nspname::text) from pg_namespace) as schemas,
            (select json_agg(n.nspname || '.' || t.typname)
               from pg_type t join pg_namespace n on n.oid = t.typnamespace
              where t.typtype in ('e', 'd', 'r', 'm') and n.nspname <> all($1::text[])${named ? ' and t.typname = any($2::text[])' : ''}) as types,
            current_schemas(false)::text[] as path`,
    named ? [SYSTEM_SCHEMAS, options.names] : [SYSTEM_SCHEMAS],
  );
  const nameRow = names.rows[0];

  const byOid = new Map<number, TableRow>();
  for (const row of tables.rows) byOid.set(Number(row.oid), row);
  const group = <T extends { oid: number }>(rows: T[]): Map<number, T[]> => {
    const out = new Map<number, T[]>();
    for (const row of rows) {
      const key = Number(row.oid);
      const list = out.get(key) ?? [];
      list.push(row);
      out.set(key, list);
    }
    return out;
  };
  const columnsOf = group(columns.rows);
  const constraintsOf = group(constraints.rows);
  const indexesOf = group(indexes.rows);

  const result = new Map<string, CatalogTable>();
  const indexTables = new Map<string, string>();
  for (const [oid, table] of byOid) {
    const key = `${table.schema}.${table.name}`;
    result.set(key, {
      schema: table.schema,
      name: table.name,
      estimatedRows: Number(table.reltuples),
      sizeBytes: Number(table.size),
      columns: (columnsOf.get(oid) ?? []).map((c) => ({
        name: c.name,
        type: c.type,
        typeName: c.typname,
        mods: decodeTypmod(c.typname, Number(c.typmod), c.numeric),
        notNull: c.notnull,
      })),
      constraints: (constraintsOf.get(oid) ?? []).map((c) => ({
        name: c.name,
        type: c.type,
        validated: c.validated,
        definition: c.def,
      })),
      indexes: (indexesOf.get(oid) ?? []).map((i) => ({
        name: i.name,
        unique: i.unique,
        valid: i.valid,
        definition: i.def,
      })),
    });
    for (const index of indexesOf.get(oid) ?? []) indexTables.set(`${index.schema}.${index.name}`, key);
  }
  // ORDER of volatility codes: 'i' < 's' < 'v', so max() is the most volatile overload.
  const functionVolatility = new Map(functions.rows.map((f) => [f.name, f.volatility] as const));
  const relations = new Map(nameRow?.relations ?? []);
  // Read by names: a table read for an index's name exists too.
  for (const table of tables.rows) relations.set(`${table.schema}.${table.name}`, table.kind);
  return {
    serverVersionNum,
    tables: result,
    indexTables,
    functionVolatility,
    relations,
    schemas: new Set(nameRow?.schemas ?? []),
    types: new Set(nameRow?.types ?? []),
    searchPath: nameRow?.path ?? ['public'],
  };
}

/**
 * atttypmod as the modifiers a user wrote. varchar/bpchar store length + 4 (VARHDRSZ); numeric stores
 * ((precision << 16) | scale) + 4; -1 means no modifier.
 */
function decodeTypmod(typname: string, typmod: number, numeric: boolean): number[] {
  if (typmod < 0) return [];
  if (numeric) {
    const value = typmod - 4;
    return [(value >> 16) & 0xffff, value & 0xffff];
  }
  if (['varchar', 'bpchar', '_varchar', '_bpchar'].includes(typname)) return [typmod - 4];
  return [typmod];
}
