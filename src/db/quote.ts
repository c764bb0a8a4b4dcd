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
