/**
 * What tidemark knows about the schema at a given statement: the live catalog (when connected) plus what
 * earlier statements of the same run created or changed. Lint and the lock report both read it, so a table
 * created or a constraint added NOT VALID in an earlier pending file is known when a later file is checked.
 */
import type { Catalog, CatalogTable } from '../db/catalog.js';
import type { PgNode } from './parser.js';
import { isParserLoaded, parseSync } from './parser.js';
import {
  columnConstraints,
  qualifiedName,
  rangeVar,
  relationKey,
  stringList,
  typeInfo,
  walk,
  type RelationName,
} from './tree.js';

export interface ColumnType {
  readonly name: string;
  readonly mods: readonly number[];
}

export interface PendingConstraint {
  readonly table: string;
  readonly name: string;
  readonly kind: 'check' | 'foreign-key';
  /** For `CHECK (col IS NOT NULL)`: the column. */
  readonly notNullColumn: string | undefined;
  /** Identifies the transaction that added it NOT VALID (see LintState). */
  readonly transaction: number;
}

export class SchemaView {
  readonly catalog: Catalog | undefined;
  /** Tables created in this run (`schema.name`): empty, unseen by running code, exempt from most rules. */
  readonly newTables = new Set<string>();
  /** Column types known from CREATE TABLE / ADD COLUMN / ALTER TYPE of this run: table -> column -> type. */
  readonly #columns = new Map<string, Map<string, ColumnType>>();
  /** Indexes created in this run: index key -> table key. */
  readonly #indexTables = new Map<string, string>();
  /** Constraints added NOT VALID and not validated yet in this run: `table/name` -> constraint. */
  readonly notValid = new Map<string, PendingConstraint>();
  /** Columns with a validated `CHECK (col IS NOT NULL)` from this run: `table/column`. */
  readonly #validatedNotNull = new Set<string>();
  #catalogNotNullChecks: Set<string> | undefined;

  constructor(catalog?: Catalog) {
    this.catalog = catalog;
  }

  isNew(table: string): boolean {
    return this.newTables.has(table);
  }

  table(table: string): CatalogTable | undefined {
    return this.catalog?.tables.get(table);
  }

  /** The column's type, from this run first, then from the catalog; undefined when not known. */
  columnType(table: string, column: string): ColumnType | undefined {
    const known = this.#columns.get(table)?.get(column);
    if (known !== undefined) return known;
    const fromCatalog = this.table(table)?.columns.find((c) => c.name === column);
    return fromCatalog === undefined ? undefined : { name: fromCatalog.typeName, mods: fromCatalog.mods };
  }

  /** The table of an index (`schema.name` of the index), from this run or the catalog. */
  indexTable(index: string): string | undefined {
    return this.#indexTables.get(index) ?? this.catalog?.indexTables.get(index);
  }

  /** True when a validated `CHECK (column IS NOT NULL)` exists in the catalog or was validated in this run. */
  hasValidatedNotNullCheck(table: string, column: string): boolean {
    if (this.#validatedNotNull.has(`${table}/${column}`)) return true;
    return this.#catalogChecks().has(`${table}/${column}`);
  }

  #catalogChecks(): Set<string> {
    if (this.#catalogNotNullChecks !== undefined) return this.#catalogNotNullChecks;
    const found = new Set<string>();
    if (this.catalog !== undefined && isParserLoaded()) {
      for (const [key, table] of this.catalog.tables) {
        for (const constraint of table.constraints) {
          if (constraint.type !== 'c' || !constraint.validated) continue;
          // Read the definition with the grammar too: `CHECK ((email IS NOT NULL))`.
          try {
            const tree = parseSync(`alter table t add ${constraint.definition}`);
            const def = tree.stmts[0]?.stmt?.AlterTableStmt?.cmds?.[0]?.AlterTableCmd?.def?.Constraint;
            const column = notNullCheckColumn(def?.raw_expr);
            if (column !== undefined) found.add(`${key}/${column}`);
          } catch {
            // A definition the grammar cannot read back is not a NOT NULL check we can rely on.
          }
        }
      }
    }
    this.#catalogNotNullChecks = found;
    return found;
  }

  /** Records what a statement creates or changes. `transaction` identifies the transaction it runs in. */
  apply(kind: string, node: PgNode, transaction: number): void {
    if (kind === 'CreateStmt') {
      const relation = rangeVar(node.relation);
      if (relation === undefined) return;
      const table = relationKey(relation);
      this.newTables.add(table);
      for (const element of node.tableElts ?? []) {
        if (element.ColumnDef !== undefined) this.#addColumn(table, element.ColumnDef);
      }
    } else if (kind === 'CreateTableAsStmt') {
      const relation = rangeVar(node.into?.rel);
      if (relation !== undefined) this.newTables.add(relationKey(relation));
    } else if (kind === 'IndexStmt') {
      const relation = rangeVar(node.relation);
      if (relation !== undefined && typeof node.idxname === 'string') {
        this.#indexTables.set(relationKey({ schema: relation.schema, name: node.idxname }), relationKey(relation));
      }
    } else if (kind === 'AlterTableStmt') {
      const relation = rangeVar(node.relation);
      if (relation === undefined) return;
      const table = relationKey(relation);
      for (const item of node.cmds ?? []) {
        const cmd = item.AlterTableCmd;
        if (cmd === undefined) continue;
        if (cmd.subtype === 'AT_AddColumn' && cmd.def?.ColumnDef !== undefined) {
          this.#addColumn(table, cmd.def.ColumnDef);
        } else if (cmd.subtype === 'AT_AlterColumnType' && typeof cmd.name === 'string') {
          const type = typeInfo(cmd.def?.ColumnDef?.typeName);
          if (type !== undefined) this.#setColumn(table, cmd.name, type);
        } else if (cmd.subtype === 'AT_AddConstraint' && cmd.def?.Constraint !== undefined) {
          const constraint = cmd.def.Constraint;
          const notNullColumn = constraint.contype === 'CONSTR_CHECK' ? notNullCheckColumn(constraint.raw_expr) : undefined;
          if (constraint.skip_validation === true && typeof constraint.conname === 'string') {
            const kind = constraint.contype === 'CONSTR_FOREIGN' ? 'foreign-key' : 'check';
            this.notValid.set(`${table}/${constraint.conname}`, {
              table,
              name: constraint.conname,
              kind,
              notNullColumn,
              transaction,
            });
          } else if (notNullColumn !== undefined) {
            this.#validatedNotNull.add(`${table}/${notNullColumn}`);
          }
        } else if (cmd.subtype === 'AT_ValidateConstraint' && typeof cmd.name === 'string') {
          const pending = this.notValid.get(`${table}/${cmd.name}`);
          if (pending?.notNullColumn !== undefined) this.#validatedNotNull.add(`${table}/${pending.notNullColumn}`);
          this.notValid.delete(`${table}/${cmd.name}`);
        }
      }
    } else if (kind === 'RenameStmt' && node.renameType === 'OBJECT_TABLE') {
      const relation = rangeVar(node.relation);
      if (relation !== undefined && typeof node.newname === 'string') {
        const from = relationKey(relation);
        const to = relationKey({ schema: relation.schema, name: node.newname });
        if (this.newTables.delete(from)) this.newTables.add(to);
      }
    } else if (kind === 'DropStmt' && node.removeType === 'OBJECT_TABLE') {
      for (const name of dropNames(node)) this.newTables.delete(relationKey(name));
    }
  }

  #addColumn(table: string, columnDef: PgNode): void {
    const type = typeInfo(columnDef.typeName);
    if (type !== undefined && typeof columnDef.colname === 'string') this.#setColumn(table, columnDef.colname, type);
    for (const constraint of columnConstraints(columnDef)) {
      if (constraint.contype === 'CONSTR_NOTNULL' && typeof columnDef.colname === 'string') {
        this.#validatedNotNull.add(`${table}/${columnDef.colname}`);
      }
    }
  }

  #setColumn(table: string, column: string, type: ColumnType): void {
    const columns = this.#columns.get(table) ?? new Map<string, ColumnType>();
    columns.set(column, type);
    this.#columns.set(table, columns);
  }
}

/** The objects of a DropStmt as relation names. */
export function dropNames(node: PgNode): RelationName[] {
  const out: RelationName[] = [];
  for (const object of node.objects ?? []) {
    const name = qualifiedName(object?.List?.items ?? (object?.String !== undefined ? [object] : []));
    if (name !== undefined) out.push(name);
  }
  return out;
}

/** For `col IS NOT NULL` (a NullTest on a bare column): the column's name. */
export function notNullCheckColumn(expr: PgNode): string | undefined {
  const test = expr?.NullTest;
  if (test === undefined || test.nulltesttype !== 'IS_NOT_NULL') return undefined;
  const fields = stringList(test.arg?.ColumnRef?.fields);
  return fields.length === 1 ? fields[0] : undefined;
}

/** Whether an expression mentions a string constant equal to `value` (used for enum values). */
export function mentionsString(node: PgNode, value: string): boolean {
  let found = false;
  walk(node, (type, inner) => {
    if (type === 'A_Const' && inner?.sval?.sval === value) found = true;
    return !found;
  });
  return found;
}
