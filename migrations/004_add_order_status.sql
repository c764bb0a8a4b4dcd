CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped', 'cancelled');

-- A constant default does not rewrite the table on PostgreSQL 11 and later.
ALTER TABLE orders ADD COLUMN status order_status NOT NULL DEFAULT 'pending';
