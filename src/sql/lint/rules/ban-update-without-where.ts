import { tableOf } from '../helpers.js';
import type { Rule } from '../types.js';

export const rule: Rule = {
  id: 'ban-update-without-where',
  severity: 'error',
  reason: 'UPDATE without WHERE changes every row in one transaction: long row locks, table bloat, WAL spike',
  lock: 'ROW EXCLUSIVE',
  help: 'Add a WHERE clause; for a backfill of a large table update in batches by key range (a -- migrate:no-transaction file, one UPDATE per range), outside the DDL transaction.',
  kinds: ['UpdateStmt'],
  sizeBound: true,
  check(context) {
    if (context.kind !== 'UpdateStmt' || context.node.whereClause !== undefined) return [];
    const table = tableOf(context.node.relation);
    if (table === undefined || context.schema.isNew(table)) return [];
    return [{ table, message: `UPDATE of every row of ${table}` }];
  },
};
