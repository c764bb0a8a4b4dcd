import { columnConstraints } from '../../tree.js';
import { alterCommands, columnName } from '../helpers.js';
import type { Hit, Rule } from '../types.js';

export const rule: Rule = {
  id: 'adding-stored-generated-column',
  severity: 'error',
  reason: 'adding a stored generated column computes it for every row: a table rewrite under ACCESS EXCLUSIVE',
  lock: 'ACCESS EXCLUSIVE',
  help: 'Add a plain nullable column, fill it with a trigger for new rows and a batched backfill for old ones, or compute the value in a view or query.',
  kinds: ['AlterTableStmt'],
  sizeBound: true,
  check(context) {
    const hits: Hit[] = [];
    for (let ix = 0, xs = alterCommands(context); ix < xs.length; ix++) {
      const { cmd, table, isNew } = xs[ix]!;
      if (isNew || cmd.subtype !== 'AT_AddColumn') continue;
      for (let jx = 0, ys = columnConstraints(cmd.def?.ColumnDef); jx < ys.length; jx++) {
        const c = ys[jx]!;
        if (c.contype === 'CONSTR_GENERATED') {
          hits.push({
            table,
            location: c.location,
            message: `stored generated column ${columnName(cmd)} rewrites ${table}`,
          });
        }
      }
    }
    return hits;
  },
};
