import { definedColumns } from '../helpers.js';
import type { Hit, Rule } from '../types.js';

export const rule: Rule = {
  id: 'prefer-timestamptz',
  severity: 'warning',
  reason: 'timestamp without time zone stores wall-clock time: values change meaning with the session TimeZone',
  lock: undefined,
  help: 'Use timestamptz (timestamp with time zone): same size, stores an instant.',
  kinds: ['CreateStmt', 'AlterTableStmt'],
  check(context) {
    const hits: Hit[] = [];
    for (let ix = 0, xs = definedColumns(context); ix < xs.length; ix++) {
      const { def, type, table, location } = xs[ix]!;
      if (type?.name === 'timestamp') {
        hits.push({
          table,
          location,
          message: `column ${String(def.colname ?? '(altered)')} is timestamp without time zone`,
        });
      }
    }
    return hits;
  },
};
