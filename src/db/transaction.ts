/**
 * The one way tidemark runs work in a transaction on a connection it already holds. The executor is the
 * exception on purpose: it sends `begin; ...; commit` in the migration's own simple query (one round trip
 * per migration; see docs/decisions.md).
 */
import type { ClientBase } from 'pg';

export interface TransactionOptions {
  /** The BEGIN line's modes, e.g. `read only` or `isolation level repeatable read read only`. */
  readonly mode?: string;
  /** Roll back even when `work` succeeds: a rehearsal whose effects must not stay (doctor's trial create). */
  readonly rollback?: boolean;
}

/**
 * Runs `work` between BEGIN and COMMIT; on any error rolls back (a failed ROLLBACK on a lost connection is
 * ignored: the server has already discarded the transaction) and rethrows the error of `work`.
 */
export async function inTransaction<T>(
  client: ClientBase,
  work: () => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  await client.query(options.mode ? `begin ${options.mode}` : 'begin');
  let result: T;
  try {
    result = await work();
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  }
  await client.query(options.rollback ? 'rollback' : 'commit');
  return result;
}
