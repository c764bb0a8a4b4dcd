import { tableOf } from '../helpers.js';
import type { PgNode } from '../../parser.js';
import type { Rule } from '../types.js';

export const rule: Rule = {
  id: 'require-concurrent-reindex',
  severity: 'error',
  reason: 'REINDEX without CONCURRENTLY blocks writes to the table and reads through the index for the whole rebuild',
  lock: 'SHARE',
  help: 'REINDEX ... CONCURRENTLY (PostgreSQL 12+) in a file with -- migrate:no-transaction; before 12, CREATE INDEX CONCURRENTLY a copy and swap.',
  kinds: ['ReindexStmt'],
  sizeBound: true,
  check(context) {
    if (context.kind !== 'ReindexStmt') return [];
    if ((context.node.params ?? []).some((p: PgNode) => p?.DefElem?.defname === 'concurrently')) return [];
    const name = tableOf(context.node.relation);
    const table =
      context.node.kind === 'REINDEX_OBJECT_INDEX' && name !== undefined ? context.schema.indexTable(name) : name;
    if (table !== undefined && context.schema.isNew(table)) return [];
    return [{ table, message: `REINDEX of ${name ?? 'a schema or database'} without CONCURRENTLY blocks writes` }];
  },
};
