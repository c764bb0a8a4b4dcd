import { tableOf } from '../helpers.js';
import type { Rule } from '../types.js';

export const rule: Rule = {
  id: 'require-concurrent-refresh',
  severity: 'error',
  reason: 'REFRESH MATERIALIZED VIEW without CONCURRENTLY blocks every read of the view until the query finishes',
  lock: 'ACCESS EXCLUSIVE',
  help: 'REFRESH MATERIALIZED VIEW CONCURRENTLY (the view needs a unique index on plain columns): readers keep the old rows meanwhile.',
  kinds: ['RefreshMatViewStmt'],
  sizeBound: true,
  check(context) {
    if (context.kind !== 'RefreshMatViewStmt' || context.node.concurrent === true) return [];
    const view = tableOf(context.node.relation);
    if (view !== undefined && context.schema.isNew(view)) return [];
    // Offline the view's size is unknown: say so rather than refuse; connected, its size decides.
    const offline = context.schema.catalog === undefined;
    return [
      {
        table: view,
        message: `REFRESH of ${view ?? '?'} blocks its readers while it runs${offline ? ' (its size is not known offline)' : ''}`,
        ...(offline ? { severity: 'warning' as const } : {}),
      },
    ];
  },
};
