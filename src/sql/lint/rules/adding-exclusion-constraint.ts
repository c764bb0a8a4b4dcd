import { alterCommands } from '../helpers.js';
import type { Hit, Rule } from '../types.js';

export const rule: Rule = {
  id: 'adding-exclusion-constraint',
  severity: 'error',
  reason:
    'adding an exclusion constraint builds its index and checks every row under ACCESS EXCLUSIVE; it cannot be added NOT VALID',
  lock: 'ACCESS EXCLUSIVE',
  help: 'Add it when the table is created, or in a maintenance window; there is no concurrent form (consider a trigger-based check for a large live table).',
  kinds: ['AlterTableStmt'],
  sizeBound: true,
  check(context) {
    const hits: Hit[] = [];
    for (let ix = 0, xs = alterCommands(context); ix < xs.length; ix++) {
      const { cmd, table, isNew } = xs[ix]!;
      if (isNew || cmd.subtype !== 'AT_AddConstraint') continue;
      const c = cmd.def?.Constraint;
      if (c?.contype === 'CONSTR_EXCLUSION') {
        hits.push({
          table,
          location: c.location,
          message: `exclusion constraint on ${table} is built under ACCESS EXCLUSIVE`,
        });
      }
    }
    return hits;
  },
};
