import { dropNames } from '../../schema.js';
import { relationKey } from '../../tree.js';
import type { Hit, Rule } from '../types.js';

export const rule: Rule = {
  id: 'ban-drop-table',
  severity: 'error',
  reason: 'DROP TABLE destroys data that running code may still read or write',
  lock: 'ACCESS EXCLUSIVE',
  help: 'Stop using the table in a deploy first; rename it or revoke access and keep a backup; drop it in a later contract-phase migration acknowledged with -- migrate:allow ban-drop-table -- reason.',
  kinds: ['DropStmt'],
  check(context) {
    if (context.kind !== 'DropStmt' || context.node.removeType !== 'OBJECT_TABLE') return [];
    const hits: Hit[] = [];
    for (let ix = 0, xs = dropNames(context.node); ix < xs.length; ix++) {
      const name = xs[ix]!;
      const table = relationKey(name);
      if (!context.schema.isNew(table) && !context.schema.undoes(`table:${table}`))
        hits.push({ table, message: `DROP TABLE ${table} destroys its data` });
    }
    return hits;
  },
};
