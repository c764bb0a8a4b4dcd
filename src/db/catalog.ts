/**
 * What lint and the lock report need to know about the live schema: column types, constraints, indexes,
 * estimated rows and size, the server version. Read-only, parameterised SQL, one round trip per query.
 * This adapter only reads; deciding what the facts mean is `sql/lint` and `sql/locks`.
 */
import type pg from 'pg';

export interface CatalogColumn {
  readonly name: string;
  /** `format_type` output: `character varying(20)`, `numeric(10,2)`, `integer`; undefined: not read (`details`). */
  readonly type: string | undefined;
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
  /** `pg_get_constraintdef`, e.g. `CHECK ((email IS NOT NULL))`; undefined: not read (`details`). */
  readonly definition: string | undefined;
}

export interface CatalogIndex {
  readonly name: string;
  readonly unique: boolean;
  readonly valid: boolean;
  /** `pg_get_indexdef`; undefined: not read (`details`). */
  readonly definition: string | undefined;
}

export interface CatalogTable {
  readonly schema: string;
  readonly name: string;
  /** pg_class.reltuples: -1 (or 0) when never analysed. */
  readonly estimatedRows: number;
  /** pg_total_relation_size: heap, indexes and TOAST; NaN: not read (`details`), which the lint takes as big. */
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
  /**
   * Called once the read is sent, for work that needs no catalog to run while the server answers (the lint
   * loads its grammar then). Its errors are the caller's to collect; the read does not wait for it.
   */
  readonly whileWaiting?: (() => void) | undefined;
  /**
   * False: the tables' details are not read: their sizes (`sizeBytes` NaN), the definitions of their
   * constraints and indexes and the columns' `format_type` (undefined); names, kinds, flags, typname and
   * typmod are. readTableDetails reads them for the few tables that need them, withTableDetails puts them
   * in. Each of pg_total_relation_size, pg_get_indexdef and pg_get_constraintdef opens the table (and waits
   * for a lock on it); for the 1000 tables `down --all` names they were most of the read's server time on a
   * fresh connection (~170 ms for the sizes, then ~240 of ~360 ms for the definitions). Default true.
   */
  readonly details?: boolean | undefined;
}

/**
 * The whole read as one statement: one round trip, the names sent, parsed and bound once, the parts as JSON
 * arrays in one row (JSON.parse instead of pg's row parser per field). `$1` the system schemas, `$2` the
 * tables found locked (sizes estimated, their indexes and constraints left out), `$3` the names
 * (ReadCatalogOptions.names), when given. Seven queries, each binding the ~5000 names of 1000 files, cost the
 * server ~35 ms of CPU on a fresh connection and the client ~7 ms; this one ~15 and ~2 (bench: decisions,
 * "Lint time, session 5 (second pass)"). `relname::text = any($3)`: the cast keeps the planner from probing
 * the name index once per name (two probes per name and schema); a seq scan of pg_class tests each row
 * against a hash of the array. Each such test also costs planning time over the whole array, so pg_class is
 * searched by name once (`rels`), for the tables, the tables of indexes so named and the relations.
 */
function catalogSql(named: boolean, details = true): string {
  const size = details ? sizeOf('c') : `'NaN'`;
  // Named: the relations of those names, found once (each `= any($3)` costs the planner a pass over the names).
  const rels = named ? 'rels' : 'pg_class';
  return `with ${
    named
      ? `rels as materialized (select c.oid, c.relname, c.relkind, c.relnamespace from pg_class c
                          where c.relname::text = any($3::text[])),`
      : ''
  }
  tables as materialized (
    select c.oid, n.nspname::text as schema, c.relname::text as name, c.relkind::text as kind,
           c.reltuples::float8 as reltuples, ${size} as size
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p', 'm') and n.nspname <> all($1::text[]) and n.nspname not like 'pg_temp%'${
       named
         ? `
       and c.oid in (select oid from rels union all select i.indrelid from pg_index i join rels r on r.oid = i.indexrelid)`
         : ''
     })
select (select json_agg(json_build_array(t.oid::int8, t.schema, t.name, t.kind, t.reltuples, t.size)) from tables t) as tables,
       (select json_agg(json_build_array(a.attrelid::int8, a.attname::text, ${details ? 'format_type(a.atttypid, a.atttypmod)' : 'null'},
                                         t.typname::text, a.atttypmod, a.attnotnull, t.typname in ('numeric', '_numeric'))
                        order by a.attrelid, a.attnum)
          from pg_attribute a join pg_type t on t.oid = a.atttypid
         where a.attrelid in (select oid from tables) and a.attnum > 0 and not a.attisdropped) as columns,
       (select json_agg(json_build_array(co.conrelid::int8, co.conname::text, co.contype::text, co.convalidated,
                                         ${details ? 'pg_get_constraintdef(co.oid)' : 'null'})
                        order by co.conrelid, co.conname)
          from pg_constraint co
         where co.conrelid in (select oid from tables) and co.conrelid <> all($2::oid[])
           and co.confrelid <> all($2::oid[])) as constraints,
       (select json_agg(json_build_array(i.indrelid::int8, n.nspname::text, ic.relname::text, i.indisunique,
                                         i.indisvalid, ${details ? 'pg_get_indexdef(i.indexrelid)' : 'null'})
                        order by i.indrelid, ic.relname)
          from pg_index i join pg_class ic on ic.oid = i.indexrelid join pg_namespace n on n.oid = ic.relnamespace
         where i.indrelid in (select oid from tables) and i.indrelid <> all($2::oid[])) as indexes,
       (select json_agg(json_build_array(f.name, f.volatility))
          from (select lower(proname) as name, max(provolatile::text) as volatility from pg_proc${
            named ? ' where lower(proname) = any($3::text[])' : ''
          } group by lower(proname)) f) as functions,
       (select json_agg(json_build_array(n.nspname || '.' || c.relname, c.relkind::text))
          from ${rels} c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname <> all($1::text[]) and n.nspname not like 'pg_temp%' and n.nspname not like 'pg_toast%') as relations,
       (select array_agg(nspname::text) from pg_namespace) as schemas,
       (select json_agg(n.nspname || '.' || t.typname)
          from pg_type t join pg_namespace n on n.oid = t.typnamespace
         where t.typtype in ('e', 'd', 'r', 'm') and n.nspname <> all($1::text[])${
           named ? ' and t.typname::text = any($3::text[])' : ''
         }) as types,
       current_schemas(false)::text[] as path`;
}

/** The row of `catalogSql`: each part a JSON array of arrays (null when empty), in the order of the select. */
interface CatalogRow {
  /** [oid, schema, name, relkind, reltuples, size (text)] */
  tables: [number, string, string, string, number, string][] | null;
  /** [table oid, name, format_type (null without details), typname, atttypmod, notnull, numeric] */
  columns: [number, string, string | null, string, number, boolean, boolean][] | null;
  /** [table oid, name, contype, validated, definition (null without details)] */
  constraints: [number, string, string, boolean, string | null][] | null;
  /** [table oid, schema, name, unique, valid, definition (null without details)] */
  indexes: [number, string, string, boolean, boolean, string | null][] | null;
  /** [lower(proname), max(provolatile)] */
  functions: [string, string][] | null;
  relations: [string, string][] | null;
  schemas: string[] | null;
  types: string[] | null;
  path: string[] | null;
}

/**
 * The size of the table `c` as text: pg_total_relation_size, or ESTIMATED_SIZE for the tables in `$2` (found
 * locked: pg_total_relation_size would wait for their lock).
 */
function sizeOf(c: string): string {
  return `case when ${c}.oid = any($2::oid[]) then ${ESTIMATED_SIZE} else pg_total_relation_size(${c}.oid)::text end`;
}

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

/**
 * `names` as a text[] literal, built natively: JSON.stringify quotes each name and escapes `"` and `\` as an
 * array literal does, where pg's own serializer escapes each of ~5000 names in JavaScript (~5 ms of a lint's
 * CPU). A name JSON would escape otherwise (a control character, a lone surrogate) is left to pg's serializer.
 */
function textArray(names: readonly string[]): string | readonly string[] {
  const json = JSON.stringify(names);
  return /\\[^"\\]/.test(json) ? names : `{${json.slice(1, -1)}}`;
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

/** What a catalog read without details (ReadCatalogOptions.details) left out of one table. */
export interface TableDetails {
  /** pg_total_relation_size, or pg_class's estimate when another session held the table locked. */
  readonly sizeBytes: number;
  /** Column name -> format_type. */
  readonly columnTypes: ReadonlyMap<string, string>;
  /** Constraint name -> pg_get_constraintdef; none for a locked table (left unknown, as a whole read does). */
  readonly constraints: ReadonlyMap<string, string>;
  /** Index name -> pg_get_indexdef; none for a locked table. */
  readonly indexes: ReadonlyMap<string, string>;
}

/** The row of `detailsSql`: [`schema.name`, ...] per part, as JSON arrays (null when empty). */
interface DetailsRow {
  tables: [string, string][] | null;
  columns: [string, string, string][] | null;
  constraints: [string, string, string][] | null;
  indexes: [string, string, string][] | null;
}

/**
 * The details of the tables named by `$1` (schemas) and `$3` (names), in one statement; `$2` the tables found
 * locked: their size estimated, their definitions not read (both functions open the table).
 */
const DETAILS_SQL = `with t as materialized (
    select c.oid, n.nspname::text || '.' || c.relname::text as key, ${sizeOf('c')} as size
      from unnest($1::text[], $3::text[]) as w(schema, name)
      join pg_namespace n on n.nspname = w.schema
      join pg_class c on c.relnamespace = n.oid and c.relname = w.name
     where c.relkind in ('r', 'p', 'm'))
select (select json_agg(json_build_array(t.key, t.size)) from t) as tables,
       (select json_agg(json_build_array(t.key, a.attname::text, format_type(a.atttypid, a.atttypmod)))
          from pg_attribute a join t on t.oid = a.attrelid where a.attnum > 0 and not a.attisdropped) as columns,
       (select json_agg(json_build_array(t.key, co.conname::text, pg_get_constraintdef(co.oid)))
          from pg_constraint co join t on t.oid = co.conrelid
         where co.conrelid <> all($2::oid[]) and co.confrelid <> all($2::oid[])) as constraints,
       (select json_agg(json_build_array(t.key, ic.relname::text, pg_get_indexdef(i.indexrelid)))
          from pg_index i join t on t.oid = i.indrelid join pg_class ic on ic.oid = i.indexrelid
         where i.indrelid <> all($2::oid[])) as indexes`;

/**
 * The details of `tables` a catalog read without them left out (ReadCatalogOptions.details), keyed
 * `schema.name`: under the same short lock_timeout, a table another session holds locked gets its size
 * estimated from pg_class and its definitions left unknown instead of a wait, and `onNote` is told. A table
 * that is gone is left out.
 */
export async function readTableDetails(
  client: pg.Client | pg.PoolClient,
  tables: readonly { readonly schema: string; readonly name: string }[],
  onNote?: (message: string) => void,
): Promise<Map<string, TableDetails>> {
  if (tables.length === 0) return new Map();
  const params = (locked: number[]) => [tables.map((t) => t.schema), locked, tables.map((t) => t.name)];
  const previous = await client.query<{ previous: string }>(
    `select current_setting('lock_timeout') as previous, set_config('lock_timeout', $1, false)`,
    [`${CATALOG_LOCK_TIMEOUT_MS}ms`],
  );
  let row: DetailsRow | undefined;
  try {
    try {
      row = (await client.query<DetailsRow>(DETAILS_SQL, params([]))).rows[0];
    } catch (error) {
      if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw error;
      const found = await lockedTables(client);
      onNote?.(
        `The catalog read did not wait for locked tables: ${found.who}. Their sizes are estimates from pg_class (as of the last VACUUM/ANALYZE) and the definitions of their indexes and constraints are not known to the lint.`,
      );
      row = (await client.query<DetailsRow>(DETAILS_SQL, params(found.oids))).rows[0];
    }
  } finally {
    await client
      .query(`select set_config('lock_timeout', $1, false)`, [previous.rows[0]?.previous ?? '0'])
      .catch(() => {});
  }
  const out = new Map<
    string,
    {
      sizeBytes: number;
      columnTypes: Map<string, string>;
      constraints: Map<string, string>;
      indexes: Map<string, string>;
    }
  >();
  for (const [key, size] of row?.tables ?? []) {
    out.set(key, { sizeBytes: Number(size), columnTypes: new Map(), constraints: new Map(), indexes: new Map() });
  }
  for (const [key, name, type] of row?.columns ?? []) out.get(key)?.columnTypes.set(name, type);
  for (const [key, name, definition] of row?.constraints ?? []) out.get(key)?.constraints.set(name, definition);
  for (const [key, name, definition] of row?.indexes ?? []) out.get(key)?.indexes.set(name, definition);
  return out;
}

/**
 * `catalog` with the details of some of its tables put in (readTableDetails): those tables read as a read with
 * details has them; a definition the details do not have (a locked table's) stays unknown.
 */
export function withTableDetails(catalog: Catalog, details: ReadonlyMap<string, TableDetails>): Catalog {
  if (details.size === 0) return catalog;
  const tables = new Map(catalog.tables);
  for (const [key, d] of details) {
    const table = tables.get(key);
    if (table === undefined) continue;
    tables.set(key, {
      ...table,
      sizeBytes: d.sizeBytes,
      columns: table.columns.map((c) => ({ ...c, type: d.columnTypes.get(c.name) ?? c.type })),
      constraints: table.constraints.map((c) => ({ ...c, definition: d.constraints.get(c.name) ?? c.definition })),
      indexes: table.indexes.map((i) => ({ ...i, definition: d.indexes.get(i.name) ?? i.definition })),
    });
  }
  return { ...catalog, tables };
}

async function readCatalogBounded(
  client: pg.Client | pg.PoolClient,
  serverVersionNum: number,
  options: ReadCatalogOptions,
): Promise<Catalog> {
  const named = options.names !== undefined;
  const sql = catalogSql(named, options.details !== false);
  const names = named ? textArray(options.names!) : undefined;
  const params = (locked: number[]) => [SYSTEM_SCHEMAS, locked, ...(named ? [names] : [])];
  let row: CatalogRow | undefined;
  try {
    const reading = client.query<CatalogRow>(sql, params([]));
    options.whileWaiting?.();
    row = (await reading).rows[0];
  } catch (error) {
    if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw error;
    // A table another session holds ACCESS EXCLUSIVE on: its size is estimated and its indexes and
    // constraints left out (pg_get_indexdef opens the table), then the read is made again.
    const found = await lockedTables(client);
    options.onNote?.(
      `The catalog read did not wait for locked tables: ${found.who}. Their sizes are estimates from pg_class (as of the last VACUUM/ANALYZE) and their indexes and constraints are not known to the lint.`,
    );
    row = (await client.query<CatalogRow>(sql, params(found.oids))).rows[0];
  }

  // Indexed loops and no array destructuring: this runs once per CLI process, in V8's interpreter, where both
  // allocate an iterator per array (`down --all` of 1000 migrations: ~10 000 rows of columns, constraints and
  // indexes).
  const group = <T extends readonly [number, ...unknown[]]>(
    rows: readonly T[] | null | undefined,
  ): Map<number, T[]> => {
    const out = new Map<number, T[]>();
    if (!rows) return out;
    for (let ix = 0; ix < rows.length; ix++) {
      const r = rows[ix]!;
      const list = out.get(r[0]);
      if (list === undefined) out.set(r[0], [r]);
      else list.push(r);
    }
    return out;
  };
  const columnsOf = group(row?.columns);
  const constraintsOf = group(row?.constraints);
  const indexesOf = group(row?.indexes);
  const none: never[] = [];

  const result = new Map<string, CatalogTable>();
  const indexTables = new Map<string, string>();
  const relations = new Map(row?.relations ?? []);
  for (let ix = 0, xs = row?.tables ?? []; ix < xs.length; ix++) {
    const t = xs[ix]!;
    const oid = t[0];
    const schema = t[1];
    const name = t[2];
    const key = `${schema}.${name}`;
    const columnRows = columnsOf.get(oid) ?? none;
    const constraintRows = constraintsOf.get(oid) ?? none;
    const indexRows = indexesOf.get(oid) ?? none;
    const columns: CatalogColumn[] = [];
    for (let jx = 0; jx < columnRows.length; jx++) {
      const c = columnRows[jx]!;
      columns.push({
        name: c[1],
        type: c[2] ?? undefined,
        typeName: c[3],
        mods: decodeTypmod(c[3], Number(c[4]), c[6]),
        notNull: c[5],
      });
    }
    const constraints: CatalogConstraint[] = [];
    for (let jx = 0; jx < constraintRows.length; jx++) {
      const c = constraintRows[jx]!;
      constraints.push({ name: c[1], type: c[2], validated: c[3], definition: c[4] ?? undefined });
    }
    const indexes: CatalogIndex[] = [];
    for (let jx = 0; jx < indexRows.length; jx++) {
      const i = indexRows[jx]!;
      indexes.push({ name: i[2], unique: i[3], valid: i[4], definition: i[5] ?? undefined });
      indexTables.set(`${i[1]}.${i[2]}`, key);
    }
    result.set(key, {
      schema,
      name,
      estimatedRows: Number(t[4]),
      sizeBytes: Number(t[5]),
      columns,
      constraints,
      indexes,
    });
    // Read by names: a table read for an index's name exists too.
    relations.set(key, t[3]);
  }
  return {
    serverVersionNum,
    tables: result,
    indexTables,
    // ORDER of volatility codes: 'i' < 's' < 'v', so max() is the most volatile overload.
    functionVolatility: new Map(row?.functions ?? []),
    relations,
    schemas: new Set(row?.schemas ?? []),
    types: new Set(row?.types ?? []),
    searchPath: row?.path ?? ['public'],
  };
}

const LENGTH_TYPES = new Set(['varchar', 'bpchar', '_varchar', '_bpchar']);

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
  if (LENGTH_TYPES.has(typname)) return [typmod - 4];
  return [typmod];
}
