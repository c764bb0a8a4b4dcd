import { tableOf } from '../helpers.js';
import type { Rule } from '../types.js';

export const rule: Rule = {
  id: 'ban-delete-without-where',
  severity: 'error',
  reason: 'DELETE without WHERE removes every row',
  lock: 'ROW EXCLUSIVE',
  help: 'Add a WHERE clause (delete in batches on a large table), or acknowledge with -- migrate:allow ban-delete-without-where -- reason.',
  kinds: ['DeleteStmt'],
  check(context) {
    if (context.kind !== 'DeleteStmt' || context.node.whereClause !== undefined) return [];
    const table = tableOf(context.node.relation);
    if (table === undefined || context.schema.isNew(table)) return [];
    return [{ table, message: `DELETE of every row of ${table}` }];
  },
};
