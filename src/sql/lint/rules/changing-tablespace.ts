import { tableOf } from '../helpers.js';
import type { PgNode } from '../../parser.js';
import type { Rule } from '../types.js';

export const rule: Rule = {
  id: 'changing-tablespace',
  severity: 'error',
  reason: 'SET TABLESPACE copies the whole table (or index) to the new tablespace under ACCESS EXCLUSIVE',
  lock: 'ACCESS EXCLUSIVE',
  help: 'Move a large table in a maintenance window, or with a tool that copies online (pg_repack --tablespace); new tables can be created in the tablespace directly.',
  kinds: ['AlterTableStmt'],
  sizeBound: true,
  check(context) {
    if (context.kind !== 'AlterTableStmt') return [];
    const cmds = (context.node.cmds ?? [])
      .map((c: PgNode) => c?.AlterTableCmd)
      .filter((c: PgNode) => c?.subtype === 'AT_SetTableSpace');
    if (cmds.length === 0) return [];
    const name = tableOf(context.node.relation);
    const table =
      context.node.objtype === 'OBJECT_INDEX' && name !== undefined ? context.schema.indexTable(name) : name;
    if (table !== undefined && context.schema.isNew(table)) return [];
    return [
      {
        table,
        message: `moving ${name ?? '?'} to tablespace ${String(cmds[0].name)} copies it while reads and writes wait`,
      },
    ];
  },
};
