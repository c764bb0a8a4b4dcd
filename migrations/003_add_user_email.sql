-- migrate:no-transaction
-- users exists and may be large by now: nothing here may block its readers or writers for long.

-- A nullable column is a catalog-only change: no rewrite, a brief lock.
-- (IF NOT EXISTS: this file runs statement by statement, so a rerun after a failure must not trip on it.)
ALTER TABLE users ADD COLUMN IF NOT EXISTS email text;

-- CONCURRENTLY builds the index without blocking writes; it cannot run inside a transaction, hence
-- "-- migrate:no-transaction" above.
CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (lower(email));
