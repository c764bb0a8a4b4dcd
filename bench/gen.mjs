// gen.mjs N DIR [full|tiny] - writes N small, realistic PostgreSQL migrations and their exact rollbacks, laid
// out for tidemark (DIR/sql/migrations, DIR/sql/rollback) and for dbmate (DIR/dbmate, "-- migrate:up"/
// "-- migrate:down" in one file), with byte-identical SQL bodies. `full` (the default): each migration creates a
// table with six columns, a CHECK and two indexes, adds a column to the previous table, creates a plpgsql
// function with a $$ body and inserts three rows; one string literal and the body hold a ';' (naive splitters
// are exercised). `tiny`: one short statement each (a column added to a table, every 500th creates one), as
// long real histories mostly are: there the per-migration cost of a runner is what shows. "Apply all, roll back
// all" leaves an empty public schema. NNN is zero-padded to max(3, digits of N).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * N tiny migrations: { version, name, up, down }, one short statement each: every 500th creates a table, the
 * others add a column to it (PostgreSQL's limit is 1600 columns a table).
 */
export function tinyMigrations(n) {
  const width = Math.max(3, String(n).length);
  const all = [];
  for (let i = 1; i <= n; i += 1) {
    const v = String(i).padStart(width, '0');
    const table = `tiny_${Math.floor((i - 1) / 500) + 1}`;
    if ((i - 1) % 500 === 0)
      all.push({
        version: v,
        name: `create_${table}`,
        up: `CREATE TABLE ${table} (id int);\n`,
        down: `DROP TABLE ${table};\n`,
      });
    else
      all.push({
        version: v,
        name: `add_c${v}`,
        up: `ALTER TABLE ${table} ADD COLUMN c${v} int;\n`,
        down: `ALTER TABLE ${table} DROP COLUMN c${v};\n`,
      });
  }
  return all;
}

/** The N migrations in memory: { version, name, up, down } (the SQL texts the files get). */
export function migrations(n) {
  const width = Math.max(3, String(n).length);
  const words = [
    'accounts',
    'orders',
    'invoices',
    'shipments',
    'products',
    'reviews',
    'sessions',
    'events',
    'coupons',
    'payments',
    'tenants',
    'audit_log',
    'webhooks',
    'teams',
    'projects',
    'tickets',
  ];
  const pad = (i) => String(i).padStart(width, '0');
  const table = (i) => `${words[(i - 1) % words.length]}_${pad(i)}`;
  const all = [];
  for (let i = 1; i <= n; i += 1) {
    const v = pad(i);
    const t = table(i);
    const name = `create_${t.replace(/_\d+$/, '')}_${v}`;
    const prev = i > 1 ? table(i - 1) : t;
    const up = [
      `-- ${v}: ${t} with an index, a column on the previous table, a function and a few rows`,
      `CREATE TABLE ${t} (`,
      '    id          bigserial PRIMARY KEY,',
      '    external_id uuid NOT NULL DEFAULT gen_random_uuid(),',
      '    name        text NOT NULL,',
      "    status      text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'active', 'closed')),",
      '    amount      numeric(12,2) NOT NULL DEFAULT 0,',
      '    created_at  timestamptz NOT NULL DEFAULT now()',
      ');',
      `CREATE INDEX ${t}_status_created_idx ON ${t} (status, created_at);`,
      `CREATE UNIQUE INDEX ${t}_external_id_key ON ${t} (external_id);`,
      `ALTER TABLE ${prev} ADD COLUMN note_${v} text;`,
      '',
      `CREATE FUNCTION ${t}_total(p_status text) RETURNS numeric`,
      'LANGUAGE plpgsql STABLE AS $$',
      'DECLARE',
      '    v_total numeric;',
      'BEGIN',
      `    SELECT coalesce(sum(amount), 0) INTO v_total FROM ${t} WHERE status = p_status;`,
      "    RETURN v_total;  -- a ';' inside the body",
      'END;',
      '$$;',
      '',
      `INSERT INTO ${t} (name, status, amount) VALUES`,
      "    ('alpha', 'new', 10.50),",
      "    ('beta; with a semicolon', 'active', 20.00),",
      "    ('gamma', 'closed', 30.25);",
      '',
    ].join('\n');
    const down = [
      `-- ${v}: undo ${name}`,
      `DROP FUNCTION ${t}_total(text);`,
      `ALTER TABLE ${prev} DROP COLUMN note_${v};`,
    ];
    if (i > 1) down.push(`DROP TABLE ${t};`);
    else down.splice(2, 1, `DROP TABLE ${t};`); // the first migration's column sits on its own table
    all.push({ version: v, name, up, down: `${down.join('\n')}\n` });
  }
  return all;
}

/**
 * Writes migrations(n) (or tinyMigrations(n) when kind is 'tiny') for tidemark (DIR/sql/migrations,
 * DIR/sql/rollback) and for dbmate (DIR/dbmate).
 */
export function generate(n, dir, kind = 'full') {
  for (const sub of ['sql', 'dbmate']) rmSync(join(dir, sub), { recursive: true, force: true });
  for (const sub of ['sql/migrations', 'sql/rollback', 'dbmate']) mkdirSync(join(dir, sub), { recursive: true });
  for (const { version: v, name, up, down } of kind === 'tiny' ? tinyMigrations(n) : migrations(n)) {
    writeFileSync(join(dir, 'sql/migrations', `${v}_${name}.sql`), up);
    writeFileSync(join(dir, 'sql/rollback', `${v}_${name}_rollback.sql`), down);
    writeFileSync(join(dir, 'dbmate', `${v}_${name}.sql`), `-- migrate:up\n${up}\n-- migrate:down\n${down}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [n, dir, kind = 'full'] = process.argv.slice(2);
  if (!/^[1-9]\d*$/.test(n ?? '') || !dir || !['full', 'tiny'].includes(kind)) {
    console.error('usage: node bench/gen.mjs N DIR [full|tiny]');
    process.exit(2);
  }
  generate(Number(n), dir, kind);
  console.log(`gen.mjs: ${n} ${kind} migrations in ${dir}`);
}
