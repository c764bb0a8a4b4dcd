import { definedColumns } from '../helpers.js';
import type { Hit, Rule } from '../types.js';

const SMALL = new Set(['int4', 'int2', 'serial', 'serial4', 'smallserial', 'serial2']);

export const rule: Rule = {
  id: 'prefer-bigint-over-int',
  severity: 'warning',
  reason: 'integer ids and counters overflow at 2^31; changing the type later rewrites the table',
  lock: undefined,
  help: 'Use bigint (8 bytes, no practical limit) for ids, foreign keys and counters.',
  kinds: ['CreateStmt', 'AlterTableStmt'],
  check(context) {
    const hits: Hit[] = [];
    for (let ix = 0, xs = definedColumns(context); ix < xs.length; ix++) {
      const { def, type, table, location } = xs[ix]!;
      if (type !== undefined && !type.isArray && SMALL.has(type.name)) {
        hits.push({ table, location, message: `column ${String(def.colname ?? '(altered)')} is ${type.name}` });
      }
    }
    return hits;
  },
};
