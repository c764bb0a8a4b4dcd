import { alterCommands } from '../helpers.js';
import type { Hit, Rule } from '../types.js';

export const rule: Rule = {
  id: 'changing-table-persistence',
  severity: 'error',
  reason: 'SET LOGGED / SET UNLOGGED rewrites the whole table under ACCESS EXCLUSIVE',
  lock: 'ACCESS EXCLUSIVE',
  help: 'Decide persistence when the table is created; on a large live table change it in a maintenance window.',
  kinds: ['AlterTableStmt'],
  sizeBound: true,
  check(context) {
    const hits: Hit[] = [];
    for (let ix = 0, xs = alterCommands(context); ix < xs.length; ix++) {
      const { cmd, table, isNew } = xs[ix]!;
      if (isNew || (cmd.subtype !== 'AT_SetLogged' && cmd.subtype !== 'AT_SetUnLogged')) continue;
      hits.push({ table, message: `SET ${cmd.subtype === 'AT_SetLogged' ? 'LOGGED' : 'UNLOGGED'} rewrites ${table}` });
    }
    return hits;
  },
};
