/**
 * A snapshot kept up to date by re-reading only what changed, for `test-rollback`, which takes two snapshots
 * per migration: whole snapshots of a growing schema make a 1000-migration history quadratic (~250 ms each at
 * 1000 tables), and so does anything that scans the whole catalog once per call.
 *
 * What changed is known in one of two ways, chosen on the first update:
 * - **watch** (the role is a superuser): two event triggers of this session (ddl_command_end and sql_drop,
 *   functions in its temporary schema, ENABLE ALWAYS) record the root of every object each DDL command
 *   creates, alters, comments on or drops, in a temporary table; the roots are re-read together with what
 *   renders them by name (the objects that depend on them: a view over a renamed table, a foreign key to it,
 *   a column of a renamed type) and with the inheritance children of a table. A cost proportional to what the
 *   migration touched. What event triggers cannot place (GRANT and REVOKE give no object) makes that update
 *   read everything; what they do not see at all (event triggers themselves, default privileges) is read
 *   whole every time, being few. DDL from another session in the database fails loudly (the trigger function
 *   writes to this session's temporary table): nothing is missed silently.
 * - **census** (any other role: event triggers need a superuser): every catalog row a snapshot depends on is
 *   counted per root, with whether any was written after the previous census (its xmin is newer than the
 *   transaction horizon recorded then); a root whose count moved, that has a new row, that appeared or that
 *   vanished is re-read. One scan of the catalog per update.
 *
 * A root is a relation with its columns, constraints, indexes, triggers, policies, rules and comments; a
 * function; a type with its enum values and domain constraints (a composite type's root is its class).
 * Schemas, extensions, event triggers and default privileges have no root and are read whole each time.
 *
 * Contract: one session, and nothing else writing the catalog of that database between two updates (true of
 * a scratch database); catalogs written directly (UPDATE pg_class) are not seen. Anything else, use
 * snapshotSchema. `test-rollback` compares the kept snapshot with a whole one at the end of its run.
 */
import type pg from 'pg';
import { quoteIdent } from '../db/quote.js';
import {
  assembleSnapshot,
  excludedRelations,
  snapshotJson,
  type RootedSnapshot,
  type SchemaObject,
  type SchemaSnapshot,
  type SnapshotOptions,
  type SnapshotRow,
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
  -- A renamed schema: the closure re-reads what is in it.
  union all select oid, xmin from pg_namespace
  union all select coalesce(co.conrelid, co.contypid, t.tgrelid, p.polrelid, i.indrelid, w.ev_class, d.objoid), d.xmin
    from pg_description d
    left join pg_constraint co on d.classoid = 'pg_constraint'::regclass and co.oid = d.objoid
    left join pg_trigger t on d.classoid = 'pg_trigger'::regclass and t.oid = d.objoid
    left join pg_policy p on d.classoid = 'pg_policy'::regclass and p.oid = d.objoid
    left join pg_rewrite w on d.classoid = 'pg_rewrite'::regclass and w.oid = d.objoid
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

/**
 * The root of a catalog object that still exists (the object itself when it is its own root or is gone), as an
 * expression over two columns, written into the PL/pgSQL statements that need it: a SQL function with
 * subqueries is never inlined, and each call parsed and planned it again (~16% of the server's time in a step).
 */
function rootOf(classid: string, objid: string): string {
  return `case ${classid}
    when 'pg_class'::regclass then coalesce((select i.indrelid from pg_catalog.pg_index i where i.indexrelid = ${objid}), ${objid})
    when 'pg_constraint'::regclass then coalesce((select coalesce(nullif(k.conrelid, 0), k.contypid) from pg_catalog.pg_constraint k where k.oid = ${objid}), ${objid})
    when 'pg_trigger'::regclass then coalesce((select t.tgrelid from pg_catalog.pg_trigger t where t.oid = ${objid}), ${objid})
    when 'pg_policy'::regclass then coalesce((select p.polrelid from pg_catalog.pg_policy p where p.oid = ${objid}), ${objid})
    when 'pg_rewrite'::regclass then coalesce((select w.ev_class from pg_catalog.pg_rewrite w where w.oid = ${objid}), ${objid})
    when 'pg_attrdef'::regclass then coalesce((select a.adrelid from pg_catalog.pg_attrdef a where a.oid = ${objid}), ${objid})
    when 'pg_type'::regclass then coalesce((select nullif(t.typrelid, 0) from pg_catalog.pg_type t where t.oid = ${objid}), ${objid})
    else ${objid} end`;
}

/**
 * SET clauses of a function whose statements look rows up by oid: planned as index scans whatever the size of
 * the catalog when the plan is made (it is kept), one plan per statement, no JIT (the penalty on the disabled
 * scans passes jit_above_cost, and each call would compile again).
 */
const INDEX_LOOKUPS =
  'set enable_seqscan = off set enable_hashjoin = off set enable_mergejoin = off set plan_cache_mode = force_generic_plan set jit = off';

/**
 * ddl_command_end: the root of each object a command created or altered (GRANT and REVOKE give none: the next
 * update reads everything). sql_drop: the objects are gone, so a column's, constraint's, trigger's, policy's,
 * rule's or default's table is found by name (null when it went too: then it is listed itself); a dropped
 * index by the index -> table list the last read kept (its table is not in the event; an index created since
 * then was placed by its CREATE).
 *
 * Their plans are made at the first DDL command, when the scratch database's catalogs are small enough for a
 * sequential scan to win, and kept: each look-up by oid then scanned pg_index, pg_constraint... whole (13% of
 * the server's time in a step at 1000 tables). They run with sequential scans off (INDEX_LOOKUPS).
 */
const WATCH_FUNCTIONS = [
  `create or replace function pg_temp.tidemark_watch_end() returns event_trigger language plpgsql ${INDEX_LOOKUPS} as $$
   begin
     insert into pg_temp.tidemark_touched (root, whole)
     select ${rootOf('c.classid', 'c.objid')}, c.objid is null and c.command_tag <> 'ALTER DEFAULT PRIVILEGES'
       from pg_catalog.pg_event_trigger_ddl_commands() c;
   end $$`,
  `create or replace function pg_temp.tidemark_watch_drop() returns event_trigger language plpgsql ${INDEX_LOOKUPS} as $$
   begin
     insert into pg_temp.tidemark_touched (root, whole)
     select case
              when o.object_type in ('table column', 'default value', 'table constraint', 'trigger', 'policy', 'rule')
                then pg_catalog.to_regclass(pg_catalog.quote_ident(o.address_names[1]) || '.' || pg_catalog.quote_ident(o.address_names[2]))::oid
              when o.object_type = 'domain constraint' then pg_catalog.to_regtype(o.address_names[1])::oid
              when o.object_type = 'index'
                then coalesce((select i.root from pg_temp.tidemark_indexes i where i.index = o.objid), o.objid)
              else o.objid end,
            false
       from pg_catalog.pg_event_trigger_dropped_objects() o;
   end $$`,
];

/**
 * The roots to re-read, from the touched ones (v_touched): themselves, the objects in a touched schema, the
 * inheritance descendants of a touched table (ALTER TABLE recurses to them), and whatever depends on a
 * touched root, its indexes, constraints, triggers or row type (its text names them: a rename shows there).
 * PL/pgSQL statements, each an index look-up by an array of oids (`= any(v)`): written as one recursive
 * query, the cached generic plan guessed the sizes wrong and sorted all of pg_depend and scanned pg_index
 * whole on every update (~15 ms at 1000 tables, growing with the catalog).
 */
const CLOSURE = `
      v_roots := array(select distinct r from unnest(v_touched) r where r is not null);
      v_roots := v_roots || array(
        select ${rootOf('d.classid', 'd.objid')} from pg_depend d
         where d.refclassid = 'pg_namespace'::regclass and d.refobjid = any(v_roots));
      v_more := v_roots;
      loop
        v_more := array(select i.inhrelid from pg_inherits i where i.inhparent = any(v_more) and i.inhrelid <> all(v_roots));
        exit when cardinality(v_more) = 0;
        v_roots := v_roots || v_more;
      end loop;
      v_family := v_roots
        || array(select i.indexrelid from pg_index i where i.indrelid = any(v_roots))
        || array(select k.oid from pg_constraint k where k.conrelid = any(v_roots))
        || array(select k.oid from pg_constraint k where k.contypid = any(v_roots))
        || array(select t.oid from pg_trigger t where t.tgrelid = any(v_roots))
        || array(select c.reltype from pg_class c where c.oid = any(v_roots) and c.reltype <> 0);
      p_scope := array(
        select unnest(v_roots)
        union
        select ${rootOf('d.classid', 'd.objid')} from pg_depend d
         where d.refclassid in ('pg_class'::regclass, 'pg_type'::regclass, 'pg_proc'::regclass, 'pg_constraint'::regclass, 'pg_trigger'::regclass)
           and d.refobjid = any(v_family));`;

/**
 * One statement for a whole update (a round trip costs more than most of the queries under load). With the
 * watch ($5), the touched roots are taken from its table (a dropped index placed by the list the previous
 * read kept) together with the children whose inheritance link appeared or vanished (DETACH PARTITION reports
 * the parent only); otherwise they are $3 (the census's). Then the closure of the touched roots is the scope,
 * or everything when $4 or a GRANT says so; every query of the snapshot runs over it, as JSON, with the
 * extensions' signature. PL/pgSQL keeps the plans; SET search_path as the whole snapshot does.
 *
 * PL/pgSQL keeps a plan once made, and the first ones are made when the scratch database is nearly empty:
 * left free, the scoped reads kept the sequential scans and hash joins right for a small catalog, and each
 * update cost more as the history grew (11 ms of server CPU after 100 steps, 30 ms after 400). The scoped
 * part runs with sequential scans, hash and merge joins off and one generic plan per statement, so it is
 * index look-ups by oid at any size, planned once. The whole read (the first update, after a GRANT) is rare
 * and keeps the planner's choice, made again with the catalog's size of the moment. JIT is off: the penalty
 * the disabled methods add to a plan's cost (and the whole read's own cost) passed jit_above_cost, and
 * compiling the expressions again on every call took seconds.
 */
function readFunction(grants: boolean): string {
  const variant = (scoped: boolean) => snapshotJson(grants, scoped);
  return `create or replace function pg_temp.tidemark_read(p_excluded oid[], p_scope oid[], p_touched oid[], p_whole boolean, p_watch boolean)
    returns json language plpgsql set search_path = pg_catalog set plan_cache_mode = auto
    set enable_seqscan = on set enable_hashjoin = on set enable_mergejoin = on set jit = off as $tidemark$
    declare
      v_whole boolean := p_whole;
      v_touched oid[] := p_touched;
      v_roots oid[];
      v_more oid[];
      v_family oid[];
    begin
      if p_watch then
        v_whole := v_whole or coalesce((select bool_or(t.whole) from pg_temp.tidemark_touched t), false);
        v_touched := array(
          select coalesce((select i.root from pg_temp.tidemark_indexes i where i.index = t.root), t.root)
            from pg_temp.tidemark_touched t
           where t.root is not null
          union
          select m.child from ((select inhrelid as child, inhparent as parent from pg_inherits
                                except select l.child, l.parent from pg_temp.tidemark_links l)
                               union
                               (select l.child, l.parent from pg_temp.tidemark_links l
                                except select inhrelid, inhparent from pg_inherits)) m);
        delete from pg_temp.tidemark_touched;
        delete from pg_temp.tidemark_links;
        insert into pg_temp.tidemark_links select inhrelid, inhparent from pg_inherits;
      end if;
      if v_whole then
        p_scope := null;
      else
        -- What follows reads a few roots by oid: index look-ups, whatever the catalog's size when the plan
        -- was made (reset when the function returns, by its SET clauses).
        perform set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true),
                set_config('enable_mergejoin', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true);
${CLOSURE}
      end if;
      if p_watch then
        -- Two statements, not one with "p_scope is null or": its cached plan would scan pg_index whole.
        if p_scope is null then
          delete from pg_temp.tidemark_indexes;
          insert into pg_temp.tidemark_indexes select i.indexrelid, i.indrelid from pg_index i;
        else
          insert into pg_temp.tidemark_indexes
          select i.indexrelid, i.indrelid from pg_index i where i.indrelid = any(p_scope)
              on conflict (index) do update set root = excluded.root;
        end if;
      end if;
      if p_scope is null then
        return json_build_object('scope', p_scope,
          'signature', (select coalesce(string_agg(x.oid::text || ':' || x.xmin::text, ','), '') from pg_extension x),
          ${variant(false)});
      end if;
      return json_build_object('scope', p_scope,
        'signature', (select coalesce(string_agg(x.oid::text || ':' || x.xmin::text, ','), '') from pg_extension x),
        ${variant(true)});
    end $tidemark$`;
}

/**
 * What may have changed since the previous update: the objects (and column orders) of every re-read root
 * and of the kinds read whole, as they were then (`before`) and as they are now (`after`). Every object
 * outside these is unchanged, so `diffSnapshots(before, after)` is the difference between the two states.
 */
export interface SnapshotChanges {
  /** True when everything was read (the first update, after invalidate(), or a GRANT the watch cannot place). */
  readonly whole: boolean;
  readonly before: SchemaSnapshot;
  readonly after: SchemaSnapshot;
}

export type IncrementalStrategy = 'watch' | 'census';

export class IncrementalSnapshot {
  readonly #client: pg.ClientBase;
  readonly #options: SnapshotOptions;
  #objects = new Map<string, SchemaObject>();
  #rootOf = new Map<string, string>();
  #keysOf = new Map<string, Set<string>>();
  /** Keys of the kinds read whole every time (schemas, extensions, event triggers, default privileges). */
  #rootless = new Set<string>();
  #columnOrder = new Map<string, readonly string[]>();
  #counts = new Map<string, number>();
  #horizon: string | null = null;
  #excluded: { readonly extensions: string; readonly oids: readonly string[] } | undefined;
  #strategy: IncrementalStrategy | undefined;
  readonly #forced: IncrementalStrategy | undefined;
  #watchNames: readonly string[] = [];
  #whole = true;

  /** `strategy` forces one (tests); by default the watch when the role is a superuser, else the census. */
  constructor(client: pg.ClientBase, options: SnapshotOptions, strategy?: IncrementalStrategy) {
    this.#client = client;
    this.#options = options;
    this.#forced = strategy;
  }

  /** How changes are found (known after the first update). */
  get strategy(): IncrementalStrategy | undefined {
    return this.#strategy;
  }

  /** The next update reads everything (after a failed statement that may have left what no event reported). */
  invalidate(): void {
    this.#whole = true;
  }

  /** The current snapshot: whole the first time, then only the changed roots re-read. */
  async take(): Promise<SchemaSnapshot> {
    await this.update();
    return this.current();
  }

  /** The kept snapshot as of the last update (a copy: costs a pass over every object). */
  current(): SchemaSnapshot {
    return { objects: Object.fromEntries(this.#objects), columnOrder: Object.fromEntries(this.#columnOrder) };
  }

  /** Re-reads what changed since the previous update and says what that was. */
  async update(): Promise<SnapshotChanges> {
    if (this.#strategy === undefined) await this.#start();
    let touched: string[] | null = null;
    let vanished: readonly string[] = [];
    if (this.#strategy === 'census') {
      const census = await this.#census();
      touched = census.changed ?? null;
      // Roots that vanished are not in the catalog any more, so not in the closure.
      vanished = census.changed ?? [];
      if (this.#excluded?.extensions !== census.extensions) await this.#exclude(census.extensions);
    }
    if (this.#excluded === undefined) {
      const { rows } = await this.#client.query<{ v: string }>(
        `select coalesce(string_agg(oid::text || ':' || xmin::text, ','), '') as v from pg_extension`,
      );
      await this.#exclude(rows[0]!.v);
    }
    let result = await this.#read(touched, this.#whole);
    // The left-out relations change only with tidemark's tables (created before the first update) or an
    // extension: when the extensions changed, read again with the new list.
    if (this.#excluded?.extensions !== result.signature) {
      await this.#exclude(result.signature);
      result = await this.#read(null, true);
    }
    const read = assembleSnapshot(result);
    this.#whole = false;
    if (result.scope === null) return this.#replace(read);
    return this.#merge([...new Set([...result.scope.map(String), ...vanished])], read);
  }

  /** tidemark's tables, what hangs off them and extension members, for this set of extensions. */
  async #exclude(extensions: string): Promise<void> {
    this.#excluded = { extensions, oids: await excludedRelations(this.#client, this.#options.trackingTable) };
  }

  async #read(
    touched: readonly string[] | null,
    whole: boolean,
  ): Promise<Record<string, SnapshotRow[]> & { scope: number[] | null; signature: string }> {
    const call = async () =>
      (
        await this.#client.query<{
          read: Record<string, SnapshotRow[]> & { scope: number[] | null; signature: string };
        }>('select pg_temp.tidemark_read($1::oid[], null, $2::oid[], $3, $4) as read', [
          this.#excluded?.oids ?? [],
          touched ?? [],
          whole,
          this.#strategy === 'watch',
        ])
      ).rows[0]!.read;
    try {
      return await call();
    } catch (error) {
      // DISCARD TEMP (or ALL) in a migration took this session's temporary objects, the watch with them: set
      // them up again and read everything.
      const code = (error as { code?: string }).code;
      if (code !== '42P01' && code !== '42883') throw error;
      await this.#start();
      whole = true;
      return await call();
    }
  }

  /** Drops the watch (a session's temporary objects go with it anyway). */
  async close(): Promise<void> {
    for (const name of this.#watchNames) await this.#client.query(`drop event trigger if exists ${quoteIdent(name)}`);
    this.#watchNames = [];
  }

  async #start(): Promise<void> {
    const { rows } = await this.#client.query<{ superuser: boolean; pid: number }>(
      `select rolsuper as superuser, pg_backend_pid() as pid from pg_roles where rolname = current_user`,
    );
    // Temporary functions: any role may create them (TEMP is granted to PUBLIC by default).
    await this.#client.query(readFunction(this.#options.grants !== false));
    if (!rows[0]?.superuser || this.#forced === 'census') {
      this.#strategy = 'census';
      return;
    }
    const pid = rows[0].pid;
    const names = [`tidemark_watch_end_${pid}`, `tidemark_watch_drop_${pid}`];
    await this.#client.query('begin');
    try {
      await this.#client.query(`create temp table if not exists tidemark_touched (root oid, whole boolean not null)`);
      await this.#client.query(
        `create temp table if not exists tidemark_indexes (index oid primary key, root oid not null)`,
      );
      await this.#client.query(
        `create temp table if not exists tidemark_links (child oid not null, parent oid not null)`,
      );
      for (const sql of WATCH_FUNCTIONS) await this.#client.query(sql);
      const [end, drop] = names.map(quoteIdent);
      for (const name of [end, drop]) await this.#client.query(`drop event trigger if exists ${name}`);
      await this.#client.query(
        `create event trigger ${end} on ddl_command_end execute function pg_temp.tidemark_watch_end()`,
      );
      await this.#client.query(`alter event trigger ${end} enable always`);
      await this.#client.query(
        `create event trigger ${drop} on sql_drop execute function pg_temp.tidemark_watch_drop()`,
      );
      await this.#client.query(`alter event trigger ${drop} enable always`);
      await this.#client.query('commit');
    } catch (error) {
      await this.#client.query('rollback').catch(() => {});
      throw error;
    }
    this.#watchNames = names;
    this.#strategy = 'watch';
  }

  /** The roots changed since the previous census (undefined the first time), and the extensions' signature. */
  async #census(): Promise<{ changed: string[] | undefined; extensions: string }> {
    // The horizon is read before the census: a transaction that commits between the two is seen as fresh
    // next time at worst (a needless re-read), never missed.
    const { rows: h } = await this.#client.query<{ x: string; extensions: string }>(
      `select pg_snapshot_xmax(pg_current_snapshot())::text as x,
              (select coalesce(string_agg(oid::text || ':' || xmin::text, ','), '') from pg_extension) as extensions`,
    );
    const horizon = h[0]!.x;
    const { rows } = await this.#client.query<{ root: string; n: number; fresh: boolean }>(CENSUS, [this.#horizon]);
    const counts = new Map(rows.map((r) => [r.root, r.n] as const));
    let changed: string[] | undefined;
    if (this.#horizon !== null) {
      const found = new Set<string>();
      for (const r of rows) if (r.fresh || this.#counts.get(r.root) !== r.n) found.add(r.root);
      for (const root of this.#counts.keys()) if (!counts.has(root)) found.add(root);
      changed = [...found];
    }
    this.#counts = counts;
    this.#horizon = horizon;
    return { changed, extensions: h[0]!.extensions };
  }

  #replace(read: RootedSnapshot): SnapshotChanges {
    const before = this.current();
    this.#objects = new Map(Object.entries(read.snapshot.objects));
    this.#rootOf = new Map(read.rootOf);
    this.#keysOf = new Map();
    for (const [key, root] of this.#rootOf) this.#keysIn(root).add(key);
    this.#columnOrder = new Map(Object.entries(read.snapshot.columnOrder));
    this.#rootless = new Set([...this.#objects.keys()].filter((key) => !this.#rootOf.has(key)));
    return { whole: true, before, after: read.snapshot };
  }

  #keysIn(root: string): Set<string> {
    let keys = this.#keysOf.get(root);
    if (keys === undefined) this.#keysOf.set(root, (keys = new Set()));
    return keys;
  }

  #merge(scope: readonly string[], read: RootedSnapshot): SnapshotChanges {
    const before: Record<string, SchemaObject> = {};
    const beforeOrder: Record<string, readonly string[]> = {};
    const forget = (key: string) => {
      const o = this.#objects.get(key);
      if (o !== undefined) before[key] = o;
      const order = this.#columnOrder.get(key);
      if (order !== undefined) beforeOrder[key] = order;
      this.#objects.delete(key);
      this.#columnOrder.delete(key);
      this.#rootOf.delete(key);
    };
    for (const root of scope) {
      // A key can have moved to another root (a table dropped and created again under its name).
      for (const key of this.#keysOf.get(root) ?? []) if (this.#rootOf.get(key) === root) forget(key);
      this.#keysOf.delete(root);
    }
    // The kinds read whole (no root) are replaced whole.
    for (const key of this.#rootless) forget(key);
    this.#rootless = new Set();
    for (const [key, o] of Object.entries(read.snapshot.objects)) {
      this.#objects.set(key, o);
      if (!read.rootOf.has(key)) this.#rootless.add(key);
    }
    for (const [key, root] of read.rootOf) {
      this.#rootOf.set(key, root);
      this.#keysIn(root).add(key);
    }
    for (const [key, order] of Object.entries(read.snapshot.columnOrder)) this.#columnOrder.set(key, order);
    return {
      whole: false,
      before: { objects: before, columnOrder: beforeOrder },
      after: read.snapshot,
    };
  }
}
