import type { Rule } from '../types.js';

export const rule: Rule = {
  id: 'session-set-in-transaction',
  severity: 'warning',
  reason: 'SET without LOCAL in a transactional file changes the whole session, not just this migration',
  lock: undefined,
  help: "Use SET LOCAL (it ends with the migration's transaction). tidemark resets the session after each migration, so a session SET never reaches the next one, but SET LOCAL says what is meant.",
  kinds: ['VariableSetStmt'],
  check(context) {
    if (context.kind !== 'VariableSetStmt' || context.node.is_local === true || context.inDoBlock) return [];
    if (!context.transaction.runnerWrapped) return [];
    const kind = String(context.node.kind ?? '');
    if (kind === 'VAR_RESET' || kind === 'VAR_RESET_ALL' || kind === 'VAR_SET_MULTI') return [];
    const name = String(context.node.name ?? 'a setting');
    return [
      { message: `SET ${name} (without LOCAL) lasts for the session; the migration's transaction is where it belongs` },
    ];
  },
};
