import type { PgNode } from '../../parser.js';
import { tableOf } from '../helpers.js';
import type { Rule } from '../types.js';

export const rule: Rule = {
  id: 'ban-concurrent-index-creation-in-transaction',
  severity: 'error',
  reason: 'CONCURRENTLY cannot run inside a transaction block: the migration fails at run time (25001)',
  lock: 'SHARE UPDATE EXCLUSIVE',
  help: 'Put -- migrate:no-transaction at the top of the file (and keep the file to the concurrent statement and what is safe without a transaction).',
  check(context) {
    if (!context.transaction.inTransaction) return [];
    const { kind, node } = context;
    const concurrent =
      (kind === 'IndexStmt' && node.concurrent === true) ||
      (kind === 'DropStmt' && node.removeType === 'OBJECT_INDEX' && node.concurrent === true) ||
      (kind === 'ReindexStmt' && (node.params ?? []).some((p: PgNode) => p?.DefElem?.defname === 'concurrently'));
    if (!concurrent) return [];
    const where = context.transaction.runnerWrapped
      ? 'this file runs in one transaction (no -- migrate:no-transaction)'
      : 'it follows an explicit BEGIN';
    return [
      { table: tableOf(node.relation), message: `a CONCURRENTLY statement inside a transaction fails: ${where}` },
    ];
  },
};
