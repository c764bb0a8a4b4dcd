import { tableOf } from '../helpers.js';
import type { Rule } from '../types.js';

export const rule: Rule = {
  id: 'renaming-table',
  severity: 'error',
  reason: 'renaming a table breaks running code that uses the old name',
  lock: 'ACCESS EXCLUSIVE',
  help: 'Expand/contract: create the new table (or rename and leave an updatable view with the old name), move code over, then remove the old name.',
  kinds: ['RenameStmt'],
  check(context) {
    if (context.kind !== 'RenameStmt' || context.node.renameType !== 'OBJECT_TABLE') return [];
    const table = tableOf(context.node.relation);
    if (table === undefined || context.schema.isNew(table)) return [];
    return [{ table, message: `renaming ${table} to ${String(context.node.newname)} breaks code using the old name` }];
  },
};
