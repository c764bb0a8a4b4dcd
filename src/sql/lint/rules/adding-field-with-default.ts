import { SERIAL_TYPES } from '../../locks.js';
import { columnConstraints, typeInfo } from '../../tree.js';
import { expressionVolatility } from '../../volatility.js';
import { alterCommands, columnName } from '../helpers.js';
import type { Hit, Rule } from '../types.js';

export const rule: Rule = {
  id: 'adding-field-with-default',
  severity: 'error',
  reason: 'adding a column whose default must be computed per row rewrites the whole table under ACCESS EXCLUSIVE',
  lock: 'ACCESS EXCLUSIVE',
  help: 'Add the column without a default (or with a constant or STABLE one), set the default for new rows, then backfill existing rows in batches.',
  kinds: ['AlterTableStmt'],
  sizeBound: true,
  check(context) {
    const hits: Hit[] = [];
    for (let ix = 0, xs = alterCommands(context); ix < xs.length; ix++) {
      const { cmd, table, isNew } = xs[ix]!;
      if (isNew || cmd.subtype !== 'AT_AddColumn') continue;
      const def = cmd.def?.ColumnDef;
      const column = columnName(cmd);
      const type = typeInfo(def?.typeName);
      if (type !== undefined && SERIAL_TYPES.has(type.name)) {
        hits.push({
          table,
          message: `column ${column} is ${type.name}: its nextval() default is VOLATILE, so every row is rewritten`,
        });
        continue;
      }
      for (let jx = 0, ys = columnConstraints(def); jx < ys.length; jx++) {
        const c = ys[jx]!;
        if (c.contype === 'CONSTR_IDENTITY') {
          hits.push({
            table,
            location: c.location,
            message: `identity column ${column}: every existing row gets a value, so the table is rewritten`,
          });
        } else if (c.contype === 'CONSTR_DEFAULT' && c.raw_expr?.A_Const?.isnull !== true) {
          if (context.pgVersion < 110000) {
            hits.push({
              table,
              location: c.location,
              message: `before PostgreSQL 11 any non-NULL default on ${column} rewrites the table`,
            });
            continue;
          }
          const verdict = expressionVolatility(c.raw_expr, context.schema.catalog?.functionVolatility);
          if (verdict.volatile.length > 0) {
            hits.push({
              table,
              location: c.location,
              message: `the default of ${column} calls VOLATILE ${verdict.volatile.join(', ')}(): every row is rewritten`,
            });
          } else if (verdict.unknown.length > 0) {
            hits.push({
              table,
              location: c.location,
              severity: 'warning',
              message: `the default of ${column} calls ${verdict.unknown.join(', ')}(), whose volatility is not known offline: if VOLATILE, every row is rewritten`,
            });
          }
        }
      }
    }
    return hits;
  },
};
