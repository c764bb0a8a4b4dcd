import { SERIAL_TYPES } from '../../locks.js';
import { definedColumns } from '../helpers.js';
import type { Hit, Rule } from '../types.js';

export const rule: Rule = {
  id: 'prefer-identity',
  severity: 'warning',
  reason: 'serial creates a loosely attached sequence with separate permissions and ownership',
  lock: undefined,
  help: 'Use bigint GENERATED ALWAYS AS IDENTITY (or BY DEFAULT).',
  kinds: ['CreateStmt', 'AlterTableStmt'],
  check(context) {
    const hits: Hit[] = [];
    for (let ix = 0, xs = definedColumns(context); ix < xs.length; ix++) {
      const { def, type, table, location } = xs[ix]!;
      if (type !== undefined && SERIAL_TYPES.has(type.name)) {
        hits.push({ table, location, message: `column ${String(def.colname ?? '')} is ${type.name}` });
      }
    }
    return hits;
  },
};
