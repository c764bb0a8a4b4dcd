import type { Rule } from '../types.js';

export const rule: Rule = {
  id: 'ban-drop-database',
  severity: 'error',
  reason: 'DROP DATABASE in a migration destroys a whole database',
  lock: undefined,
  help: 'Databases are created and dropped by operators, not by migrations.',
  kinds: ['DropdbStmt'],
  check(context) {
    if (context.kind !== 'DropdbStmt') return [];
    return [{ message: `DROP DATABASE ${String(context.node.dbname ?? '')} in a migration` }];
  },
};
