/**
 * A snapshot kept up to date by re-reading only what changed, for `test-rollback`, which takes two snapshots
 * per migration: whole snapshots of a growing schema make a 1000-migration history quadratic (~150 ms each).
 *
 * How it knows what changed: every catalog row a snapshot depends on is counted per root (a relation with its
 * columns, constraints, indexes, triggers, policies, rules and comments; a function; a type with its enum
 * values and domain constraints), together with whether any of those rows was written after the previous
 * census (its xmin is newer than the transaction horizon recorded then: every DDL statement writes new row
 * versions). A root whose count moved (a dropped index, column or trigger), that has a new row (an ALTER, a
 * comment, a GRANT, CREATE OR REPLACE), that appeared or that vanished is re-read with a scoped query; the
 * rest is kept. Schemas and extensions are few and always read whole.
 *
 * Contract: one session, and nothing else writing the catalog of that database between two calls except
 * transactions that started after the previous call (true of a scratch database). Anything else, use
 * snapshotSchema.
 */
import type pg from 'pg';
import {
  excludedRelations,
  readSnapshot,
  type SchemaObject,
  type SchemaSnapshot,
  type SnapshotOptions,
} from './snapshot.js';

/**
 * Rows per root, and whether any is newer than the horizon $1 (an xid8 as text, null on the first census).
 * Each catalog maps its rows to the root the snapshot re-reads them with: an index, its columns and its
 * comment to the table; a constraint's or trigger's comment to its relation; a composite type to its class.
 */
const CENSUS = `
with idx as (select indexrelid, indrelid from pg_index),
horizon as (select case when $1::text is null then null else age((($1::text)::numeric % 4294967296)::text::xid) end as age),
rows as (
  select coalesce(i.indrelid, c.oid) as root, c.xmin from pg_class c left join idx i on i.indexrelid = c.oid
  union all select indrelid, xmin from pg_index
  union all select adrelid, xmin from pg_attrdef
  union all select case when conrelid <> 0 then conrelid else contypid end, xmin from pg_constraint
  union all select tgrelid, xmin from pg_trigger
  union all select polrelid, xmin from pg_policy
  union all select ev_class, xmin from pg_rewrite
  union all select inhrelid, xmin from pg_inherits
  union all select seqrelid, xmin from pg_sequence
  union all select objid, xmin from pg_depend where classid = 'pg_class'::regclass and deptype in ('a', 'i')
  union all select oid, xmin from pg_proc
  union all select coalesce(nullif(typrelid, 0), oid), xmin from pg_type
  union all select enumtypid, xmin from pg_enum
  union all select coalesce(co.conrelid, co.contypid, t.tgrelid, p.polrelid, i.indrelid, d.objoid), d.xmin
    from pg_description d
    left join pg_constraint co on d.classoid = 'pg_constraint'::regclass and co.oid = d.objoid
    left join pg_trigger t on d.classoid = 'pg_trigger'::regclass and t.oid = d.objoid
    left join pg_policy p on d.classoid = 'pg_policy'::regclass and p.oid = d.objoid
    left join idx i on d.classoid = 'pg_class'::regclass and i.indexrelid = d.objoid
),
-- Columns are the bulk of the catalog (~40 rows a table with the system ones) and never vanish alone: a
-- dropped column is an updated row (attisdropped). Only their fresh rows are read, not counted.
fresh_columns as (
  select distinct coalesce(i.indrelid, a.attrelid) as root
    from pg_attribute a left join idx i on i.indexrelid = a.attrelid, horizon h
   where h.age is not null and a.attrelid >= 16384 and age(a.xmin) <= h.age
)
select g.root::int8::text as root, g.n, g.fresh or f.root is not null as fresh
  from (select r.root, count(*)::int as n, coalesce(bool_or(h.age is not null and age(r.xmin) <= h.age), false) as fresh
          from rows r, horizon h where r.root >= 16384 group by r.root) g
  left join fresh_columns f on f.root = g.root`;

export class IncrementalSnapshot {
  readonly #client: pg.ClientBase;
  readonly #options: SnapshotOptions;
  #objects = new Map<string, SchemaObject>();
  #rootOf = new Map<string, string>();
  #columnOrder = new Map<string, readonly string[]>();
  #counts = new Map<string, number>();
  #horizon: string | null = null;
  #excluded: { readonly extensions: string; readonly oids: readonly string[] } | undefined;

  constructor(client: pg.ClientBase, options: SnapshotOptions) {
    this.#client = client;
    this.#options = options;
  }

  /** The current snapshot: whole the first time, then only the changed roots re-read. */
  async take(): Promise<SchemaSnapshot> {
    // The horizon is read before the census: a transaction that commits between the two is seen as fresh
    // next time at worst (a needless re-read), never missed.
    const { rows: h } = await this.#client.query<{ x: string }>(
      'select pg_snapshot_xmax(pg_current_snapshot())::text as x',
    );
    const horizon = h[0]!.x;
    const { rows } = await this.#client.query<{ root: string; n: number; fresh: boolean }>(CENSUS, [this.#horizon]);
    const counts = new Map(rows.map((r) => [r.root, r.n] as const));
    let scope: string[] | undefined;
    if (this.#horizon !== null) {
      const changed = new Set<string>();
      for (const r of rows) if (r.fresh || this.#counts.get(r.root) !== r.n) changed.add(r.root);
      for (const root of this.#counts.keys()) if (!counts.has(root)) changed.add(root);
      scope = [...changed];
    }
    // The left-out relations change only with tidemark's tables (created before the first take) or an extension.
    const { rows: ext } = await this.#client.query<{ v: string }>(
      `select coalesce(string_agg(oid::text || ':' || xmin::text, ','), '') as v from pg_extension`,
    );
    if (this.#excluded?.extensions !== ext[0]!.v) {
      this.#excluded = {
        extensions: ext[0]!.v,
        oids: await excludedRelations(this.#client, this.#options.trackingTable),
      };
    }
    const { snapshot, rootOf } = await readSnapshot(this.#client, this.#options, scope, this.#excluded.oids);
    if (scope === undefined) {
      this.#objects = new Map(Object.entries(snapshot.objects));
      this.#rootOf = new Map(rootOf);
      this.#columnOrder = new Map(Object.entries(snapshot.columnOrder));
    } else {
      const stale = new Set(scope);
      for (const [key, root] of this.#rootOf) {
        if (!stale.has(root)) continue;
        this.#objects.delete(key);
        this.#rootOf.delete(key);
        this.#columnOrder.delete(key);
      }
      // Schemas and extensions have no root: they come whole each time.
      for (const [key, o] of this.#objects)
        if (o.kind === 'schema' || o.kind === 'extension') this.#objects.delete(key);
      for (const [key, o] of Object.entries(snapshot.objects)) this.#objects.set(key, o);
      for (const [key, root] of rootOf) this.#rootOf.set(key, root);
      for (const [key, order] of Object.entries(snapshot.columnOrder)) this.#columnOrder.set(key, order);
    }
    this.#counts = counts;
    this.#horizon = horizon;
    return { objects: Object.fromEntries(this.#objects), columnOrder: Object.fromEntries(this.#columnOrder) };
  }
}
