import { alterCommands } from '../helpers.js';
import type { Hit, Rule } from '../types.js';

export const rule: Rule = {
  id: 'ban-drop-column',
  severity: 'error',
  reason: 'dropping a column breaks running code that still selects or inserts it, and loses its data',
  lock: 'ACCESS EXCLUSIVE',
  help: 'Deploy code that no longer uses the column first (ignore it in the ORM), then drop it in a contract-phase migration.',
  kinds: ['AlterTableStmt'],
  check(context) {
    const hits: Hit[] = [];
    for (let ix = 0, xs = alterCommands(context); ix < xs.length; ix++) {
      const { cmd, table, isNew } = xs[ix]!;
      if (!isNew && cmd.subtype === 'AT_DropColumn' && !context.schema.undoes(`column:${table}/${String(cmd.name)}`)) {
        hits.push({ table, message: `dropping ${table}.${String(cmd.name)} breaks code that still uses it` });
      }
    }
    return hits;
  },
};
