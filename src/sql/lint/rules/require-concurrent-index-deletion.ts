import { dropNames } from '../../schema.js';
import { relationKey } from '../../tree.js';
import type { Hit, Rule } from '../types.js';

export const rule: Rule = {
  id: 'require-concurrent-index-deletion',
  severity: 'error',
  reason: 'DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the table: reads and writes wait',
  lock: 'ACCESS EXCLUSIVE',
  help: 'DROP INDEX CONCURRENTLY in a file with -- migrate:no-transaction.',
  kinds: ['DropStmt'],
  sizeBound: true,
  check(context) {
    if (context.kind !== 'DropStmt' || context.node.removeType !== 'OBJECT_INDEX' || context.node.concurrent === true)
      return [];
    const hits: Hit[] = [];
    for (let ix = 0, xs = dropNames(context.node); ix < xs.length; ix++) {
      const name = xs[ix]!;
      const index = relationKey(name);
      const table = context.schema.indexTable(index);
      if (table !== undefined && context.schema.isNew(table)) continue;
      hits.push({ table, message: `DROP INDEX ${index} locks ${table ?? 'its table'} against reads and writes` });
    }
    return hits;
  },
};
