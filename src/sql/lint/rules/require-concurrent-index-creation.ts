import { tableOf } from '../helpers.js';
import type { Rule } from '../types.js';

export const rule: Rule = {
  id: 'require-concurrent-index-creation',
  severity: 'error',
  reason: 'CREATE INDEX without CONCURRENTLY blocks every write to the table (SHARE lock) for the whole build',
  lock: 'SHARE',
  help: 'CREATE INDEX CONCURRENTLY in a file with -- migrate:no-transaction (it cannot run in a transaction).',
  kinds: ['IndexStmt'],
  sizeBound: true,
  check(context) {
    if (context.kind !== 'IndexStmt' || context.node.concurrent === true) return [];
    const table = tableOf(context.node.relation);
    if (table === undefined || context.schema.isNew(table)) return [];
    const name = typeof context.node.idxname === 'string' ? `${context.node.idxname} ` : '';
    return [{ table, message: `CREATE INDEX ${name}on ${table} blocks writes while it builds` }];
  },
};
