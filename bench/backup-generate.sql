-- Generates the benchmark database for bench/backup-bench.mjs: three tables shaped like an application's
-- (orders with text, numeric, timestamps and jsonb; customers; an append-only event log), with indexes,
-- so that pg_database_size is about :size_mb MB. Data is pseudo-random but compresses like real rows
-- (repeated words, enums, hex ids), not like /dev/urandom and not like a column of zeros.
\set ON_ERROR_STOP on
drop table if exists bench_orders, bench_customers, bench_events;
create table bench_customers (
  id int primary key,
  email text not null,
  name text not null,
  country text not null,
  created_at timestamptz not null
);
create table bench_orders (
  id bigint primary key,
  customer_id int not null,
  status text not null,
  amount numeric(12, 2) not null,
  note text,
  created_at timestamptz not null,
  payload jsonb not null
);
create table bench_events (
  id bigint generated always as identity primary key,
  order_id bigint not null,
  kind text not null,
  at timestamptz not null,
  detail text
);
-- Calibrated on PostgreSQL 15: about 3450 orders (with their events, customers and indexes) per MB.
select (:size_mb * 3450)::bigint as n_orders, greatest(1000, :size_mb * 100)::int as n_customers \gset
insert into bench_customers
select g, 'user' || g || '@example.com', 'Customer ' || md5(g::text),
       (array['DE', 'FR', 'US', 'BR', 'JP', 'IN'])[1 + g % 6], now() - g * interval '1 minute'
from generate_series(1, :n_customers) g;
insert into bench_orders
select g, 1 + (hashint4(g::int) & 2147483647) % :n_customers,
       (array['new', 'paid', 'shipped', 'cancelled', 'refunded'])[1 + (hashint4(g::int + 7) & 2147483647) % 5],
       ((hashint4(g::int + 3) & 2147483647) % 100000) / 100.0,
       case when g % 3 = 0 then null else md5(g::text) || ' ' || repeat('please leave at the door ', 1 + g % 3) end,
       now() - g * interval '1 second',
       jsonb_build_object('sku', 'SKU-' || (g % 5000), 'qty', 1 + g % 7, 'gift', g % 11 = 0)
from generate_series(1, :n_orders) g;
insert into bench_events (order_id, kind, at, detail)
select g, (array['created', 'paid', 'shipped'])[1 + g % 3], now() - g * interval '1 second',
       'event ' || md5((g * 31)::text)
from generate_series(1, :n_orders / 2) g;
create index on bench_orders (customer_id);
create index on bench_events (order_id);
analyze;
select pg_size_pretty(pg_database_size(current_database())) as database_size;
