-- migrate:no-transaction
-- Dropping the index CONCURRENTLY does not block readers and writers of users; it cannot run inside a
-- transaction, hence "-- migrate:no-transaction" above.
DROP INDEX CONCURRENTLY IF EXISTS users_email_key;

-- Dropping email is what this rollback is for (003 added it).
ALTER TABLE users DROP COLUMN IF EXISTS email;
