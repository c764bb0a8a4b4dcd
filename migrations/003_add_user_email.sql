-- A nullable column is a catalog-only change: no rewrite, a brief lock.
ALTER TABLE users ADD COLUMN email text;

-- The table is new in this example; on a large existing table use CREATE INDEX CONCURRENTLY
-- in a file of its own marked "-- migrate:no-transaction".
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
