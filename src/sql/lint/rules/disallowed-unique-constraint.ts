import { columnConstraints } from '../../tree.js';
import { alterCommands } from '../helpers.js';
import type { Hit, Rule } from '../types.js';

export const rule: Rule = {
  id: 'disallowed-unique-constraint',
  severity: 'error',
  reason: 'adding a UNIQUE or PRIMARY KEY constraint builds its index while holding ACCESS EXCLUSIVE',
  lock: 'ACCESS EXCLUSIVE',
  help: 'CREATE UNIQUE INDEX CONCURRENTLY in a -- migrate:no-transaction file, then ADD CONSTRAINT ... UNIQUE USING INDEX (or PRIMARY KEY USING INDEX), which is instant.',
  kinds: ['AlterTableStmt'],
  sizeBound: true,
  check(context) {
    const hits: Hit[] = [];
    for (let ix = 0, xs = alterCommands(context); ix < xs.length; ix++) {
      const { cmd, table, isNew } = xs[ix]!;
      if (isNew) continue;
      const constraints =
        cmd.subtype === 'AT_AddConstraint'
          ? [cmd.def?.Constraint]
          : cmd.subtype === 'AT_AddColumn'
            ? columnConstraints(cmd.def?.ColumnDef)
            : [];
      for (let jx = 0; jx < constraints.length; jx++) {
        const c = constraints[jx]!;
        if ((c?.contype === 'CONSTR_UNIQUE' || c?.contype === 'CONSTR_PRIMARY') && typeof c.indexname !== 'string') {
          const what = c.contype === 'CONSTR_PRIMARY' ? 'PRIMARY KEY' : 'UNIQUE';
          hits.push({
            table,
            location: c.location,
            message: `${what} constraint on ${table} builds an index under ACCESS EXCLUSIVE`,
          });
        }
      }
    }
    return hits;
  },
};
