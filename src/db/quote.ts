/** The one quoting helper for identifiers in SQL we generate (values always go as parameters). */
import type { TableRef } from '../config/settings.js';

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteTable(ref: TableRef): string {
  return `${quoteIdent(ref.schema)}.${quoteIdent(ref.table)}`;
}

/** A table beside `ref`, in the same schema (e.g. the repairs log beside the tracking table). */
export function sibling(ref: TableRef, table: string): TableRef {
  return { schema: ref.schema, table };
}

/**
 * A string literal for the few statements we must send as text with the user's SQL (one round trip per
 * migration, see Migrator#runInTransaction). Doubles quotes, and uses E'' with doubled backslashes when the
 * value has one, as PostgreSQL's own quote_literal does.
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new Error('a NUL character cannot be sent to PostgreSQL');
  const quoted = `'${value.replace(/'/g, "''")}'`;
  return value.includes('\\') ? `E${quoted.replace(/\\/g, '\\\\')}` : quoted;
}
