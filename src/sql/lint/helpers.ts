/** Readers of the parse tree that several rules share. */
import type { PgNode } from '../parser.js';
import { rangeVar, relationKey, typeInfo, type TypeInfo } from '../tree.js';
import type { RuleContext } from './types.js';

export interface AlterCommand {
  /** The AlterTableCmd, unwrapped. */
  readonly cmd: PgNode;
  /** `schema.name` of the altered table. */
  readonly table: string;
  /** True when the table was created earlier in this run (empty, unseen by running code). */
  readonly isNew: boolean;
}

/**
 * What several rules read of the same statement, worked out once per statement: the engine gives every rule
 * of a statement the same context object.
 */
const alterCommandsOf = new WeakMap<RuleContext, readonly AlterCommand[]>();
const definedColumnsOf = new WeakMap<RuleContext, readonly ColumnDefinition[]>();

/** The sub-commands of an ALTER TABLE statement (none for any other statement). */
export function alterCommands(context: RuleContext): readonly AlterCommand[] {
  let commands = alterCommandsOf.get(context);
  if (commands === undefined) {
    commands = readAlterCommands(context);
    alterCommandsOf.set(context, commands);
  }
  return commands;
}

function readAlterCommands(context: RuleContext): AlterCommand[] {
  const out: AlterCommand[] = [];
  if (context.kind !== 'AlterTableStmt' || context.node.objtype !== 'OBJECT_TABLE') return out;
  const name = rangeVar(context.node.relation);
  if (name === undefined) return out;
  const table = relationKey(name);
  const isNew = context.schema.isNew(table);
  for (let ix = 0, xs = context.node.cmds ?? []; ix < xs.length; ix++) {
    const item = xs[ix]!;
    const cmd: PgNode = item?.AlterTableCmd;
    if (cmd !== undefined) out.push({ cmd, table, isNew });
  }
  return out;
}

export interface ColumnDefinition {
  readonly def: PgNode;
  readonly type: TypeInfo | undefined;
  readonly table: string;
  readonly location: number | undefined;
}

/** Column types a statement defines: CREATE TABLE columns, ADD COLUMN, ALTER COLUMN TYPE. */
export function definedColumns(context: RuleContext): readonly ColumnDefinition[] {
  let columns = definedColumnsOf.get(context);
  if (columns === undefined) {
    columns = readDefinedColumns(context);
    definedColumnsOf.set(context, columns);
  }
  return columns;
}

function readDefinedColumns(context: RuleContext): ColumnDefinition[] {
  const out: ColumnDefinition[] = [];
  if (context.kind === 'CreateStmt') {
    const name = rangeVar(context.node.relation);
    const table = name === undefined ? '' : relationKey(name);
    for (let ix = 0, xs = context.node.tableElts ?? []; ix < xs.length; ix++) {
      const element = xs[ix]!;
      const def = element?.ColumnDef;
      if (def !== undefined) out.push({ def, type: typeInfo(def.typeName), table, location: def.typeName?.location });
    }
  }
  for (let ix = 0, xs = alterCommands(context); ix < xs.length; ix++) {
    const { cmd, table } = xs[ix]!;
    const def = cmd.def?.ColumnDef;
    if (def === undefined) continue;
    if (cmd.subtype === 'AT_AddColumn' || cmd.subtype === 'AT_AlterColumnType') {
      out.push({ def, type: typeInfo(def.typeName), table, location: def.typeName?.location });
    }
  }
  return out;
}

/** `schema.name` of a RangeVar node, or undefined. */
export function tableOf(rv: PgNode): string | undefined {
  const name = rangeVar(rv);
  return name === undefined ? undefined : relationKey(name);
}

/** Column name of a sub-command or ColumnDef, for messages. */
export function columnName(cmd: PgNode): string {
  return String(cmd.def?.ColumnDef?.colname ?? cmd.name ?? '?');
}
