import { tableOf } from '../helpers.js';
import { LOCK_MODES } from '../../locks.js';
import type { PgNode } from '../../parser.js';
import type { Hit, Rule } from '../types.js';

export const rule: Rule = {
  id: 'ban-lock-table',
  severity: 'error',
  reason: "LOCK TABLE holds a lock that blocks writes (or reads) until the migration's transaction ends",
  lock: 'ACCESS EXCLUSIVE',
  help: 'Let each statement take the lock it needs, briefly; if ordering matters, split the migration. Acknowledge a deliberate lock with -- migrate:allow ban-lock-table -- reason.',
  kinds: ['LockStmt'],
  check(context) {
    if (context.kind !== 'LockStmt') return [];
    // LockStmt.mode is the lock level's number (1 ACCESS SHARE ... 8 ACCESS EXCLUSIVE); absent means 8.
    const mode = LOCK_MODES[Math.max(0, Number(context.node.mode ?? 8) - 1)] ?? 'ACCESS EXCLUSIVE';
    if (LOCK_MODES.indexOf(mode) < LOCK_MODES.indexOf('SHARE')) return [];
    const hits: Hit[] = [];
    for (let ix = 0, xs = context.node.relations ?? []; ix < xs.length; ix++) {
      const rel = xs[ix]!;
      const table = tableOf((rel as PgNode)?.RangeVar);
      if (table !== undefined && context.schema.isNew(table)) continue;
      hits.push({
        table,
        message: `LOCK ${table ?? '?'} IN ${mode} MODE blocks ${mode === 'ACCESS EXCLUSIVE' ? 'reads and writes' : 'writes'} until the transaction ends`,
      });
    }
    return hits;
  },
};
