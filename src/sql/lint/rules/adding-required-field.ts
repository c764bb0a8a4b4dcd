import { SERIAL_TYPES } from '../../locks.js';
import { columnConstraints, typeInfo } from '../../tree.js';
import { alterCommands, columnName } from '../helpers.js';
import type { Hit, Rule } from '../types.js';

export const rule: Rule = {
  id: 'adding-required-field',
  severity: 'error',
  reason: 'adding a NOT NULL column without a default fails on a table that has rows',
  lock: 'ACCESS EXCLUSIVE',
  help: 'Add the column with a constant DEFAULT (no rewrite since PostgreSQL 11), or add it nullable, backfill, then SET NOT NULL via a validated CHECK.',
  kinds: ['AlterTableStmt'],
  check(context) {
    const hits: Hit[] = [];
    for (let ix = 0, xs = alterCommands(context); ix < xs.length; ix++) {
      const { cmd, table, isNew } = xs[ix]!;
      if (isNew || cmd.subtype !== 'AT_AddColumn') continue;
      const def = cmd.def?.ColumnDef;
      const constraints = columnConstraints(def);
      const notNull = constraints.find((c) => c.contype === 'CONSTR_NOTNULL' || c.contype === 'CONSTR_PRIMARY');
      if (notNull === undefined) continue;
      const filled = constraints.some(
        (c) => c.contype === 'CONSTR_DEFAULT' || c.contype === 'CONSTR_IDENTITY' || c.contype === 'CONSTR_GENERATED',
      );
      const type = typeInfo(def?.typeName);
      if (filled || (type !== undefined && SERIAL_TYPES.has(type.name))) continue;
      hits.push({
        table,
        location: notNull.location,
        message: `NOT NULL column ${columnName(cmd)} has no default: the ALTER fails if ${table} has rows`,
      });
    }
    return hits;
  },
};
