import { alterCommands, tableOf } from '../helpers.js';
import type { Hit, Rule } from '../types.js';

export const rule: Rule = {
  id: 'attach-partition-without-check',
  severity: 'error',
  reason:
    'ATTACH PARTITION scans the whole partition under ACCESS EXCLUSIVE to check its rows fit the bound, unless a validated CHECK constraint already proves it',
  lock: 'ACCESS EXCLUSIVE',
  help: 'Before attaching, add a CHECK constraint matching the partition bound NOT VALID, VALIDATE it (no exclusive lock), then ATTACH PARTITION: PostgreSQL skips the scan. Drop the CHECK afterwards.',
  kinds: ['AlterTableStmt'],
  sizeBound: true,
  check(context) {
    const hits: Hit[] = [];
    for (let ix = 0, xs = alterCommands(context); ix < xs.length; ix++) {
      const { cmd, table, isNew } = xs[ix]!;
      if (cmd.subtype !== 'AT_AttachPartition') continue;
      const partition = tableOf(cmd.def?.PartitionCmd?.name);
      if (isNew || partition === undefined || context.schema.isNew(partition)) continue;
      if (context.schema.hasValidatedCheck(partition)) continue;
      hits.push({
        table: partition,
        message: `attaching ${partition} to ${table} scans it under ACCESS EXCLUSIVE: it has no validated CHECK constraint matching the bound`,
      });
    }
    return hits;
  },
};
