import { beforeAll, describe, expect, it } from 'vitest';
import { loadParser } from '../../../src/sql/parser.js';
import { lintFiles, type Finding } from '../../../src/sql/lint/index.js';
import type { Allowance } from '../../../src/source/types.js';
import type { Catalog } from '../../../src/db/catalog.js';

beforeAll(async () => {
  await loadParser();
});

interface Options {
  readonly noTransaction?: boolean;
  readonly allow?: Allowance[];
  readonly pgVersion?: number;
  readonly catalog?: boolean;
}

// A live catalog as db/catalog.ts reads it: users(id int4, name varchar(20), balance numeric(10,2), email text).
const CATALOG: Catalog = {
  serverVersionNum: 150004,
  indexTables: new Map([['public.users_pkey', 'public.users']]),
  functionVolatility: new Map([
    ['make_code', 'v'],
    ['now', 's'],
  ]),
  tables: new Map([
    [
      'public.users',
      {
        schema: 'public',
        name: 'users',
        estimatedRows: 1_200_000,
        sizeBytes: 2_000_000_000,
        columns: [
          { name: 'id', type: 'integer', typeName: 'int4', mods: [], notNull: true },
          { name: 'name', type: 'character varying(20)', typeName: 'varchar', mods: [20], notNull: false },
          { name: 'balance', type: 'numeric(10,2)', typeName: 'numeric', mods: [10, 2], notNull: false },
          { name: 'email', type: 'text', typeName: 'text', mods: [], notNull: false },
        ],
        constraints: [
          { name: 'email_nn', type: 'c', validated: true, definition: 'CHECK ((email IS NOT NULL))' },
          { name: 'name_nn', type: 'c', validated: false, definition: 'CHECK ((name IS NOT NULL)) NOT VALID' },
        ],
        indexes: [],
      },
    ],
  ]),
};

function file(text: string, options: Options = {}, displayPath = 'migrations/001_x.sql') {
  return {
    displayPath,
    text,
    directives: { noTransaction: options.noTransaction ?? false, allow: options.allow ?? [] },
  };
}

async function lint(text: string, options: Options = {}): Promise<Finding[]> {
  return lintFiles([file(text, options)], {
    pgVersion: options.pgVersion ?? 150000,
    ...(options.catalog === true ? { catalog: CATALOG } : {}),
  });
}

async function ruleIds(text: string, options: Options = {}): Promise<string[]> {
  return [...new Set((await lint(text, options)).map((f) => f.rule))].sort();
}

// [case, sql, expected rule ids, options]: each case is one file, linted on its own (PostgreSQL 15, offline).
const CASES: Array<[string, string, string[], Options?]> = [
  // adding-field-with-default
  ['constant default is safe on 11+', 'alter table users add column active boolean default true', []],
  ['now() default is STABLE: safe', 'alter table users add column seen timestamptz default now()', []],
  ['CURRENT_TIMESTAMP default is safe', 'alter table users add column seen timestamptz default current_timestamp', []],
  [
    'volatile gen_random_uuid() default rewrites',
    'alter table users add column token uuid default gen_random_uuid()',
    ['adding-field-with-default'],
  ],
  [
    'volatile inside an expression rewrites',
    "alter table users add column code text default 'u-' || (random() * 10)::int::text",
    ['adding-field-with-default'],
  ],
  [
    'clock_timestamp() default rewrites',
    'alter table users add column t timestamptz default clock_timestamp()',
    ['adding-field-with-default'],
  ],
  [
    'volatile default in a second sub-command',
    'alter table users add column a int, add column b float8 default random()',
    ['adding-field-with-default', 'prefer-bigint-over-int'],
  ],
  [
    'bigserial column rewrites',
    'alter table users add column n bigserial',
    ['adding-field-with-default', 'prefer-identity'],
  ],
  [
    'identity column rewrites',
    'alter table users add column n bigint generated always as identity',
    ['adding-field-with-default'],
  ],
  [
    'constant default rewrites before 11',
    'alter table users add column active boolean default true',
    ['adding-field-with-default'],
    { pgVersion: 100000 },
  ],
  ['NULL default is never a rewrite', 'alter table users add column note text default null', []],
  [
    'volatile default on a table created in the same file is fine',
    'create table t (id bigint primary key);\nalter table t add column token uuid default gen_random_uuid()',
    [],
  ],
  // adding-stored-generated-column
  [
    'stored generated column rewrites',
    'alter table orders add column total numeric generated always as (qty * price) stored',
    ['adding-stored-generated-column'],
  ],
  // changing-column-type
  [
    'int -> bigint offline: old type unknown',
    'alter table users alter column id type bigint',
    ['changing-column-type'],
  ],
  [
    'int -> bigint rewrites (catalog)',
    'alter table users alter column id type bigint',
    ['changing-column-type'],
    { catalog: true },
  ],
  [
    'varchar(20) -> varchar(40) does not rewrite (catalog)',
    'alter table users alter column name type varchar(40)',
    ['prefer-text-field'],
    { catalog: true },
  ],
  [
    'varchar(20) -> text does not rewrite (catalog)',
    'alter table users alter column name type text',
    [],
    { catalog: true },
  ],
  [
    'varchar(20) -> varchar(10) rewrites (catalog)',
    'alter table users alter column name type varchar(10)',
    ['changing-column-type', 'prefer-text-field'],
    { catalog: true },
  ],
  [
    'numeric(10,2) -> numeric(12,2) does not rewrite (catalog)',
    'alter table users alter column balance type numeric(12,2)',
    [],
    { catalog: true },
  ],
  [
    'numeric(10,2) -> numeric(12,4) rewrites (catalog)',
    'alter table users alter column balance type numeric(12,4)',
    ['changing-column-type'],
    { catalog: true },
  ],
  [
    'SET NOT NULL with a validated CHECK in the catalog',
    'alter table users alter column email set not null',
    [],
    { catalog: true },
  ],
  [
    'SET NOT NULL with only a NOT VALID CHECK in the catalog',
    'alter table users alter column name set not null',
    ['adding-not-nullable-field'],
    { catalog: true },
  ],
  [
    'a user function the catalog knows as VOLATILE',
    'alter table users add column code text default make_code()',
    ['adding-field-with-default'],
    { catalog: true },
  ],
  [
    'a function unknown offline is a warning that says so',
    'alter table users add column code text default make_code()',
    ['adding-field-with-default'],
  ],
  [
    'type change with USING rewrites',
    'alter table users alter column age type int8 using age::int8',
    ['changing-column-type'],
  ],
  // adding-not-nullable-field
  [
    'SET NOT NULL without a CHECK scans',
    'alter table users alter column email set not null',
    ['adding-not-nullable-field'],
  ],
  [
    'SET NOT NULL after CHECK NOT VALID + VALIDATE (no-transaction file)',
    '-- migrate:no-transaction\nalter table users add constraint email_nn check (email is not null) not valid;\nalter table users validate constraint email_nn;\nalter table users alter column email set not null;',
    [],
    { noTransaction: true },
  ],
  [
    'SET NOT NULL on PostgreSQL 11 always scans',
    'alter table users alter column email set not null',
    ['adding-not-nullable-field'],
    { pgVersion: 110000 },
  ],
  [
    'validated CHECK then SET NOT NULL in one file: only the CHECK is flagged',
    'alter table users add constraint email_nn check (email is not null);\nalter table users alter column email set not null;',
    ['constraint-missing-not-valid'],
  ],
  // constraint-missing-not-valid
  [
    'ADD CHECK without NOT VALID',
    'alter table users add constraint age_pos check (age > 0)',
    ['constraint-missing-not-valid'],
  ],
  ['ADD CHECK NOT VALID alone is safe', 'alter table users add constraint age_pos check (age > 0) not valid', []],
  [
    'NOT VALID then VALIDATE in one transaction',
    'alter table users add constraint age_pos check (age > 0) not valid;\nalter table users validate constraint age_pos;',
    ['constraint-missing-not-valid'],
  ],
  [
    'NOT VALID then VALIDATE in a no-transaction file',
    'alter table users add constraint age_pos check (age > 0) not valid;\nalter table users validate constraint age_pos;',
    [],
    { noTransaction: true },
  ],
  [
    'NOT VALID then VALIDATE between explicit BEGIN/COMMIT of a no-transaction file',
    'begin;\nalter table users add constraint age_pos check (age > 0) not valid;\nalter table users validate constraint age_pos;\ncommit;',
    ['constraint-missing-not-valid'],
    { noTransaction: true },
  ],
  ['VALIDATE alone is safe', 'alter table users validate constraint age_pos', []],
  // adding-foreign-key-constraint
  [
    'FK without NOT VALID',
    'alter table orders add constraint orders_user_fk foreign key (user_id) references users (id)',
    ['adding-foreign-key-constraint'],
  ],
  [
    'FK NOT VALID is safe',
    'alter table orders add constraint orders_user_fk foreign key (user_id) references users (id) not valid',
    [],
  ],
  [
    'FK NOT VALID + VALIDATE in one transaction',
    'alter table orders add constraint fk foreign key (user_id) references users (id) not valid;\nalter table orders validate constraint fk;',
    ['constraint-missing-not-valid'],
  ],
  [
    'ADD COLUMN REFERENCES',
    'alter table orders add column coupon_id bigint references coupons (id)',
    ['adding-foreign-key-constraint'],
  ],
  [
    'FK in CREATE TABLE is safe',
    'create table items (id bigint primary key, order_id bigint references orders (id))',
    [],
  ],
  // disallowed-unique-constraint
  [
    'ADD UNIQUE builds an index under ACCESS EXCLUSIVE',
    'alter table users add constraint users_email_key unique (email)',
    ['disallowed-unique-constraint'],
  ],
  ['ADD PRIMARY KEY', 'alter table users add primary key (id)', ['disallowed-unique-constraint']],
  [
    'ADD UNIQUE USING INDEX is safe',
    'alter table users add constraint users_email_key unique using index users_email_idx',
    [],
  ],
  // adding-exclusion-constraint
  [
    'ADD EXCLUDE',
    'alter table bookings add constraint no_overlap exclude using gist (room with =, during with &&)',
    ['adding-exclusion-constraint'],
  ],
  // adding-required-field
  [
    'NOT NULL column without default',
    'alter table users add column tenant_id bigint not null',
    ['adding-required-field'],
  ],
  [
    'NOT NULL column with a constant default is safe',
    "alter table users add column plan text not null default 'free'",
    [],
  ],
  // index rules
  [
    'CREATE INDEX without CONCURRENTLY',
    'create index users_email_idx on users (email)',
    ['require-concurrent-index-creation'],
  ],
  [
    'CREATE INDEX on a table created in the same file',
    'create table t (id bigint, email text);\ncreate index t_email_idx on t (email);',
    [],
  ],
  [
    'CREATE INDEX CONCURRENTLY in a transactional file fails',
    'create index concurrently users_email_idx on users (email)',
    ['ban-concurrent-index-creation-in-transaction'],
  ],
  [
    'CREATE INDEX CONCURRENTLY in a no-transaction file is safe',
    'create index concurrently users_email_idx on users (email)',
    [],
    { noTransaction: true },
  ],
  [
    'CONCURRENTLY after an explicit BEGIN in a no-transaction file',
    'begin;\ncreate index concurrently i on users (email);\ncommit;',
    ['ban-concurrent-index-creation-in-transaction'],
    { noTransaction: true },
  ],
  ['DROP INDEX without CONCURRENTLY', 'drop index users_email_idx', ['require-concurrent-index-deletion']],
  [
    'DROP INDEX CONCURRENTLY in a no-transaction file',
    'drop index concurrently if exists users_email_idx',
    [],
    { noTransaction: true },
  ],
  [
    'DROP INDEX of an index built on a new table in the same file',
    'create table t (x int8);\ncreate index t_x on t (x);\ndrop index t_x;',
    [],
  ],
  ['REINDEX without CONCURRENTLY', 'reindex index users_email_idx', ['require-concurrent-reindex']],
  ['REINDEX CONCURRENTLY in a no-transaction file', 'reindex table concurrently users', [], { noTransaction: true }],
  // transaction control
  [
    'BEGIN/COMMIT in a wrapped file',
    'begin;\nalter table users add column note text;\ncommit;',
    ['transaction-nesting'],
  ],
  [
    'BEGIN/COMMIT in a no-transaction file is allowed',
    'begin;\nalter table users add column note text;\ncommit;',
    [],
    { noTransaction: true },
  ],
  [
    'enum value used in the same transaction',
    "alter type status add value 'archived';\nupdate posts set status = 'archived' where id = 1;",
    ['enum-value-used-in-same-transaction'],
  ],
  [
    'enum value used in a no-transaction file (separate transactions)',
    "alter type status add value 'archived';\nupdate posts set status = 'archived' where id = 1;",
    [],
    { noTransaction: true },
  ],
  ['enum ADD VALUE alone is safe on 12+', "alter type status add value 'archived'", []],
  [
    'enum value used through a cast in the same transaction',
    "alter type status add value if not exists 'archived';\ninsert into posts (status) values ('archived'::status);",
    ['enum-value-used-in-same-transaction'],
  ],
  [
    'enum value used as a column default in the same transaction',
    "alter type status add value 'archived';\nalter table posts alter column status set default 'archived';",
    ['enum-value-used-in-same-transaction'],
  ],
  [
    'enum value used inside a DO block in the same transaction',
    "alter type status add value 'archived';\ndo $$ begin update posts set status = 'archived' where id = 1; end $$;",
    ['enum-value-used-in-same-transaction'],
  ],
  [
    'enum RENAME VALUE is not an added value',
    "alter type status rename value 'old' to 'archived';\nupdate posts set status = 'archived' where id = 1;",
    [],
  ],
  [
    'enum ADD VALUE in a transaction before 12',
    "alter type status add value 'archived'",
    ['enum-value-used-in-same-transaction'],
    { pgVersion: 110000 },
  ],
  ['SET lock_timeout = 0', 'set lock_timeout = 0', ['lock-timeout-disabled', 'session-set-in-transaction']],
  ["SET LOCAL lock_timeout to '0ms'", "set local lock_timeout to '0ms'", ['lock-timeout-disabled']],
  ["SET LOCAL lock_timeout = '5s' is fine", "set local lock_timeout = '5s'", []],
  // data loss
  ['DROP TABLE', 'drop table legacy_events', ['ban-drop-table']],
  ['DROP TABLE of a table created in the same file', 'create table scratch (id bigint);\ndrop table scratch;', []],
  ['DROP COLUMN', 'alter table users drop column nickname', ['ban-drop-column']],
  ['TRUNCATE', 'truncate audit_log', ['ban-truncate']],
  ['DROP SCHEMA', 'drop schema reporting cascade', ['ban-drop-schema']],
  ['DROP DATABASE', 'drop database old_app', ['ban-drop-database', 'not-in-transaction']],
  // session-set-in-transaction (issue 10)
  ['session SET search_path in a transactional file', 'set search_path = app, public', ['session-set-in-transaction']],
  ['SET LOCAL search_path is fine', 'set local search_path = app', []],
  ['session SET in a no-transaction file is what it means', 'set search_path = app', [], { noTransaction: true }],
  ['RESET is fine', 'reset search_path', []],
  // not-in-transaction (issue 10)
  ['VACUUM in a transactional file fails (25001)', 'vacuum analyze users', ['not-in-transaction']],
  ['ANALYZE alone may run in a transaction', 'analyze users', []],
  ['VACUUM in a no-transaction file is fine', 'vacuum users', [], { noTransaction: true }],
  ['CLUSTER without a table in a transaction', 'cluster', ['not-in-transaction']],
  ['REINDEX SCHEMA in a transaction', 'reindex schema app', ['not-in-transaction', 'require-concurrent-reindex']],
  [
    'VACUUM between BEGIN and COMMIT of a no-transaction file',
    'begin;\nvacuum users;\ncommit;',
    ['not-in-transaction'],
    { noTransaction: true },
  ],
  // changing-tablespace, changing-table-persistence (issue 10)
  ['SET TABLESPACE copies the table', 'alter table users set tablespace archive', ['changing-tablespace']],
  [
    'ALTER INDEX SET TABLESPACE copies the index',
    'alter index users_pkey set tablespace archive',
    ['changing-tablespace'],
  ],
  [
    'SET TABLESPACE of a table created in the file is fine',
    'create table t (id bigint);\nalter table t set tablespace archive',
    [],
  ],
  ['SET LOGGED rewrites', 'alter table users set logged', ['changing-table-persistence']],
  ['SET UNLOGGED rewrites', 'alter table users set unlogged', ['changing-table-persistence']],
  // require-concurrent-refresh (issue 10)
  ['REFRESH without CONCURRENTLY', 'refresh materialized view totals', ['require-concurrent-refresh']],
  ['REFRESH CONCURRENTLY is fine', 'refresh materialized view concurrently totals', []],
  [
    'REFRESH of a view created in the file is fine',
    'create materialized view totals as select 1 as n;\nrefresh materialized view totals',
    [],
  ],
  // ban-lock-table (issue 10)
  ['LOCK TABLE (ACCESS EXCLUSIVE)', 'lock table users', ['ban-lock-table']],
  ['LOCK TABLE IN SHARE MODE blocks writes', 'lock table users in share mode', ['ban-lock-table']],
  ['LOCK TABLE IN ROW EXCLUSIVE MODE blocks no writes', 'lock table users in row exclusive mode', []],
  // require-concurrent-detach-partition, attach-partition-without-check (issue 10)
  [
    'DETACH PARTITION without CONCURRENTLY',
    'alter table m detach partition m_2023',
    ['require-concurrent-detach-partition'],
  ],
  [
    'DETACH PARTITION CONCURRENTLY is fine',
    'alter table m detach partition m_2023 concurrently',
    [],
    { noTransaction: true },
  ],
  [
    'ATTACH PARTITION without a validated CHECK scans',
    "alter table m attach partition m_2024 for values from ('2024-01-01') to ('2025-01-01')",
    ['attach-partition-without-check'],
  ],
  [
    'ATTACH PARTITION after a CHECK validated in the run skips the scan',
    "alter table m_2024 add constraint b check (d >= '2024-01-01') not valid;\nalter table m_2024 validate constraint b;\nalter table m attach partition m_2024 for values from ('2024-01-01') to ('2025-01-01')",
    ['constraint-missing-not-valid'],
  ],
  [
    'ATTACH PARTITION of a table created in the run is fine',
    "create table m_2024 (d date);\nalter table m attach partition m_2024 for values from ('2024-01-01') to ('2025-01-01')",
    [],
  ],
  ['UPDATE without WHERE', 'update users set active = true', ['ban-update-without-where']],
  ['UPDATE with WHERE', 'update users set active = true where id < 1000', []],
  ['DELETE without WHERE', 'delete from sessions', ['ban-delete-without-where']],
  ['DELETE with WHERE', "delete from sessions where expires_at < now() - interval '30 days'", []],
  // renames
  ['RENAME COLUMN', 'alter table users rename column name to full_name', ['renaming-column']],
  ['RENAME TABLE', 'alter table users rename to accounts', ['renaming-table']],
  [
    'RENAME on a new table is fine',
    'create table t (a text);\nalter table t rename column a to b;\nalter table t rename to u;',
    [],
  ],
  // backfill in the DDL transaction
  [
    'UPDATE after ADD COLUMN in one transaction',
    'alter table users add column plan text;\nupdate users set plan = $$free$$ where plan is null;',
    ['backfill-in-ddl-transaction'],
  ],
  [
    'UPDATE after ADD COLUMN in a no-transaction file',
    'alter table users add column plan text;\nupdate users set plan = $$free$$ where plan is null;',
    [],
    { noTransaction: true },
  ],
  // warnings
  [
    'varchar(n), int, serial, timestamp in CREATE TABLE',
    'create table t (id serial primary key, name varchar(50), at timestamp)',
    ['prefer-bigint-over-int', 'prefer-identity', 'prefer-text-field', 'prefer-timestamptz'],
  ],
  [
    'a good CREATE TABLE',
    'create table t (id bigint generated always as identity primary key, name text not null, at timestamptz not null default now())',
    [],
  ],
  // not top-level statements
  [
    'DROP TABLE in a comment',
    '-- drop table users;\n/* drop table users; /* nested */ truncate users; */\nselect 1;',
    [],
  ],
  [
    "DROP TABLE in an E'' string and a quoted identifier",
    "select E'\\'; drop table users; --' as \"drop table users;\"",
    [],
  ],
  [
    'DROP TABLE of two tables, one new',
    'create table scratch (id bigint);\ndrop table scratch, legacy;',
    ['ban-drop-table'],
  ],
  ['DROP TABLE in a string', "insert into notes (body) values ('drop table users; truncate users')", []],
  [
    'DROP TABLE in a function body runs later: not flagged',
    'create function cleanup() returns void language sql as $$ drop table users; $$;',
    [],
  ],
  ['DROP TABLE in a DO block runs now', 'do $$ begin drop table users; end $$;', ['ban-drop-table']],
  [
    'a DO block with IF ... THEN and a blocking index',
    "do $do$\nbegin\n  if not exists (select 1 from pg_indexes where indexname = 'i') then\n    create index i on users (email);\n  end if;\nend\n$do$;",
    ['require-concurrent-index-creation'],
  ],
  ['a DO block doing only safe things', "do $$ begin raise notice 'x; drop table users'; perform 1; end $$", []],
];

describe('lint: single-file cases', () => {
  it.each(CASES)('%s', async (_name, sql, expected, options) => {
    expect(await ruleIds(sql, options)).toEqual([...expected].sort());
  });

  it('has at least 60 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(60);
  });
});

describe('lint: positions and the finding shape', () => {
  it('points at the statement (line:col) after comments, and at the sub-command when it can', async () => {
    const [finding] = await lint(
      '-- migrate:allow nothing\n\n  alter table users\n    add column token uuid default gen_random_uuid();',
    );
    expect(finding).toMatchObject({
      file: 'migrations/001_x.sql',
      line: 4,
      column: 27,
      rule: 'adding-field-with-default',
      severity: 'error',
      lock: 'ACCESS EXCLUSIVE',
      table: 'public.users',
    });
    expect(finding!.help).toMatch(/backfill/);
  });

  it('points into a DO block body', async () => {
    const findings = await lint('do $$\nbegin\n  truncate audit;\nend $$;');
    expect(findings.map((f) => [f.rule, f.line, f.column])).toEqual([['ban-truncate', 3, 3]]);
  });

  it("reads a DO block written as a '' string, pointing at the DO statement", async () => {
    const findings = await lint("select 1;\ndo language plpgsql 'begin truncate audit; end';");
    expect(findings.map((f) => [f.rule, f.line, f.column])).toEqual([['ban-truncate', 2, 1]]);
  });

  it('says what it could not know offline, as a warning', async () => {
    const [finding] = await lint('alter table users add column code text default make_code()');
    expect(finding).toMatchObject({ rule: 'adding-field-with-default', severity: 'warning' });
    expect(finding!.message).toContain('not known offline');
  });

  it('reports a file that does not parse with file:line:col', async () => {
    const findings = await lint('alter table users add column x int;\nalter tabel users drop column y;');
    expect(findings).toEqual([
      expect.objectContaining({
        rule: 'syntax-error',
        line: 2,
        column: 7,
        severity: 'error',
        message: 'syntax error at or near "tabel"',
      }),
    ]);
  });
});

describe('lint: -- migrate:allow', () => {
  it('acknowledges a finding of the named rule with its reason', async () => {
    const findings = await lint('drop table legacy;', {
      allow: [{ rule: 'ban-drop-table', reason: 'unused since v2', line: 1 }],
    });
    expect(findings).toEqual([
      expect.objectContaining({ rule: 'ban-drop-table', acknowledged: { reason: 'unused since v2', line: 1 } }),
    ]);
  });

  it('reports an allow without a reason, and does not acknowledge with it', async () => {
    const findings = await lint('drop table legacy;', {
      allow: [{ rule: 'ban-drop-table', reason: undefined, line: 1 }],
    });
    expect(findings.map((f) => [f.rule, f.acknowledged])).toEqual([
      ['ban-drop-table', undefined],
      ['allow-missing-reason', undefined],
    ]);
  });

  it('reports an unknown rule id as an error', async () => {
    const findings = await lint('select 1;', { allow: [{ rule: 'ban-everything', reason: 'why not', line: 2 }] });
    expect(findings).toEqual([expect.objectContaining({ rule: 'unknown-lint-rule', severity: 'error', line: 2 })]);
  });
});

describe('lint: across files', () => {
  const ctx = { pgVersion: 150000 };
  it('knows a table created in an earlier pending file', async () => {
    const findings = await lintFiles(
      [
        file('create table t (id bigint, email text);'),
        file('create index t_email on t (email);', {}, 'migrations/002.sql'),
      ],
      ctx,
    );
    expect(findings).toEqual([]);
  });

  it('accepts NOT VALID in one file and VALIDATE in the next', async () => {
    const findings = await lintFiles(
      [
        file('alter table users add constraint email_nn check (email is not null) not valid;'),
        file('alter table users validate constraint email_nn;', {}, 'migrations/002.sql'),
        file('alter table users alter column email set not null;', {}, 'migrations/003.sql'),
      ],
      ctx,
    );
    expect(findings).toEqual([]);
  });

  it('still flags SET NOT NULL when the CHECK was only added NOT VALID', async () => {
    const findings = await lintFiles(
      [
        file('alter table users add constraint email_nn check (email is not null) not valid;'),
        file('alter table users alter column email set not null;', {}, 'migrations/002.sql'),
      ],
      ctx,
    );
    expect(findings.map((f) => [f.file, f.rule])).toEqual([['migrations/002.sql', 'adding-not-nullable-field']]);
  });

  it('treats a table created in an earlier pending file as new: its type changes are not flagged', async () => {
    const findings = await lintFiles(
      [
        file('create table t (name varchar(20), n int8, price numeric(10,2));'),
        file(
          'alter table t alter column name type varchar(40), alter column price type numeric(12,2);',
          {},
          'migrations/002.sql',
        ),
      ],
      ctx,
    );
    expect(findings.filter((f) => f.file === 'migrations/002.sql').map((f) => f.rule)).toEqual(['prefer-text-field']);
  });
});
