import { mentionsString } from '../../schema.js';
import type { Hit, Rule } from '../types.js';

export const rule: Rule = {
  id: 'enum-value-used-in-same-transaction',
  severity: 'error',
  reason: 'an enum value added by ALTER TYPE ... ADD VALUE cannot be used until that transaction commits (55P04)',
  lock: 'ACCESS EXCLUSIVE',
  help: 'Add the value in its own migration (or a -- migrate:no-transaction file) and use it in a later one.',
  check(context) {
    const hits: Hit[] = [];
    if (context.kind === 'AlterEnumStmt') {
      if (
        typeof context.node.newVal === 'string' &&
        context.node.oldVal === undefined &&
        context.pgVersion < 120000 &&
        context.transaction.inTransaction
      ) {
        hits.push({
          message: 'before PostgreSQL 12, ALTER TYPE ... ADD VALUE cannot run inside a transaction block at all',
        });
      }
      return hits;
    }
    for (let ix = 0, xs = context.transaction.enumValuesAdded; ix < xs.length; ix++) {
      const added = xs[ix]!;
      if (mentionsString(context.node, added.value)) {
        hits.push({ message: `enum value '${added.value}' of ${added.type} is used in the transaction that adds it` });
      }
    }
    return hits;
  },
};
