import type { Rule } from '../types.js';

const CONTROL = new Set([
  'TRANS_STMT_BEGIN',
  'TRANS_STMT_START',
  'TRANS_STMT_COMMIT',
  'TRANS_STMT_ROLLBACK',
  'TRANS_STMT_PREPARE',
  'TRANS_STMT_COMMIT_PREPARED',
  'TRANS_STMT_ROLLBACK_PREPARED',
]);

export const rule: Rule = {
  id: 'transaction-nesting',
  severity: 'error',
  reason:
    'the runner already wraps this file in a transaction: BEGIN warns and COMMIT/ROLLBACK ends it early, so the history row and the rest of the file run outside it',
  lock: undefined,
  help: 'Remove BEGIN/COMMIT/ROLLBACK; to control transactions yourself, put -- migrate:no-transaction at the top of the file.',
  kinds: ['TransactionStmt'],
  check(context) {
    if (context.kind !== 'TransactionStmt' || !context.transaction.runnerWrapped) return [];
    const kind = String(context.node.kind ?? 'TRANS_STMT_BEGIN');
    if (!CONTROL.has(kind)) return [];
    const word = kind.replace('TRANS_STMT_', '').replace('_', ' ');
    return [{ message: `${word} in a file the runner wraps in a transaction` }];
  },
};
