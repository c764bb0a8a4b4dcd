/**
 * Reading libpg-query's parse tree: names of relations and types, and a generic walk. The JSON omits zero,
 * false and empty values, so every reader here treats a missing field as its zero value.
 */
import type { PgNode } from './parser.js';

/** A relation as written in the SQL: schema only when qualified. */
export interface RelationName {
  readonly schema: string | undefined;
  readonly name: string;
}

/** `schema.name`, with `public` for an unqualified name (tidemark does not follow search_path offline). */
export function relationKey(relation: RelationName): string {
  return `${relation.schema ?? 'public'}.${relation.name}`;
}

/** Display form: `name` or `schema.name` as written. */
export function relationDisplay(relation: RelationName): string {
  return relation.schema === undefined ? relation.name : `${relation.schema}.${relation.name}`;
}

/** A RangeVar node (`{relname, schemaname}`) as a RelationName. */
export function rangeVar(node: PgNode): RelationName | undefined {
  if (node === undefined || node === null || typeof node.relname !== 'string') return undefined;
  return { schema: typeof node.schemaname === 'string' ? node.schemaname : undefined, name: node.relname };
}

/** A list of `String` nodes (a qualified name in DROP, a type name) as plain strings. */
export function stringList(items: PgNode): string[] {
  const out: string[] = [];
  if (!Array.isArray(items)) return out;
  for (let ix = 0; ix < items.length; ix++) {
    const item = items[ix]!;
    const s = item?.String?.sval;
    if (typeof s === 'string') out.push(s);
  }
  return out;
}

/** A qualified-name list (`[schema, name]` or `[name]`) as a RelationName. */
export function qualifiedName(items: PgNode): RelationName | undefined {
  const parts = stringList(items);
  if (parts.length === 0) return undefined;
  const name = parts[parts.length - 1]!;
  return { schema: parts.length > 1 ? parts[parts.length - 2] : undefined, name };
}

export interface TypeInfo {
  /** Base name without the `pg_catalog.` the grammar adds: `int4`, `varchar`, `timestamptz`, `serial`. */
  readonly name: string;
  /** Integer type modifiers as written: varchar(20) -> [20], numeric(10,2) -> [10, 2]. */
  readonly mods: number[];
  readonly isArray: boolean;
}

/** A TypeName node as a TypeInfo. */
export function typeInfo(typeName: PgNode): TypeInfo | undefined {
  if (typeName === undefined || typeName === null) return undefined;
  const names = stringList(typeName.names);
  const name = names[names.length - 1];
  if (name === undefined) return undefined;
  const mods: number[] = Array.isArray(typeName.typmods)
    ? typeName.typmods.map((m: PgNode) => Number(m?.A_Const?.ival?.ival ?? 0))
    : [];
  return { name, mods, isArray: Array.isArray(typeName.arrayBounds) && typeName.arrayBounds.length > 0 };
}

/** The single key of a wrapped node: `{ FuncCall: {...} }` -> `FuncCall`. */
export function nodeType(node: PgNode): string | undefined {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
  const keys = Object.keys(node);
  return keys.length === 1 && /^[A-Z]/.test(keys[0]!) ? keys[0] : undefined;
}

/**
 * Visits every wrapped node under `node` (depth first), calling `visit(type, inner)`. Returning `false` from
 * `visit` skips that node's children.
 */
export function walk(node: PgNode, visit: (type: string, inner: PgNode) => boolean | void): void {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (let ix = 0; ix < node.length; ix++) walk(node[ix], visit);
    return;
  }
  const type = nodeType(node);
  if (type !== undefined) {
    const inner = node[type];
    if (visit(type, inner) === false) return;
    walk(inner, visit);
    return;
  }
  const values = Object.values(node);
  for (let ix = 0; ix < values.length; ix++) walk(values[ix], visit);
}

/** Column constraints of a ColumnDef, unwrapped. */
export function columnConstraints(columnDef: PgNode): PgNode[] {
  const out: PgNode[] = [];
  const constraints = columnDef?.constraints;
  if (!Array.isArray(constraints)) return out;
  for (let ix = 0; ix < constraints.length; ix++) {
    const c = constraints[ix];
    if (c?.Constraint !== undefined) out.push(c.Constraint);
  }
  return out;
}

/** A constant's value from an A_Const node (unwrapped), as a string or number; undefined for NULL. */
export function constValue(aConst: PgNode): string | number | undefined {
  if (aConst === undefined || aConst.isnull === true) return undefined;
  if (aConst.ival !== undefined) return Number(aConst.ival.ival ?? 0);
  if (aConst.fval !== undefined) return Number(aConst.fval.fval ?? 0);
  if (aConst.sval !== undefined) return String(aConst.sval.sval ?? '');
  if (aConst.boolval !== undefined) return aConst.boolval.boolval === true ? 'true' : 'false';
  return undefined;
}
