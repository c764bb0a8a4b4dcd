import { definedColumns } from '../helpers.js';
import type { Hit, Rule } from '../types.js';

export const rule: Rule = {
  id: 'prefer-text-field',
  severity: 'warning',
  reason: 'varchar(n) gains nothing over text, and raising n later may need a migration',
  lock: undefined,
  help: 'Use text, with a CHECK (length(col) <= n) constraint if the limit matters (a CHECK can be changed with NOT VALID).',
  kinds: ['CreateStmt', 'AlterTableStmt'],
  check(context) {
    const hits: Hit[] = [];
    for (let ix = 0, xs = definedColumns(context); ix < xs.length; ix++) {
      const { def, type, table, location } = xs[ix]!;
      if (type?.name === 'varchar' && type.mods.length > 0) {
        hits.push({
          table,
          location,
          message: `column ${String(def.colname ?? '(altered)')} is varchar(${type.mods[0]})`,
        });
      }
    }
    return hits;
  },
};
