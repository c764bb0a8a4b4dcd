import { tableOf } from '../helpers.js';
import type { Rule } from '../types.js';

export const rule: Rule = {
  id: 'backfill-in-ddl-transaction',
  severity: 'error',
  reason:
    'updating rows after DDL on the same table in one transaction keeps the ACCESS EXCLUSIVE lock for the whole backfill',
  lock: 'ACCESS EXCLUSIVE',
  help: 'Commit the DDL first, then change the rows in short batches: migrate backfill after the migration (or a -- migrate:no-transaction file with one UPDATE per key range).',
  kinds: ['DeleteStmt', 'UpdateStmt'],
  sizeBound: true,
  check(context) {
    if (context.kind !== 'UpdateStmt' && context.kind !== 'DeleteStmt') return [];
    if (!context.transaction.inTransaction) return [];
    const table = tableOf(context.node.relation);
    if (table === undefined || context.schema.isNew(table) || !context.transaction.accessExclusive.has(table))
      return [];
    const verb = context.kind === 'UpdateStmt' ? 'UPDATE' : 'DELETE';
    return [
      { table, message: `${verb} of ${table} after DDL that holds ACCESS EXCLUSIVE on it in the same transaction` },
    ];
  },
};
