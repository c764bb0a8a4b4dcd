/**
 * A snapshot of the schema read from the catalog (not from dump text): every user object with the facts that
 * make it what it is, keyed by kind and qualified name. `migrate test-rollback` compares the snapshot before a
 * migration with the one after its rollback; `migrate schema check` compares the database with the schema
 * file restored into a scratch database. Comparing is `diff.ts` (pure).
 *
 * Cost: one query per kind of object (14, and the non-default opclasses), each set-based over the whole
 * catalog, never one per object: a 1000-table schema reads in well under 300 ms (bench/test-rollback-bench.mjs;
 * ~85 ms of server CPU, about as much of the client's). tidemark's own tables (the tracking table,
 * `db_backups`, `<table>_repairs`) and everything hanging off them are never part of it; neither are objects
 * that belong to an extension (the extension itself is, with its version).
 */
import type pg from 'pg';
import type { TableRef } from '../config/settings.js';
import { quoteTable, sibling } from '../db/quote.js';
import { repairLogTable } from '../db/repair-log.js';

export type ObjectKind =
  | 'schema'
  | 'extension'
  | 'table'
  | 'partitioned table'
  | 'foreign table'
  | 'view'
  | 'materialized view'
  | 'sequence'
  | 'column'
  | 'constraint'
  | 'index'
  | 'function'
  | 'procedure'
  | 'aggregate'
  | 'trigger'
  | 'rule'
  | 'event trigger'
  | 'default privileges'
  | 'enum'
  | 'domain'
  | 'composite type'
  | 'range type'
  | 'policy';

export type PropValue = string | boolean | null;

export interface SchemaObject {
  readonly kind: ObjectKind;
  /** Qualified display name: `public.users`, `public.users.email` (a column), `public.f(integer)`. */
  readonly name: string;
  /** Key of the object this one belongs to (a column's table), so a diff can say "table missing" once. */
  readonly parent?: string | undefined;
  readonly props: Readonly<Record<string, PropValue>>;
}

export interface SchemaSnapshot {
  /** `kind:name` -> object. */
  readonly objects: Readonly<Record<string, SchemaObject>>;
  /** Table (or composite type) key -> its column names in attnum order; compared separately (a warning). */
  readonly columnOrder: Readonly<Record<string, readonly string[]>>;
}

export interface SnapshotOptions {
  /** MIGRATIONS_TABLE: it, `db_backups` and `<table>_repairs` beside it are left out. */
  readonly trackingTable: TableRef;
  /** Read grants (default true). `schema check` turns them off: the schema file is dumped without them. */
  readonly grants?: boolean | undefined;
}

export function objectKey(kind: ObjectKind, name: string): string {
  return `${kind}:${name}`;
}

/** tidemark's own tables, never part of a snapshot or a schema dump. */
export function tidemarkTables(tracking: TableRef): TableRef[] {
  return [tracking, sibling(tracking, 'db_backups'), repairLogTable(tracking)];
}

/**
 * A view built with `'now'::timestamp` (or `'today'`, `current_date` folded at creation) stores the value of
 * the moment it was created: the same migration run twice gives two definitions. Timestamp and time literals
 * with a fractional second are what such a fold leaves (hand-written literals rarely have one), so they are
 * replaced: by a placeholder in snapshots, by `'now'` in the schema file (which must still load, and then
 * folds again to a value the snapshot normalises).
 */
export function normaliseVolatileLiterals(text: string, replacement = '<volatile>'): string {
  return text.replace(
    /'(?:\d{4}-\d{2}-\d{2}[ T])?\d{2}:\d{2}:\d{2}\.\d{1,6}(?:[+-]\d{2}(?::\d{2}){0,2})?'::(timestamp|time)\b/g,
    `'${replacement}'::$1`,
  );
}

// ---- SQL ------------------------------------------------------------------------------------------------------

/** User schemas only: not the system ones, not another session's temp schema. */
const USER_SCHEMA = `n.nspname <> 'information_schema' and n.nspname !~ '^pg_'`;

/**
 * Relations in user schemas minus $1: tidemark's tables, what depends on them (their sequences, indexes) and
 * extension members, computed once by EXCLUDED (anti-joins on pg_depend in every query cost ~50 ms at 1000 tables).
 */
const RELS = `with rels as (
  select c.oid, c.relkind, c.relowner, c.relacl, n.nspname, c.relname, c.relpersistence, c.relrowsecurity,
         c.relforcerowsecurity, c.relispartition, c.relpartbound, c.reloptions
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where ${USER_SCHEMA} and c.oid <> all($1::oid[]) and ($2::oid[] is null or c.oid = any($2::oid[]))
)`;

// Extension members from the extensions' side, tidemark's dependents from its tables' side: both index
// look-ups on pg_depend (one test over every row of pg_depend, with an OR, was a scan of it: 2 ms at 1000
// tables, 0.4 ms this way). A member ('e') always references its pg_extension row.
const EXCLUDED = `select coalesce(array_agg(distinct d.objid), '{}')::text[] as oids
  from (select t.oid as objid from unnest($1::text[]) q(name), lateral (select to_regclass(q.name)::oid as oid) t where t.oid is not null
        union all
        select d.objid from pg_extension x
          join pg_depend d on d.refclassid = 'pg_extension'::regclass and d.refobjid = x.oid
                          and d.classid = 'pg_class'::regclass and d.deptype = 'e'
        union all
        select d.objid from unnest($1::text[]) q(name)
          join pg_depend d on d.refclassid = 'pg_class'::regclass and d.refobjid = to_regclass(q.name)::oid
                          and d.classid = 'pg_class'::regclass) d`;

/**
 * Grants other than the owner's own, as `role=PRIVILEGE` (`*` = with grant option), sorted; the grantor is left
 * out (it is whoever ran GRANT). A null ACL means the kind's default, written out as a constant (PUBLIC may
 * execute functions and use types), so a REVOKE from PUBLIC shows as a difference without expanding the
 * default of every object (aclexplode on 5000 relations costs ~30 ms).
 */
function grantsSql(acl: string, owner: string, defaultGrants: string | null, enabled: boolean): string {
  if (!enabled) return 'null::text';
  return `case when ${acl} is null then ${defaultGrants === null ? 'null' : `'${defaultGrants}'`} else
           (select string_agg(case when x.grantee = 0 then 'PUBLIC' else pg_get_userbyid(x.grantee) end || '=' || x.privilege_type
                              || case when x.is_grantable then '*' else '' end, ', '
                              order by case when x.grantee = 0 then 'PUBLIC' else pg_get_userbyid(x.grantee) end, x.privilege_type)
              from aclexplode(${acl}) x where x.grantee <> ${owner}) end`;
}

const qualified = (schema: string, name: string) => `quote_ident(${schema}) || '.' || quote_ident(${name})`;

/**
 * Every query is set-based: joins and GROUP BY, never a subquery run once per row (a correlated lookup costs
 * ~25 us a row: 100+ ms over 4000 indexes). Comments come from one query, matched by oid in JS.
 */
export function snapshotQueries(grants: boolean): Record<(typeof SNAPSHOT_QUERIES)[number], string> {
  return {
    // Scoped: the comments of the roots re-read (a constraint's, trigger's or index's belongs to its relation)
    // and of schemas, which are always read whole.
    comments: `select d.classoid::regclass::text as catalog, d.objoid::int8::text as oid, d.objsubid as subid, d.description
                 from pg_description d
                 left join pg_constraint co on $2::oid[] is not null and d.classoid = 'pg_constraint'::regclass and co.oid = d.objoid
                 left join pg_trigger t on $2::oid[] is not null and d.classoid = 'pg_trigger'::regclass and t.oid = d.objoid
                 left join pg_index i on $2::oid[] is not null and d.classoid = 'pg_class'::regclass and i.indexrelid = d.objoid
                 left join pg_policy po on $2::oid[] is not null and d.classoid = 'pg_policy'::regclass and po.oid = d.objoid
                 left join pg_rewrite ru on $2::oid[] is not null and d.classoid = 'pg_rewrite'::regclass and ru.oid = d.objoid
                where d.objoid >= 16384 and d.objoid <> all($1::oid[])
                  and ($2::oid[] is null or d.classoid in ('pg_namespace'::regclass, 'pg_extension'::regclass, 'pg_event_trigger'::regclass)
                       or coalesce(nullif(co.conrelid, 0), co.contypid, t.tgrelid, i.indrelid, po.polrelid, ru.ev_class, d.objoid) = any($2::oid[])
                       or (d.classoid = 'pg_constraint'::regclass and co.contypid <> 0 and co.contypid = any($2::oid[])))`,
    schemas: `select n.oid::int8::text as oid, quote_ident(n.nspname) as name, ${grantsSql('n.nspacl', 'n.nspowner', null, grants)} as grants
                from pg_namespace n
               where ${USER_SCHEMA}
                 and not exists (select 1 from pg_depend e where e.classid = 'pg_namespace'::regclass and e.objid = n.oid and e.deptype = 'e')`,
    extensions: `select x.oid::int8::text as oid, quote_ident(x.extname) as name, x.extversion as version, n.nspname as schema
                   from pg_extension x join pg_namespace n on n.oid = x.extnamespace`,
    // A sequence's owning column, from pg_sequence (not from rels: a CTE named twice is materialised, its size
    // guessed at 1 row, and was joined by a nested loop: 2000 x 1000 comparisons, ~0.3-1 s at 1000 tables).
    // Its name is pg_identify_object's identity (quoted and qualified as quote_ident would: catalog caches):
    // joining pg_class, pg_namespace and pg_attribute was three index scans a sequence, 2/3 of this query.
    relations: `${RELS}, parents as (
        select i.inhrelid, ${qualified('pn.nspname', 'pc.relname')} as parent
          from pg_inherits i join pg_class pc on pc.oid = i.inhparent join pg_namespace pn on pn.oid = pc.relnamespace
      ), owned as (
        select s.seqrelid, (pg_identify_object('pg_class'::regclass, d.refobjid, d.refobjsubid)).identity as owner
          from pg_sequence s
          join pg_depend d on d.classid = 'pg_class'::regclass and d.objid = s.seqrelid and d.objsubid = 0
                          and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i') and d.refobjsubid > 0
      )
      select r.oid::int8::text as oid, ${qualified('r.nspname', 'r.relname')} as name, r.relkind::text as kind, r.relpersistence::text as persistence,
             r.relrowsecurity as rls, r.relforcerowsecurity as rls_forced,
             case when r.relkind in ('v', 'm') then pg_get_viewdef(r.oid) end as definition,
             case when r.relkind = 'p' then pg_get_partkeydef(r.oid) end as partition_key,
             case when r.relispartition then p.parent || ' ' || pg_get_expr(r.relpartbound, r.oid) end as partition_of,
             array_to_string(r.reloptions, ', ') as options,
             ${grantsSql('r.relacl', 'r.relowner', null, grants)} as grants,
             format_type(s.seqtypid, null) as seq_type, s.seqstart::text as seq_start, s.seqincrement::text as seq_increment,
             s.seqmin::text as seq_min, s.seqmax::text as seq_max, s.seqcache::text as seq_cache, s.seqcycle as seq_cycle,
             o.owner as seq_owned_by
        from rels r
        left join pg_sequence s on s.seqrelid = r.oid
        left join owned o on o.seqrelid = r.oid
        left join parents p on p.inhrelid = r.oid and r.relispartition
       where r.relkind in ('r', 'p', 'v', 'm', 'S', 'f')`,
    // A materialized view's columns are read for the names its indexes' keys take (not objects of their own:
    // its definition says them). Ordered: assembleSnapshot sorts by (oid, attnum) whatever the source, and a
    // sorted array costs it one pass; unordered rows (~2.5 ms less server time) cost the client's sort more.
    columns: `${RELS}
      select r.oid::int8::text as oid, a.attnum as subid, ${qualified('r.nspname', 'r.relname')} as parent, r.relkind::text as relkind,
             quote_ident(a.attname) as name, format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as not_null,
             -- A default cannot name a column, so it is printed without its table (0): with the table, each call
             -- opened and locked the relation (~60% of this query at 1000 tables). A generated column names them.
             case when a.attgenerated = '' then pg_get_expr(ad.adbin, 0) end as default,
             nullif(a.attidentity::text, '') as identity,
             case when a.attgenerated <> '' then pg_get_expr(ad.adbin, ad.adrelid) end as generated,
             case when a.attcollation <> t.typcollation then co.collname end as collation,
             ${grants ? `array_to_string(a.attacl, ', ')` : 'null::text'} as grants
        from rels r join pg_attribute a on a.attrelid = r.oid
        join pg_type t on t.oid = a.atttypid
        left join pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
        left join pg_collation co on co.oid = a.attcollation and a.attcollation <> t.typcollation
       where r.relkind in ('r', 'p', 'f', 'c', 'm') and a.attnum > 0 and not a.attisdropped
       order by r.oid, a.attnum`,
    constraints: `${RELS}
      select co.oid::int8::text as oid, r.oid::int8::text as root, ${qualified('r.nspname', 'r.relname')} as parent, quote_ident(co.conname) as name, co.contype::text as type,
             pg_get_constraintdef(co.oid) as definition
        from rels r join pg_constraint co on co.conrelid = r.oid`,
    // pg_get_indexdef costs ~55 us an index (relcache work): 220 ms at 4000 indexes, most of the budget. The
    // definition is rebuilt in the same words: UNIQUE, method, columns with a non-default opclass, DESC /
    // NULLS, INCLUDE, expressions, WHERE. The key columns' names are not joined here: they are the rows of the
    // columns query (same roots, same read), matched by attnum in assembleSnapshot, and the non-default
    // opclasses are the opclasses query. Joining pg_attribute (hashed whole: ~40k rows at 1000 tables) and
    // aggregating the keys per index was two thirds of this query's server time.
    indexes: `${RELS}
      select ic.oid::int8::text as oid, r.oid::int8::text as root, ${qualified('r.nspname', 'r.relname')} as parent, ${qualified('r.nspname', 'ic.relname')} as name,
             case when i.indisunique then 'UNIQUE ' else '' end || 'USING ' || am.amname as head,
             i.indnkeyatts || ' ' || i.indkey::text || ' ' || i.indclass::text || ' ' || i.indoption::text as keys,
             case when i.indnullsnotdistinct then ' NULLS NOT DISTINCT' else '' end
             || coalesce(' WHERE ' || pg_get_expr(i.indpred, i.indrelid), '') as tail,
             pg_get_expr(i.indexprs, i.indrelid) as expressions, i.indisvalid as valid
        from rels r join pg_index i on i.indrelid = r.oid
        join pg_class ic on ic.oid = i.indexrelid join pg_am am on am.oid = ic.relam`,
    // The operator classes an index definition names (the default ones it leaves out). Read whole: ~60 rows.
    opclasses: `select oc.oid::int8::text as oid, oc.opcname as name from pg_opclass oc where not oc.opcdefault`,
    functions: `select p.oid::int8::text as oid, ${qualified('n.nspname', 'p.proname')} || '(' || pg_get_function_identity_arguments(p.oid) || ')' as name,
                       p.prokind::text as kind,
                       case when p.prokind <> 'a' then pg_get_functiondef(p.oid)
                            else 'returns ' || pg_get_function_result(p.oid) end as definition,
                       ${grantsSql('p.proacl', 'p.proowner', 'PUBLIC=EXECUTE', grants)} as grants
                  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                 where ${USER_SCHEMA} and p.oid <> all($1::oid[]) and ($2::oid[] is null or p.oid = any($2::oid[]))
                   and not exists (select 1 from pg_depend e where e.classid = 'pg_proc'::regclass and e.objid = p.oid and e.deptype = 'e')`,
    triggers: `${RELS}
      select t.oid::int8::text as oid, r.oid::int8::text as root, ${qualified('r.nspname', 'r.relname')} as parent, quote_ident(t.tgname) as name,
             pg_get_triggerdef(t.oid) as definition, t.tgenabled::text as enabled
        from rels r join pg_trigger t on t.tgrelid = r.oid
       where not t.tgisinternal`,
    // The scope is one array (with the row types of the scoped relations appended) and a composite's class is
    // joined: an OR of two tests, or an EXISTS under an OR, made the plan scan pg_class whole for every read.
    types: `select t.oid::int8::text as oid, coalesce(nullif(t.typrelid, 0), t.oid)::int8::text as root, ${qualified('n.nspname', 't.typname')} as name, t.typtype::text as kind,
                   case when t.typtype = 'e' then (select string_agg(quote_literal(e.enumlabel), ', ' order by e.enumsortorder)
                                                      from pg_enum e where e.enumtypid = t.oid) end as labels,
                   case when t.typtype = 'd' then format_type(t.typbasetype, t.typtypmod) end as base,
                   case when t.typtype = 'd' then t.typnotnull end as not_null,
                   case when t.typtype = 'd' then t.typdefault end as default,
                   case when t.typtype = 'd' then (select string_agg(quote_ident(co.conname) || ' ' || pg_get_constraintdef(co.oid), ', ' order by co.conname)
                                                      from pg_constraint co where co.contypid = t.oid) end as checks,
                   case when t.typtype = 'r' then (select format_type(rg.rngsubtype, null) from pg_range rg where rg.rngtypid = t.oid) end as subtype,
                   ${grantsSql('t.typacl', 't.typowner', 'PUBLIC=USAGE', grants)} as grants
              from pg_type t join pg_namespace n on n.oid = t.typnamespace
              left join pg_class tc on tc.oid = t.typrelid and t.typtype = 'c'
             where ${USER_SCHEMA} and t.typtype in ('e', 'd', 'r', 'c')
               and t.oid <> all($1::oid[])
               and ($2::oid[] is null or t.oid = any($2::oid[] || array(select c.reltype from pg_class c where c.oid = any($2::oid[]))))
               and (t.typtype <> 'c' or tc.relkind = 'c')
               and not exists (select 1 from pg_depend e where e.classid = 'pg_type'::regclass and e.objid = t.oid and e.deptype = 'e')`,
    policies: `${RELS}
      select p.oid::int8::text as oid, r.oid::int8::text as root, ${qualified('r.nspname', 'r.relname')} as parent, quote_ident(p.polname) as name, p.polcmd::text as command,
             p.polpermissive as permissive,
             (select string_agg(case when x = 0 then 'PUBLIC' else pg_get_userbyid(x) end, ', ' order by 1) from unnest(p.polroles) x) as roles,
             pg_get_expr(p.polqual, p.polrelid) as using, pg_get_expr(p.polwithcheck, p.polrelid) as with_check
        from rels r join pg_policy p on p.polrelid = r.oid`,
    // A view's or materialized view's own _RETURN rule is its definition (read with the view).
    rules: `${RELS}
      select w.oid::int8::text as oid, r.oid::int8::text as root, ${qualified('r.nspname', 'r.relname')} as parent, quote_ident(w.rulename) as name,
             pg_get_ruledef(w.oid) as definition, w.ev_enabled::text as enabled
        from rels r join pg_rewrite w on w.ev_class = r.oid
       where w.rulename <> '_RETURN'`,
    // Database-wide, few, always read whole. An event trigger whose function lives in a temporary schema is a
    // session's own (the incremental snapshot's watch, incremental.ts): never part of a schema.
    eventTriggers: `select e.oid::int8::text as oid, quote_ident(e.evtname) as name, e.evtevent as event,
                           array_to_string(e.evttags, ', ') as tags, p.oid::regprocedure::text as function, e.evtenabled::text as enabled
                      from pg_event_trigger e join pg_proc p on p.oid = e.evtfoid join pg_namespace n on n.oid = p.pronamespace
                     where n.nspname !~ '^pg_temp_'
                       and not exists (select 1 from pg_depend x where x.classid = 'pg_event_trigger'::regclass and x.objid = e.oid and x.deptype = 'e')`,
    // ALTER DEFAULT PRIVILEGES: what objects created later will grant. Read with grants only (the schema file
    // has none: pg_dump --no-privileges leaves them out too).
    defaultPrivileges: grants
      ? `select 'for role ' || quote_ident(pg_get_userbyid(a.defaclrole))
                || coalesce(' in schema ' || quote_ident(n.nspname), '')
                || ' on ' || case a.defaclobjtype when 'r' then 'tables' when 'S' then 'sequences' when 'f' then 'functions'
                                                  when 'T' then 'types' when 'n' then 'schemas' else a.defaclobjtype::text end as name,
                (select string_agg(case when x.grantee = 0 then 'PUBLIC' else pg_get_userbyid(x.grantee) end || '=' || x.privilege_type
                                   || case when x.is_grantable then '*' else '' end, ', '
                                   order by case when x.grantee = 0 then 'PUBLIC' else pg_get_userbyid(x.grantee) end, x.privilege_type)
                   from aclexplode(a.defaclacl) x) as grants
           from pg_default_acl a left join pg_namespace n on n.oid = a.defaclnamespace`
      : `select null::text as name, null::text as grants where false`,
  };
}

const RELKIND: Record<string, ObjectKind> = {
  r: 'table',
  p: 'partitioned table',
  f: 'foreign table',
  v: 'view',
  m: 'materialized view',
  S: 'sequence',
  c: 'composite type',
};
const TYPE_KIND: Record<string, ObjectKind> = { e: 'enum', d: 'domain', r: 'range type', c: 'composite type' };
const FUNCTION_KIND: Record<string, ObjectKind> = { f: 'function', w: 'function', p: 'procedure', a: 'aggregate' };
const CONSTRAINT_TYPE: Record<string, string> = {
  c: 'check',
  f: 'foreign key',
  p: 'primary key',
  u: 'unique',
  x: 'exclusion',
  t: 'trigger',
  n: 'not null',
};

type Row = Record<string, unknown>;
const COLUMN_PROPS = {
  type: 'type',
  'not null': 'not_null',
  default: 'default',
  identity: 'identity',
  generated: 'generated',
  collation: 'collation',
  grants: 'grants',
};

/** Props without nulls/undefined, so an absent fact and a null one compare equal. */
function props(row: Row, pick: Record<string, string>): Record<string, PropValue> {
  const out: Record<string, PropValue> = {};
  // for-in, not Object.entries: no array per row (15 000 rows a snapshot).
  for (const prop in pick) {
    const value = row[pick[prop]!];
    if (value === null || value === undefined || value === '') continue;
    out[prop] = typeof value === 'boolean' ? value : String(value);
  }
  return out;
}

/**
 * Reads the snapshot of the connected database. Read-only; safe inside or outside a transaction.
 *
 * @example const before = await snapshotSchema(client, { trackingTable: settings.migrationsTable });
 */
export async function snapshotSchema(client: pg.ClientBase, options: SnapshotOptions): Promise<SchemaSnapshot> {
  // Without the roots: 15 000 Map entries nobody reads (~15% of the assembly).
  return assembleSnapshot(await readRows(client, options), { roots: false }).snapshot;
}

/** tidemark's tables, what hangs off them, and extension members: the relations a snapshot leaves out. */
export async function excludedRelations(client: pg.ClientBase, trackingTable: TableRef): Promise<string[]> {
  const { rows } = await client.query<{ oids: string[] }>(EXCLUDED, [tidemarkTables(trackingTable).map(quoteTable)]);
  return rows[0]?.oids ?? [];
}

/** The root an object is re-read with: its relation's oid, its function's, its type's (a composite's class). */
export interface RootedSnapshot {
  readonly snapshot: SchemaSnapshot;
  /** Object key -> root oid; schemas, extensions, event triggers and default privileges have none (read whole). */
  readonly rootOf: ReadonlyMap<string, string>;
}

/**
 * Every query of the snapshot as the arguments of one json_build_object (`'name', (select json_agg ...)`),
 * with the test on the scope ($2) folded away: `scoped` reads only the roots in $2, otherwise everything. A
 * cached (generic) plan of "$2 is null or oid = any($2)" scans the whole catalog; "oid = any($2)" uses the
 * index. $1 is the list of relations left out (excludedRelations).
 */
export function snapshotJson(grants: boolean, scoped: boolean): string {
  const sql = snapshotQueries(grants);
  return SNAPSHOT_QUERIES.map((name) => {
    const text = sql[name]
      .replaceAll('$2::oid[] is null or', scoped ? 'false or' : 'true or')
      .replaceAll('$2::oid[] is not null and', scoped ? 'true and' : 'false and');
    return `'${name}', (select coalesce(json_agg(q), '[]'::json) from (${text}) q)`;
  }).join(',\n');
}

/**
 * Reads the whole snapshot, one query per kind. Not one statement of json_agg as the incremental snapshot's
 * function does: json_agg looks up the output function of every column of every row, and doubled the
 * server's CPU over 15 000 objects, for no gain in the client's.
 */
export async function readSnapshot(client: pg.ClientBase, options: SnapshotOptions): Promise<RootedSnapshot> {
  return assembleSnapshot(await readRows(client, options));
}

/** The rows of every query of the snapshot, read in one read-only transaction. */
async function readRows(client: pg.ClientBase, options: SnapshotOptions): Promise<Record<string, Row[]>> {
  const excluded = await excludedRelations(client, options.trackingTable);
  const sql = snapshotQueries(options.grants !== false);
  const results: Record<string, Row[]> = {};
  // One read-only snapshot for all queries, and a fixed search_path: format_type, pg_get_viewdef and friends
  // qualify names relative to it, and a restored dump leaves it empty where a live session has "public".
  await client.query(`begin isolation level repeatable read read only; set local search_path = pg_catalog`);
  try {
    // One connection runs one query at a time (pg queues them); in sequence, in one place. Every query that
    // names $1 (tidemark's tables) also names $2 (the roots; null: everything).
    for (const name of SNAPSHOT_QUERIES) {
      const text = sql[name];
      results[name] = (await client.query(text, text.includes('$1') ? [excluded, null] : [])).rows as Row[];
    }
  } finally {
    await client.query('rollback').catch(() => {});
  }
  return results;
}

/** The snapshot's queries, in the order they run. */
export const SNAPSHOT_QUERIES = [
  'comments',
  'schemas',
  'extensions',
  'relations',
  'columns',
  'constraints',
  'indexes',
  'opclasses',
  'functions',
  'triggers',
  'types',
  'policies',
  'rules',
  'eventTriggers',
  'defaultPrivileges',
] as const;

export type SnapshotRow = Record<string, unknown>;

/**
 * An index's definition from its row of the indexes query: `UNIQUE USING btree (a, b DESC NULLS LAST,
 * expression) INCLUDE (c) NULLS NOT DISTINCT WHERE ...`, the words the query wrote when it joined the names
 * itself. `keys` is indnkeyatts, then indkey, indclass and indoption (n + n + k + k numbers, n >= k): a key
 * names its column (attnum 0: `expression`, the text is in `expressions`), then a non-default opclass, then DESC
 * and a NULLS order other than the direction's default; the columns after the k keys are INCLUDE's.
 */
function indexDefinition(r: Row, names: readonly string[], opclassName: ReadonlyMap<string, string>): string {
  const numbers = String(r.keys).split(' ');
  const keyCount = Number(numbers[0]);
  const columns = numbers.length - 1 - 2 * keyCount;
  const keys: string[] = [];
  const include: string[] = [];
  for (let k = 0; k < columns; k++) {
    const attnum = Number(numbers[1 + k]);
    const name = attnum === 0 ? 'expression' : names[attnum];
    // A key whose column is not read (never: an index's columns are its relation's) is left out, as the
    // string_agg the query used to do skipped a null.
    if (name === undefined) continue;
    if (k >= keyCount) {
      include.push(name);
      continue;
    }
    const opclass = opclassName.get(numbers[1 + columns + k]!);
    const opt = Number(numbers[1 + columns + keyCount + k]);
    keys.push(
      name +
        (opclass === undefined ? '' : ` ${opclass}`) +
        ((opt & 1) === 1 ? ' DESC' : '') +
        ((opt & 3) === 2 ? ' NULLS FIRST' : (opt & 3) === 1 ? ' NULLS LAST' : ''),
    );
  }
  if (keys.length === 0) return '';
  return `${String(r.head)} (${keys.join(', ')})${include.length > 0 ? ` INCLUDE (${include.join(', ')})` : ''}${String(r.tail)}`;
}

/**
 * The objects from the rows of each query (from readSnapshot, or from the incremental snapshot's function that
 * runs them all in one statement). `roots: false` leaves `rootOf` empty (a whole snapshot has no use for it).
 */
export function assembleSnapshot(
  results: Readonly<Record<string, readonly SnapshotRow[]>>,
  { roots = true }: { readonly roots?: boolean } = {},
): RootedSnapshot {
  const [
    comments,
    schemas,
    extensions,
    relations,
    columns,
    constraints,
    indexes,
    opclasses,
    functions,
    triggers,
    types,
    policies,
    rules,
    eventTriggers,
    defaultPrivileges,
  ] = SNAPSHOT_QUERIES.map((name) => results[name] ?? []) as [readonly Row[], ...(readonly Row[])[]];
  // json_agg of an ordered subquery keeps its order in practice; the column order must not depend on it.
  const columnRows = [...columns!].sort((a, b) => Number(a.oid) - Number(b.oid) || Number(a.subid) - Number(b.subid));

  const commentOf = new Map<string, string>();
  for (const c of comments)
    commentOf.set(`${String(c.catalog)}:${String(c.oid)}:${String(c.subid)}`, String(c.description));
  /** Props plus the object's comment, when it has one. */
  const withComment = (
    catalog: string,
    row: Row,
    p: Record<string, PropValue>,
    subid = 0,
  ): Record<string, PropValue> => {
    if (commentOf.size === 0) return p;
    const text = commentOf.get(`${catalog}:${String(row.oid)}:${subid}`);
    return text === undefined ? p : { ...p, comment: text };
  };

  const objects: Record<string, SchemaObject> = {};
  const rootOf = new Map<string, string>();
  let root: string | undefined;
  const add = (kind: ObjectKind, name: string, p: Record<string, PropValue>, parent?: string) => {
    const key = objectKey(kind, name);
    objects[key] = parent === undefined ? { kind, name, props: p } : { kind, name, parent, props: p };
    if (roots && root !== undefined) rootOf.set(key, root);
  };
  const relationKinds = new Map<string, ObjectKind>();

  for (const r of schemas!)
    add('schema', String(r.name), withComment('pg_namespace', r, props(r, { grants: 'grants' })));
  for (const r of extensions!)
    add(
      'extension',
      String(r.name),
      withComment('pg_extension', r, props(r, { version: 'version', schema: 'schema' })),
    );
  for (const r of eventTriggers!)
    add(
      'event trigger',
      String(r.name),
      withComment(
        'pg_event_trigger',
        r,
        props(r, { event: 'event', tags: 'tags', function: 'function', enabled: 'enabled' }),
      ),
    );
  for (const r of defaultPrivileges!) add('default privileges', String(r.name), props(r, { grants: 'grants' }));
  for (const r of relations!) {
    root = String(r.oid);
    const kind = RELKIND[String(r.kind)]!;
    relationKinds.set(String(r.name), kind);
    const definition =
      r.definition === null || r.definition === undefined ? null : normaliseVolatileLiterals(String(r.definition));
    add(
      kind,
      String(r.name),
      withComment('pg_class', r, {
        ...props(r, {
          'partition key': 'partition_key',
          'partition of': 'partition_of',
          options: 'options',
          grants: 'grants',
          type: 'seq_type',
          start: 'seq_start',
          increment: 'seq_increment',
          min: 'seq_min',
          max: 'seq_max',
          cache: 'seq_cache',
          cycle: 'seq_cycle',
          'owned by': 'seq_owned_by',
        }),
        ...(definition === null ? {} : { definition }),
        ...(r.persistence === 'u' ? { unlogged: true } : {}),
        ...(kind === 'table' || kind === 'partitioned table'
          ? { 'row level security': r.rls_forced ? 'forced' : r.rls ? 'enabled' : 'disabled' }
          : {}),
      }),
    );
  }
  for (const r of types!) {
    root = String(r.root);
    const kind = TYPE_KIND[String(r.kind)]!;
    add(
      kind,
      String(r.name),
      withComment(
        'pg_type',
        r,
        props(r, {
          values: 'labels',
          base: 'base',
          'not null': 'not_null',
          default: 'default',
          checks: 'checks',
          subtype: 'subtype',
          grants: 'grants',
        }),
      ),
    );
    if (kind === 'composite type') relationKinds.set(String(r.name), kind);
  }

  const columnOrder: Record<string, string[]> = {};
  /** Relation oid -> its columns' quoted names by attnum (index keys name them). */
  const namesOf = new Map<string, string[]>();
  // Rows come sorted by relation: its names, its key and its column order are made once per relation (a key
  // made per row was 7000 more strings to build and intern at 1000 tables).
  let names: string[] = [];
  let order: string[] = [];
  let parent = '';
  let relation = '';
  for (const r of columnRows) {
    root = String(r.oid);
    if (root !== relation) {
      relation = root;
      namesOf.set(root, (names = []));
      if (r.relkind !== 'm') {
        parent = objectKey(RELKIND[String(r.relkind)]!, String(r.parent));
        order = columnOrder[parent] ??= [];
      }
    }
    const name = String(r.name);
    names[Number(r.subid)] = name;
    if (r.relkind === 'm') continue;
    add(
      'column',
      `${String(r.parent)}.${name}`,
      withComment('pg_class', r, props(r, COLUMN_PROPS), Number(r.subid)),
      parent,
    );
    order.push(name);
  }
  const parentOf = (r: Row) => objectKey(relationKinds.get(String(r.parent)) ?? 'table', String(r.parent));
  for (const r of constraints!) {
    root = String(r.root);
    const p = { type: CONSTRAINT_TYPE[String(r.type)] ?? String(r.type), ...props(r, { definition: 'definition' }) };
    add('constraint', `${String(r.parent)}.${String(r.name)}`, withComment('pg_constraint', r, p), parentOf(r));
  }
  const opclassName = new Map<string, string>();
  for (const r of opclasses!) opclassName.set(String(r.oid), String(r.name));
  for (const r of indexes!) {
    root = String(r.root);
    const p = props(r, { expressions: 'expressions', valid: 'valid' });
    const definition = indexDefinition(r, namesOf.get(root) ?? [], opclassName);
    add('index', String(r.name), withComment('pg_class', r, definition === '' ? p : { definition, ...p }), parentOf(r));
  }
  for (const r of functions!) {
    root = String(r.oid);
    add(
      FUNCTION_KIND[String(r.kind)] ?? 'function',
      String(r.name),
      withComment('pg_proc', r, props(r, { definition: 'definition', grants: 'grants' })),
    );
  }
  for (const r of triggers!) {
    root = String(r.root);
    add(
      'trigger',
      `${String(r.parent)}.${String(r.name)}`,
      withComment('pg_trigger', r, props(r, { definition: 'definition', enabled: 'enabled' })),
      parentOf(r),
    );
  }
  for (const r of policies!) {
    root = String(r.root);
    add(
      'policy',
      `${String(r.parent)}.${String(r.name)}`,
      withComment(
        'pg_policy',
        r,
        props(r, {
          command: 'command',
          permissive: 'permissive',
          roles: 'roles',
          using: 'using',
          'with check': 'with_check',
        }),
      ),
      parentOf(r),
    );
  }
  for (const r of rules!) {
    root = String(r.root);
    add(
      'rule',
      `${String(r.parent)}.${String(r.name)}`,
      withComment('pg_rewrite', r, props(r, { definition: 'definition', enabled: 'enabled' })),
      parentOf(r),
    );
  }
  return { snapshot: { objects, columnOrder }, rootOf };
}
