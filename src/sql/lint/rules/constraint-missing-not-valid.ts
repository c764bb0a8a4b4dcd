import { alterCommands } from '../helpers.js';
import type { Hit, Rule } from '../types.js';

const named = (name: unknown): string => (typeof name === 'string' ? `${name} ` : '');

export const rule: Rule = {
  id: 'constraint-missing-not-valid',
  severity: 'error',
  reason: 'adding a CHECK constraint validates every row while holding ACCESS EXCLUSIVE',
  lock: 'ACCESS EXCLUSIVE',
  help: 'ADD CONSTRAINT ... NOT VALID (instant), then VALIDATE CONSTRAINT in a separate transaction (a later file, or a -- migrate:no-transaction file): VALIDATE only takes SHARE UPDATE EXCLUSIVE.',
  kinds: ['AlterTableStmt'],
  sizeBound: true,
  check(context) {
    const hits: Hit[] = [];
    for (let ix = 0, xs = alterCommands(context); ix < xs.length; ix++) {
      const { cmd, table, isNew } = xs[ix]!;
      if (isNew) continue;
      if (cmd.subtype === 'AT_AddConstraint') {
        const c = cmd.def?.Constraint;
        if (c?.contype === 'CONSTR_CHECK' && c.skip_validation !== true) {
          hits.push({
            table,
            location: c.location,
            message: `CHECK constraint ${named(c.conname)}on ${table} is validated under ACCESS EXCLUSIVE`,
          });
        }
      } else if (cmd.subtype === 'AT_ValidateConstraint') {
        const pending = context.schema.notValid.get(`${table}/${String(cmd.name)}`);
        if (
          pending !== undefined &&
          context.transaction.inTransaction &&
          pending.transaction === context.transaction.id
        ) {
          hits.push({
            table,
            message: `constraint ${pending.name} is added NOT VALID and validated in the same transaction: the scan runs under the ADD's lock`,
          });
        }
      }
    }
    return hits;
  },
};
