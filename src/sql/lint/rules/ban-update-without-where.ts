import { tableOf } from '../helpers.js';
import type { Rule } from '../types.js';

export const rule: Rule = {
  id: 'ban-update-without-where',
  severity: 'error',
  reason: 'UPDATE without WHERE changes every row in one transaction: long row locks, table bloat, WAL spike',
  lock: 'ROW EXCLUSIVE',
  help: 'Add a WHERE clause; to change every row of a large table use migrate backfill (short batches by primary key, resumable), outside the DDL transaction.',
  kinds: ['UpdateStmt'],
  sizeBound: true,
  check(context) {
    if (context.kind !== 'UpdateStmt' || context.node.whereClause !== undefined) return [];
    const table = tableOf(context.node.relation);
    if (table === undefined || context.schema.isNew(table)) return [];
    return [{ table, message: `UPDATE of every row of ${table}` }];
  },
};
