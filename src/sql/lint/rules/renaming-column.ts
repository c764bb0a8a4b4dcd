import { tableOf } from '../helpers.js';
import type { Rule } from '../types.js';

export const rule: Rule = {
  id: 'renaming-column',
  severity: 'error',
  reason: 'renaming a column breaks running code that uses the old name',
  lock: 'ACCESS EXCLUSIVE',
  help: 'Expand/contract: add the new column, write both, backfill, move reads, then drop the old column; or acknowledge when no running code uses it.',
  kinds: ['RenameStmt'],
  check(context) {
    if (context.kind !== 'RenameStmt' || context.node.renameType !== 'OBJECT_COLUMN') return [];
    if (context.node.relationType !== 'OBJECT_TABLE') return [];
    const table = tableOf(context.node.relation);
    if (table === undefined || context.schema.isNew(table)) return [];
    return [
      {
        table,
        message: `renaming ${table}.${String(context.node.subname)} to ${String(context.node.newname)} breaks code using the old name`,
      },
    ];
  },
};
