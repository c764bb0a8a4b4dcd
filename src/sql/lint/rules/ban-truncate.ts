import type { PgNode } from '../../parser.js';
import { tableOf } from '../helpers.js';
import type { Hit, Rule } from '../types.js';

export const rule: Rule = {
  id: 'ban-truncate',
  severity: 'error',
  reason: 'TRUNCATE deletes every row under ACCESS EXCLUSIVE',
  lock: 'ACCESS EXCLUSIVE',
  help: 'Delete the rows you mean to delete with a WHERE clause in batches, or acknowledge with -- migrate:allow ban-truncate -- reason.',
  kinds: ['TruncateStmt'],
  check(context) {
    if (context.kind !== 'TruncateStmt') return [];
    const hits: Hit[] = [];
    for (let ix = 0, xs = context.node.relations ?? []; ix < xs.length; ix++) {
      const rel = xs[ix]!;
      const table = tableOf((rel as PgNode).RangeVar);
      if (table !== undefined && !context.schema.isNew(table))
        hits.push({ table, message: `TRUNCATE ${table} deletes all of its rows` });
    }
    return hits;
  },
};
