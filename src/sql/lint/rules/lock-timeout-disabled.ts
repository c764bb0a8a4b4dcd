import { constValue } from '../../tree.js';
import type { Rule } from '../types.js';

export const rule: Rule = {
  id: 'lock-timeout-disabled',
  severity: 'error',
  reason: 'with lock_timeout = 0 a statement waits for its lock forever while every query behind it queues',
  lock: undefined,
  help: "Keep the runner's lock_timeout (MAX_LOCK_WAIT): a statement that cannot get its lock fails fast and is retried (LOCK_RETRIES). Raise it with SET LOCAL lock_timeout = '30s' if needed, never to 0.",
  kinds: ['VariableSetStmt'],
  check(context) {
    if (context.kind !== 'VariableSetStmt' || context.node.name !== 'lock_timeout') return [];
    if (context.node.kind !== 'VAR_SET_VALUE') return [];
    const arg = context.node.args?.[0]?.A_Const;
    const value = constValue(arg) ?? 0;
    // '0', '0ms', '0s', 0: PostgreSQL reads the leading number; units do not matter for zero.
    const number = typeof value === 'number' ? value : Number.parseFloat(value);
    if (number !== 0) return [];
    return [{ message: 'SET lock_timeout = 0 disables the lock wait limit for the rest of the file' }];
  },
};
