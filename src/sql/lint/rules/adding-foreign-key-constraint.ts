import { columnConstraints } from '../../tree.js';
import { alterCommands, tableOf } from '../helpers.js';
import type { Hit, Rule } from '../types.js';

export const rule: Rule = {
  id: 'adding-foreign-key-constraint',
  severity: 'error',
  reason: 'adding a foreign key validates every row while holding SHARE ROW EXCLUSIVE on both tables (writes blocked)',
  lock: 'SHARE ROW EXCLUSIVE',
  help: 'ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then VALIDATE CONSTRAINT in a separate transaction (SHARE UPDATE EXCLUSIVE: writes go on).',
  kinds: ['AlterTableStmt'],
  sizeBound: true,
  check(context) {
    const hits: Hit[] = [];
    for (let ix = 0, xs = alterCommands(context); ix < xs.length; ix++) {
      const { cmd, table, isNew } = xs[ix]!;
      if (isNew) continue;
      if (cmd.subtype === 'AT_AddConstraint') {
        const c = cmd.def?.Constraint;
        if (c?.contype === 'CONSTR_FOREIGN' && c.skip_validation !== true) {
          hits.push({
            table,
            location: c.location,
            message: `foreign key on ${table} referencing ${tableOf(c.pktable) ?? '?'} is validated while writes to both are blocked`,
          });
        }
      } else if (cmd.subtype === 'AT_AddColumn') {
        for (let jx = 0, ys = columnConstraints(cmd.def?.ColumnDef); jx < ys.length; jx++) {
          const c = ys[jx]!;
          if (c.contype === 'CONSTR_FOREIGN') {
            hits.push({
              table,
              location: c.location,
              message: `column with REFERENCES ${tableOf(c.pktable) ?? '?'} locks both tables while the key is checked`,
            });
          }
        }
      }
    }
    return hits;
  },
};
