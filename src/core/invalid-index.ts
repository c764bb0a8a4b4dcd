/**
 * After a failed no-transaction statement: did it leave an INVALID index behind? Only `CREATE INDEX
 * CONCURRENTLY` and `REINDEX ... CONCURRENTLY` can (a plain CREATE INDEX rolls back with its statement), so the
 * catalog is asked only for those, and only about the index or table the statement names.
 */
import type { Client } from '../db/connection.js';
import { findInvalidIndexes, type InvalidIndex, type InvalidIndexFilter } from '../db/invalid-indexes.js';
import { quoteIdent } from '../db/quote.js';
import { loadParser, parseSync, type PgNode } from '../sql/parser.js';

function qualified(relation: PgNode): string | undefined {
  if (typeof relation?.relname !== 'string') return undefined;
  const name = quoteIdent(relation.relname);
  return typeof relation.schemaname === 'string' ? `${quoteIdent(relation.schemaname)}.${name}` : name;
}

function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/** The catalog filter for the indexes a failed statement may have left INVALID; undefined when it cannot. */
export function invalidIndexFilterOf(statementText: string): InvalidIndexFilter | undefined {
  if (!/\bconcurrently\b/i.test(statementText)) return undefined;
  let stmt: PgNode;
  try {
    stmt = parseSync(statementText).stmts[0]?.stmt;
  } catch {
    return undefined;
  }
  const create = stmt?.IndexStmt;
  if (create?.concurrent) {
    return { table: qualified(create.relation), name: typeof create.idxname === 'string' ? create.idxname : undefined };
  }
  const reindex = stmt?.ReindexStmt;
  const concurrently =
    Array.isArray(reindex?.params) && reindex.params.some((p: PgNode) => p?.DefElem?.defname === 'concurrently');
  if (reindex && concurrently) {
    // REINDEX CONCURRENTLY builds a copy named <index>_ccnew (then _ccnew1, ...) and drops it only on success.
    if (reindex.kind === 'REINDEX_OBJECT_INDEX' && typeof reindex.relation?.relname === 'string') {
      return { namePattern: `^${escapeRegex(reindex.relation.relname)}_ccnew[0-9]*$` };
    }
    if (reindex.kind === 'REINDEX_OBJECT_TABLE')
      return { table: qualified(reindex.relation), namePattern: '_ccnew[0-9]*$' };
    return { namePattern: '_ccnew[0-9]*$' };
  }
  return undefined;
}

/**
 * The INVALID indexes `statementText` left behind, asked on the session that ran it (same search_path).
 * Never throws: the connection may be the reason the statement failed, and the original error matters more.
 */
export async function invalidIndexesAfter(client: Client, statementText: string): Promise<InvalidIndex[]> {
  try {
    await loadParser();
    const filter = invalidIndexFilterOf(statementText);
    if (!filter) return [];
    return await findInvalidIndexes(client, filter);
  } catch {
    return [];
  }
}
