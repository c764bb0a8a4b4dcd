import { alterCommands, tableOf } from '../helpers.js';
import type { Hit, Rule } from '../types.js';

export const rule: Rule = {
  id: 'require-concurrent-detach-partition',
  severity: 'error',
  reason:
    'DETACH PARTITION without CONCURRENTLY takes ACCESS EXCLUSIVE on the partitioned table: every query on it waits',
  lock: 'ACCESS EXCLUSIVE',
  help: 'DETACH PARTITION ... CONCURRENTLY (PostgreSQL 14+) in a file with -- migrate:no-transaction.',
  kinds: ['AlterTableStmt'],
  check(context) {
    const hits: Hit[] = [];
    for (let ix = 0, xs = alterCommands(context); ix < xs.length; ix++) {
      const { cmd, table, isNew } = xs[ix]!;
      if (isNew || cmd.subtype !== 'AT_DetachPartition' || cmd.def?.PartitionCmd?.concurrent === true) continue;
      const partition = tableOf(cmd.def?.PartitionCmd?.name) ?? '?';
      hits.push(
        context.pgVersion >= 140000
          ? { table, message: `DETACH PARTITION ${partition} locks ${table} against reads and writes` }
          : {
              table,
              severity: 'warning',
              message: `DETACH PARTITION ${partition} locks ${table} against reads and writes; before PostgreSQL 14 there is no CONCURRENTLY form`,
            },
      );
    }
    return hits;
  },
};
