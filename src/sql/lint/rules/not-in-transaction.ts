import type { PgNode } from '../../parser.js';
import type { Rule } from '../types.js';

/** What PostgreSQL refuses inside a transaction block (SQLSTATE 25001), with how to say it in a message. */
function refusedInTransaction(kind: string, node: PgNode): string | undefined {
  switch (kind) {
    case 'VacuumStmt':
      return node.is_vacuumcmd === true ? 'VACUUM' : undefined;
    case 'ClusterStmt':
      return node.relation === undefined ? 'CLUSTER without a table' : undefined;
    case 'ReindexStmt':
      return ['REINDEX_OBJECT_SCHEMA', 'REINDEX_OBJECT_DATABASE', 'REINDEX_OBJECT_SYSTEM'].includes(String(node.kind))
        ? `REINDEX ${String(node.kind).replace('REINDEX_OBJECT_', '')}`
        : undefined;
    case 'CreatedbStmt':
      return 'CREATE DATABASE';
    case 'DropdbStmt':
      return 'DROP DATABASE';
    case 'CreateTableSpaceStmt':
      return 'CREATE TABLESPACE';
    case 'DropTableSpaceStmt':
      return 'DROP TABLESPACE';
    case 'AlterSystemStmt':
      return 'ALTER SYSTEM';
    default:
      return undefined;
  }
}

export const rule: Rule = {
  id: 'not-in-transaction',
  severity: 'error',
  reason: 'this statement cannot run inside a transaction block: the migration fails at run time (25001)',
  lock: undefined,
  help: 'Put it in a file of its own marked -- migrate:no-transaction (each statement then runs on its own).',
  check(context) {
    if (!context.transaction.inTransaction && !context.inDoBlock) return [];
    const what = refusedInTransaction(context.kind, context.node);
    if (what === undefined) return [];
    const where = context.inDoBlock
      ? 'inside a DO block'
      : context.transaction.runnerWrapped
        ? "inside the migration's transaction"
        : 'between BEGIN and COMMIT';
    return [{ message: `${what} cannot run ${where} (SQLSTATE 25001)` }];
  },
};
