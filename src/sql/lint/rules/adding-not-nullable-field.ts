import { alterCommands } from '../helpers.js';
import type { Hit, Rule } from '../types.js';

export const rule: Rule = {
  id: 'adding-not-nullable-field',
  severity: 'error',
  reason: 'SET NOT NULL scans the whole table under ACCESS EXCLUSIVE to check for NULLs',
  lock: 'ACCESS EXCLUSIVE',
  help: 'First ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT c in a later transaction; on PostgreSQL 12+ SET NOT NULL then uses it and skips the scan (drop the CHECK afterwards).',
  kinds: ['AlterTableStmt'],
  sizeBound: true,
  check(context) {
    const hits: Hit[] = [];
    for (let ix = 0, xs = alterCommands(context); ix < xs.length; ix++) {
      const { cmd, table, isNew } = xs[ix]!;
      if (isNew || cmd.subtype !== 'AT_SetNotNull') continue;
      const column = String(cmd.name ?? '?');
      if (context.pgVersion >= 120000 && context.schema.hasValidatedNotNullCheck(table, column)) continue;
      const why =
        context.pgVersion < 120000
          ? 'before PostgreSQL 12 SET NOT NULL always scans'
          : context.schema.catalog === undefined
            ? 'no validated CHECK (' + column + ' IS NOT NULL) in earlier files (offline: the catalog was not read)'
            : 'no validated CHECK (' + column + ' IS NOT NULL) in the catalog or earlier files';
      hits.push({ table, message: `SET NOT NULL on ${table}.${column} scans the table: ${why}` });
    }
    return hits;
  },
};
