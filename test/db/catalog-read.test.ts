/**
 * What the catalog read gives, part by part (db/catalog.ts reads it in one statement since session 5): columns
 * with their modifiers (dropped ones left out), constraints and indexes in a stable order, the tables of
 * indexes read by their names, function volatility by lower-cased name (the most volatile overload), relations
 * of every kind, user types, schemas and the search_path. The expected values are what the read of seven
 * queries before it gave on the same schema.
 */
import { describe, expect, it } from 'vitest';
import { readCatalog, type Catalog } from '../../src/db/catalog.js';
import { useCatalogSchema } from '../helpers/catalog-schema.js';

const schema = useCatalogSchema('catalog_read');

/** The catalog without sizes (they depend on the server's page layout), maps and sets as sorted arrays. */
function compact(c: Catalog) {
  return {
    tables: Object.fromEntries(
      [...c.tables.entries()].map(([key, t]) => [
        key,
        {
          schema: t.schema,
          name: t.name,
          rows: t.estimatedRows,
          columns: t.columns.map((x) => [x.name, x.type, x.typeName, x.mods, x.notNull]),
          constraints: t.constraints.map((x) => [x.name, x.type, x.validated, x.definition]),
          indexes: t.indexes.map((x) => [x.name, x.unique, x.valid, x.definition]),
        },
      ]),
    ),
    indexTables: [...c.indexTables].sort(),
    functionVolatility: [...c.functionVolatility].sort(),
    relations: [...(c.relations ?? [])].sort(),
    types: [...(c.types ?? [])].sort(),
    schemas: [...(c.schemas ?? [])].sort(),
    searchPath: c.searchPath,
  };
}

const USERS = {
  schema: 'public',
  name: 'users',
  rows: 0,
  columns: [
    ['id', 'integer', 'int4', [], true],
    ['email', 'character varying(100)', 'varchar', [100], false],
    ['name', 'character varying(20)', 'varchar', [20], false],
    ['status', 'text', 'text', [], false],
    ['created_at', 'timestamp without time zone', 'timestamp', [], false],
    ['mood', 'mood', 'mood', [], false],
    ['score', 'integer', 'int4', [], false],
    ['n', 'numeric', 'numeric', [], false],
    ['arr', 'integer[]', '_int4', [], false],
    ['nums', 'numeric(5,1)[]', '_numeric', [5, 1], false],
    ['p', 'posint', 'posint', [], false],
  ],
  constraints: [
    ['users_email_key', 'u', true, 'UNIQUE (email)'],
    ['users_pkey', 'p', true, 'PRIMARY KEY (id)'],
    ['users_score_check', 'c', true, 'CHECK ((score IS NOT NULL))'],
    ['users_status_check', 'c', true, "CHECK ((status <> ''::text))"],
  ],
  indexes: [
    ['users_email_idx', false, true, 'CREATE INDEX users_email_idx ON public.users USING btree (email)'],
    ['users_email_key', true, true, 'CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email)'],
    ['users_pkey', true, true, 'CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)'],
  ],
};

const ORDERS = {
  schema: 'public',
  name: 'orders',
  rows: 0,
  columns: [
    ['id', 'bigint', 'int8', [], true],
    ['user_id', 'integer', 'int4', [], false],
    ['total', 'numeric(10,2)', 'numeric', [10, 2], false],
  ],
  constraints: [
    ['orders_pkey', 'p', true, 'PRIMARY KEY (id)'],
    ['orders_user_id_fkey', 'f', true, 'FOREIGN KEY (user_id) REFERENCES users(id)'],
    ['total_pos', 'c', false, 'CHECK ((total > (0)::numeric)) NOT VALID'],
  ],
  indexes: [
    ['orders_pkey', true, true, 'CREATE UNIQUE INDEX orders_pkey ON public.orders USING btree (id)'],
    ['orders_total_idx', true, true, 'CREATE UNIQUE INDEX orders_total_idx ON public.orders USING btree (total)'],
  ],
};

describe('readCatalog', () => {
  it('reads by names: the tables so named or reached by an index so named, and the relations, types and functions so named', async () => {
    const names = ['users', 'orders_total_idx', 'mood', 'posint', 'stamp', 'Stamp', 'page_views', 'v', 's'];
    const catalog = await readCatalog(schema.client, { names: [...names, 'events', 'MixedCase', 'app', 'now'] });
    expect(compact(catalog)).toEqual({
      tables: {
        'public.users': USERS,
        'public.orders': ORDERS,
        'public.events': {
          schema: 'public',
          name: 'events',
          rows: 0,
          columns: [
            ['id', 'bigint', 'int8', [], false],
            ['at', 'timestamp with time zone', 'timestamptz', [], false],
          ],
          constraints: [],
          indexes: [],
        },
        'app.users': {
          schema: 'app',
          name: 'users',
          rows: 0,
          columns: [['id', 'integer', 'int4', [], false]],
          constraints: [],
          indexes: [],
        },
        'public.MixedCase': {
          schema: 'public',
          name: 'MixedCase',
          rows: 0,
          columns: [
            ['id', 'integer', 'int4', [], false],
            ['Col', 'text', 'text', [], false],
          ],
          constraints: [],
          indexes: [],
        },
        'public.page_views': {
          schema: 'public',
          name: 'page_views',
          rows: 1,
          columns: [['n', 'integer', 'int4', [], false]],
          constraints: [],
          indexes: [],
        },
      },
      indexTables: [
        ['public.orders_pkey', 'public.orders'],
        ['public.orders_total_idx', 'public.orders'],
        ['public.users_email_idx', 'public.users'],
        ['public.users_email_key', 'public.users'],
        ['public.users_pkey', 'public.users'],
      ],
      functionVolatility: [
        ['now', 's'],
        ['stamp', 'v'],
      ],
      relations: [
        ['app.users', 'r'],
        ['public.MixedCase', 'r'],
        ['public.events', 'p'],
        ['public.orders', 'r'],
        ['public.orders_total_idx', 'i'],
        ['public.page_views', 'm'],
        ['public.s', 'S'],
        ['public.users', 'r'],
        ['public.v', 'v'],
      ],
      types: ['public.mood', 'public.posint'],
      schemas: ['app', 'information_schema', 'pg_catalog', 'pg_toast', 'public'],
      searchPath: ['public'],
    });
    expect(catalog.tables.get('public.users')!.sizeBytes).toBeGreaterThan(0);
  });

  it('reads everything without names: the same facts for the same objects, and every other table', async () => {
    const whole = compact(await readCatalog(schema.client));
    expect(whole.tables['public.users']).toEqual(USERS);
    expect(whole.tables['public.orders']).toEqual(ORDERS);
    expect(Object.keys(whole.tables).sort()).toEqual([
      'app.users',
      'public.MixedCase',
      'public.accounts',
      'public.events',
      'public.events_2020',
      'public.orders',
      'public.page_views',
      'public.users',
    ]);
    const own = await schema.db.query<{ name: string; kind: string }>(
      `select n.nspname || '.' || c.relname as name, c.relkind::text as kind
         from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname in ('public', 'app')`,
    );
    expect(whole.relations.filter(([name]) => /^(public|app)\./.test(name))).toEqual(
      own.map((r) => [r.name, r.kind]).sort(),
    );
    expect(whole.types).toEqual(['public.mood', 'public.posint']);
    expect(whole.functionVolatility.length).toBeGreaterThan(1000);
  });

  it('calls whileWaiting once, after the read is sent and before it is answered', async () => {
    const seen: string[] = [];
    const reading = readCatalog(schema.client, { names: ['users'], whileWaiting: () => seen.push('waiting') }).then(
      (c) => {
        seen.push('answered');
        return c;
      },
    );
    expect((await reading).tables.has('public.users')).toBe(true);
    expect(seen).toEqual(['waiting', 'answered']);
  });

  it('reads tables whose names an array literal must quote or escape', async () => {
    const names = ['com,ma', '{brace}', 'NULL', 'spa ce', 'é', 'we"ird', 'back\\slash', 'line\nbreak'];
    for (const name of names) await schema.db.query(`create table "${name.replaceAll('"', '""')}" (id int)`);
    const catalog = await readCatalog(schema.client, { names: [...names, 'null'] });
    expect([...catalog.tables.keys()].sort()).toEqual(names.map((n) => `public.${n}`).sort());
    // Without the names that need escaping: the other way of sending them.
    const plain = await readCatalog(schema.client, { names: names.slice(0, 5) });
    expect([...plain.tables.keys()].sort()).toEqual(
      names
        .slice(0, 5)
        .map((n) => `public.${n}`)
        .sort(),
    );
  });
});
