import { alterTypeRewrites } from '../../locks.js';
import { alterCommands, columnName } from '../helpers.js';
import type { Hit, Rule } from '../types.js';

export const rule: Rule = {
  id: 'changing-column-type',
  severity: 'error',
  reason: 'changing a column type rewrites the table and its indexes under ACCESS EXCLUSIVE',
  lock: 'ACCESS EXCLUSIVE',
  help: 'Add a new column of the new type, write both from the application, backfill in batches, then switch reads and drop the old column (expand/contract). Widening varchar, varchar -> text and raising numeric precision are safe.',
  kinds: ['AlterTableStmt'],
  sizeBound: true,
  check(context) {
    const hits: Hit[] = [];
    for (let ix = 0, xs = alterCommands(context); ix < xs.length; ix++) {
      const { cmd, table, isNew } = xs[ix]!;
      if (isNew || cmd.subtype !== 'AT_AlterColumnType') continue;
      const notes: string[] = [];
      const rewrites = alterTypeRewrites(cmd, table, context.schema, notes);
      const column = columnName(cmd);
      const location = cmd.def?.ColumnDef?.location;
      if (rewrites === true) {
        hits.push({ table, location, message: `changing the type of ${table}.${column} rewrites the table` });
      } else if (rewrites === undefined) {
        hits.push({
          table,
          location,
          severity: 'warning',
          message: `the current type of ${table}.${column} is not known offline (lint connected to the database knows it): this rewrites the table unless the change is binary-compatible`,
        });
      }
    }
    return hits;
  },
};
