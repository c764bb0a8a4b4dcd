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

/** DropStmt object types whose names live in pg_class (one namespace per schema). */
const RELATION_KINDS = new Set([
  'OBJECT_TABLE',
  'OBJECT_INDEX',
  'OBJECT_SEQUENCE',
  'OBJECT_VIEW',
  'OBJECT_MATVIEW',
  'OBJECT_FOREIGN_TABLE',
]);
const TYPE_KINDS = new Set(['OBJECT_TYPE', 'OBJECT_DOMAIN']);

/**
 * Follows every object kind pending files create, rename and drop (tables, indexes, constraints, sequences,
 * views, types, schemas), so that a later file is judged on the schema it will really meet. Existence is
 * three-valued: true or false when the run or the catalog says so, undefined offline for objects the run
 * did not touch.
 */
export class SchemaView {
  readonly catalog: Catalog | undefined;
  /** Tables created in this run (`schema.name`): empty, unseen by running code, exempt from most rules. */
  readonly newTables = new Set<string>();
  /** Column types known from CREATE TABLE / ADD COLUMN / ALTER TYPE of this run: table -> column -> type. */
  readonly #columns = new Map<string, Map<string, ColumnType>>();
  /** `table/column` dropped (false) or added (true) in this run. */
  readonly #columnState = new Map<string, boolean>();
  /** Indexes created or renamed in this run: index key -> table key. */
  readonly #indexTables = new Map<string, string>();
  /** Relations (`schema.name`) created (true) or dropped or renamed away (false) in this run. */
  readonly #relations = new Map<string, boolean>();
  readonly #schemas = new Map<string, boolean>();
  /** Schemas dropped at some point of the run: what the catalog had in them is gone. */
  readonly #emptiedSchemas = new Set<string>();
  readonly #types = new Map<string, boolean>();
  /** `table/name` of constraints created (true) or dropped (false) in this run. */
  readonly #constraints = new Map<string, boolean>();
  /** Constraints added NOT VALID and not validated yet in this run: `table/name` -> constraint. */
  readonly notValid = new Map<string, PendingConstraint>();
  /** Columns with a validated `CHECK (col IS NOT NULL)` from this run: `table/column`. */
  readonly #validatedNotNull = new Set<string>();
  /** Tables that got a validated CHECK constraint (not a NOT NULL check) in this run. */
  readonly #validatedChecks = new Set<string>();
  /** Catalog tables -> the columns of their validated `CHECK (col IS NOT NULL)`, read when first asked. */
  readonly #catalogNotNullChecks = new Map<string, { readonly columns: Set<string>; readonly unknown: boolean }>();
  /** Told a catalog table whose constraint definitions were not read (see LintContext.onIncompleteTable). */
  readonly #onIncomplete: ((table: CatalogTable) => void) | undefined;
  /** The search_path a file starts with: the server's when connected, PostgreSQL's default offline. */
  readonly #basePath: readonly string[];
  /** The search_path at the current statement (a file's own SET search_path changes it until the file ends). */
  #searchPath: readonly string[];

  constructor(catalog?: Catalog, onIncomplete?: (table: CatalogTable) => void) {
    this.catalog = catalog;
    this.#onIncomplete = onIncomplete;
    this.#basePath =
      catalog?.searchPath !== undefined && catalog.searchPath.length > 0 ? catalog.searchPath : ['public'];
    this.#searchPath = this.#basePath;
  }

  isNew(table: string): boolean {
    return this.newTables.has(table);
  }

  table(table: string): CatalogTable | undefined {
    if (this.relationExists(table) === false) return undefined;
    return this.catalog?.tables.get(table);
  }

  get searchPath(): readonly string[] {
    return this.#searchPath;
  }

  /** A file ended: the runner resets the session between migrations, so its SET search_path ends too. */
  endFile(): void {
    this.#searchPath = this.#basePath;
    this.#undoTargets = new Set();
  }

  /** The column's type, from this run first, then from the catalog; undefined when not known. */
  columnType(table: string, column: string): ColumnType | undefined {
    const known = this.#columns.get(table)?.get(column);
    if (known !== undefined) return known;
    if (this.#columnState.get(`${table}/${column}`) === false) return undefined;
    const fromCatalog = this.table(table)?.columns.find((c) => c.name === column);
    return fromCatalog === undefined ? undefined : { name: fromCatalog.typeName, mods: fromCatalog.mods };
  }

  /** The table of an index (`schema.name` of the index), from this run or the catalog. */
  indexTable(index: string): string | undefined {
    const known = this.#indexTables.get(index);
    if (known !== undefined) return known;
    if (this.#relations.get(index) === false) return undefined;
    return this.catalog?.indexTables.get(index);
  }

  /** Whether a relation (table, index, sequence, view, ...) exists at this statement; undefined: cannot know. */
  relationExists(key: string): boolean | undefined {
    const known = this.#relations.get(key);
    if (known !== undefined) return known;
    const schema = schemaOf(key);
    if (this.#emptiedSchemas.has(schema)) return false;
    if (this.catalog === undefined) return undefined;
    const inCatalog =
      this.catalog.relations?.has(key) ?? (this.catalog.tables.has(key) || this.catalog.indexTables.has(key));
    if (!inCatalog) return this.catalog.relations === undefined ? undefined : false;
    // An index of a table this run dropped went with it.
    const table = this.catalog.indexTables.get(key);
    return table === undefined || this.#relations.get(table) !== false;
  }

  /** What the up file a rollback undoes created: `table:schema.name`, `column:schema.name/col`, ... */
  #undoTargets: ReadonlySet<string> = new Set();

  /**
   * Before a rollback file: reads what its up file created (tables, columns, types, schemas), resolved as
   * the rollback will resolve them. `statements` are the up file's parsed statements.
   */
  beginUndo(statements: readonly { kind: string; node: PgNode }[]): void {
    const targets = new Set<string>();
    // The up's own SET search_path places what it created (`set search_path = app; create table t`: app.t, which a
    // rollback that drops `t` on the default path does not drop); the rollback then starts on the base path.
    const rollbackPath = this.#searchPath;
    this.#searchPath = this.#basePath;
    for (let ix = 0; ix < statements.length; ix++) {
      const { kind, node } = statements[ix]!;
      if (kind === 'VariableSetStmt') this.#setSearchPath(node);
      else if (kind === 'CreateStmt' || kind === 'CreateTableAsStmt') {
        const relation = rangeVar(kind === 'CreateStmt' ? node.relation : node.into?.rel);
        if (relation !== undefined) targets.add(`table:${this.resolve(relation)}`);
      } else if (kind === 'AlterTableStmt') {
        const relation = rangeVar(node.relation);
        if (relation === undefined) continue;
        const table = this.resolve(relation);
        for (let jx = 0, ys = node.cmds ?? []; jx < ys.length; jx++) {
          const item = ys[jx]!;
          const cmd = item?.AlterTableCmd;
          if (cmd?.subtype === 'AT_AddColumn' && typeof cmd.def?.ColumnDef?.colname === 'string') {
            targets.add(`column:${table}/${cmd.def.ColumnDef.colname}`);
          }
        }
      } else if (kind === 'CreateSchemaStmt' && typeof node.schemaname === 'string') {
        targets.add(`schema:${node.schemaname}`);
      }
    }
    this.#undoTargets = targets;
    this.#searchPath = rollbackPath;
  }

  /** True when the rollback being linted drops what its own up created (`kind:key` as in beginUndo). */
  undoes(target: string): boolean {
    return this.#undoTargets.has(target);
  }

  /** True for a schema created by this run: nothing outside the run can depend on it yet. */
  isNewSchema(name: string): boolean {
    return this.#schemas.get(name) === true && !this.#existedBefore(name);
  }

  #existedBefore(name: string): boolean {
    return this.catalog?.schemas?.has(name) === true && !this.#emptiedSchemas.has(name);
  }

  schemaExists(name: string): boolean | undefined {
    return (
      this.#schemas.get(name) ?? (this.catalog?.schemas === undefined ? undefined : this.catalog.schemas.has(name))
    );
  }

  typeExists(key: string): boolean | undefined {
    const known = this.#types.get(key);
    if (known !== undefined) return known;
    if (this.#emptiedSchemas.has(schemaOf(key))) return false;
    return this.catalog?.types === undefined ? undefined : this.catalog.types.has(key);
  }

  columnExists(table: string, column: string): boolean | undefined {
    const known = this.#columnState.get(`${table}/${column}`);
    if (known !== undefined) return known;
    if (this.#columns.get(table)?.has(column)) return true;
    if (this.relationExists(table) === false) return false;
    const fromCatalog = this.catalog?.tables.get(table);
    return fromCatalog === undefined ? undefined : fromCatalog.columns.some((c) => c.name === column);
  }

  constraintExists(table: string, name: string): boolean | undefined {
    const known = this.#constraints.get(`${table}/${name}`);
    if (known !== undefined) return known;
    if (this.relationExists(table) === false) return false;
    const fromCatalog = this.catalog?.tables.get(table);
    return fromCatalog === undefined ? undefined : fromCatalog.constraints.some((c) => c.name === name);
  }

  /**
   * `schema.name` of a relation as PostgreSQL would resolve it now: a qualified name as written; otherwise
   * the first schema of the search_path that holds it, else (it does not exist yet, or cannot be known
   * offline) the first existing schema of the path, where CREATE puts it.
   */
  resolve(
    relation: RelationName,
    exists: (key: string) => boolean | undefined = (k) => this.relationExists(k),
  ): string {
    if (relation.schema !== undefined) return `${relation.schema}.${relation.name}`;
    for (const schema of this.#searchPath) {
      if (exists(`${schema}.${relation.name}`) === true) return `${schema}.${relation.name}`;
    }
    return `${this.#creationSchema()}.${relation.name}`;
  }

  #creationSchema(): string {
    return this.#searchPath.find((s) => this.schemaExists(s) !== false) ?? 'public';
  }

  /**
   * Writes the resolved schema into every unqualified relation name of a statement (before rules read it),
   * so that every reader's `relationKey` names the object the runner's session will touch.
   */
  qualify(kind: string, node: PgNode): void {
    const creates =
      kind === 'CreateStmt'
        ? node.relation
        : kind === 'CreateSeqStmt'
          ? node.sequence
          : kind === 'ViewStmt'
            ? node.view
            : kind === 'CreateTableAsStmt'
              ? node.into?.rel
              : undefined;
    if (
      creates !== undefined &&
      typeof creates.relname === 'string' &&
      creates.schemaname === undefined &&
      creates.relpersistence !== 't'
    ) {
      creates.schemaname = this.#creationSchema();
    }
    // With search_path = public alone, every unqualified name resolves to public (resolve: found there, or
    // created there), which is what relationKey and resolve already take an unqualified name to mean: the walk
    // over the whole tree (~4 % of a lint's CPU) would change nothing a reader sees.
    if (this.#searchPath.length !== 1 || this.#searchPath[0] !== 'public') qualifyRangeVars(node, this);
    if (kind === 'DropStmt' && (RELATION_KINDS.has(node.removeType) || TYPE_KINDS.has(node.removeType))) {
      const types = TYPE_KINDS.has(node.removeType);
      for (let ix = 0, xs = node.objects ?? []; ix < xs.length; ix++) {
        const object = xs[ix]!;
        const items = types ? object?.TypeName?.names : object?.List?.items;
        if (!Array.isArray(items) || items.length !== 1) continue;
        const name = items[0]?.String?.sval;
        if (typeof name !== 'string') continue;
        const key = this.resolve({ schema: undefined, name }, types ? (k) => this.typeExists(k) : undefined);
        items.unshift({ String: { sval: schemaOf(key) } });
      }
    }
  }

  /**
   * The statement without the parts an `IF EXISTS` makes a no-op because their object provably does not
   * exist (PostgreSQL only notices and skips them); undefined when nothing of it is left to judge.
   */
  present(kind: string, node: PgNode): PgNode | undefined {
    if (kind === 'DropStmt' && node.missing_ok === true) {
      const objects = (node.objects ?? []).filter(
        (object: PgNode) => this.#dropTargetExists(node.removeType, object) !== false,
      );
      if (objects.length === 0) return undefined;
      return objects.length === node.objects.length ? node : { ...node, objects };
    }
    if (kind === 'AlterTableStmt') {
      const relation = rangeVar(node.relation);
      if (relation === undefined) return node;
      const table = relationKey(relation);
      if (node.missing_ok === true && this.relationExists(table) === false) return undefined;
      const cmds = (node.cmds ?? []).filter((item: PgNode) => {
        const cmd = item?.AlterTableCmd;
        if (cmd?.missing_ok !== true || typeof cmd.name !== 'string') return true;
        if (cmd.subtype === 'AT_DropColumn') return this.columnExists(table, cmd.name) !== false;
        if (cmd.subtype === 'AT_DropConstraint') return this.constraintExists(table, cmd.name) !== false;
        return true;
      });
      if (cmds.length === 0 && (node.cmds ?? []).length > 0) return undefined;
      return cmds.length === (node.cmds ?? []).length ? node : { ...node, cmds };
    }
    return node;
  }

  #dropTargetExists(removeType: string, object: PgNode): boolean | undefined {
    if (RELATION_KINDS.has(removeType)) {
      const name = qualifiedName(object?.List?.items ?? []);
      if (name === undefined) return undefined;
      if (name.schema !== undefined && this.schemaExists(name.schema) === false) return false;
      return this.relationExists(this.resolve(name));
    }
    if (TYPE_KINDS.has(removeType)) {
      const name = qualifiedName(object?.TypeName?.names ?? []);
      if (name === undefined) return undefined;
      if (name.schema !== undefined && this.schemaExists(name.schema) === false) return false;
      return this.typeExists(this.resolve(name, (k) => this.typeExists(k)));
    }
    if (removeType === 'OBJECT_SCHEMA') {
      const name = object?.String?.sval;
      return typeof name === 'string' ? this.schemaExists(name) : undefined;
    }
    return undefined;
  }

  /**
   * True when the table has a validated CHECK constraint other than a NOT NULL check, from the catalog or
   * added validated in this run: the one ATTACH PARTITION can use to skip its scan. Whether it implies the
   * bound is PostgreSQL's proof; tidemark only checks that one is there.
   */
  hasValidatedCheck(table: string): boolean {
    if (this.#validatedChecks.has(table)) return true;
    const known = this.table(table);
    if (known === undefined) return false;
    let unknown = false;
    for (let ix = 0, xs = known.constraints; ix < xs.length; ix++) {
      const c = xs[ix]!;
      if (c.type !== 'c' || !c.validated) continue;
      if (c.definition === undefined) unknown = true;
      else if (!/IS NOT NULL\)+$/i.test(c.definition)) return true;
    }
    // A validated CHECK whose definition was not read may be the one: the caller reads it and asks again.
    if (unknown) this.#onIncomplete?.(known);
    return false;
  }

  /** True when a validated `CHECK (column IS NOT NULL)` exists in the catalog or was validated in this run. */
  hasValidatedNotNullCheck(table: string, column: string): boolean {
    if (this.#validatedNotNull.has(`${table}/${column}`)) return true;
    const checks = this.#catalogChecks(table);
    if (checks === undefined) return false;
    if (checks.columns.has(column)) return true;
    if (checks.unknown) this.#onIncomplete?.(this.catalog!.tables.get(table)!);
    return false;
  }

  /**
   * The columns of `table`'s validated `CHECK (col IS NOT NULL)` in the catalog, and whether a validated CHECK of
   * it had no definition read; undefined when the table is not in the catalog (or the grammar is not loaded).
   */
  #catalogChecks(table: string): { readonly columns: Set<string>; readonly unknown: boolean } | undefined {
    const cached = this.#catalogNotNullChecks.get(table);
    if (cached !== undefined) return cached;
    const known = this.catalog?.tables.get(table);
    if (known === undefined || !isParserLoaded()) return undefined;
    const columns = new Set<string>();
    let unknown = false;
    for (let ix = 0, xs = known.constraints; ix < xs.length; ix++) {
      const constraint = xs[ix]!;
      if (constraint.type !== 'c' || !constraint.validated) continue;
      if (constraint.definition === undefined) {
        unknown = true;
        continue;
      }
      // Read the definition with the grammar too: `CHECK ((email IS NOT NULL))`.
      try {
        const tree = parseSync(`alter table t add ${constraint.definition}`);
        const def = tree.stmts[0]?.stmt?.AlterTableStmt?.cmds?.[0]?.AlterTableCmd?.def?.Constraint;
        const column = notNullCheckColumn(def?.raw_expr);
        if (column !== undefined) columns.add(column);
      } catch {
        // A definition the grammar cannot read back is not a NOT NULL check we can rely on.
      }
    }
    const found = { columns, unknown };
    this.#catalogNotNullChecks.set(table, found);
    return found;
  }

  /** Records what a statement creates, renames, drops or changes. `transaction` identifies its transaction. */
  apply(kind: string, node: PgNode, transaction: number): void {
    switch (kind) {
      case 'CreateStmt': {
        const relation = rangeVar(node.relation);
        if (relation === undefined) return;
        const table = relationKey(relation);
        this.#created(table);
        this.newTables.add(table);
        for (let ix = 0, xs = node.tableElts ?? []; ix < xs.length; ix++) {
          const element = xs[ix]!;
          if (element.ColumnDef !== undefined) {
            this.#addColumn(table, element.ColumnDef);
            for (let jx = 0, ys = columnConstraints(element.ColumnDef); jx < ys.length; jx++) {
              const constraint = ys[jx]!;
              this.#addConstraint(table, relation, constraint, [element.ColumnDef.colname]);
            }
          } else if (element.Constraint !== undefined) {
            this.#addConstraint(table, relation, element.Constraint, stringList(element.Constraint.keys));
          }
        }
        return;
      }
      case 'CreateTableAsStmt': {
        const relation = rangeVar(node.into?.rel);
        if (relation === undefined) return;
        this.#created(relationKey(relation));
        this.newTables.add(relationKey(relation));
        return;
      }
      case 'ViewStmt':
      case 'CreateSeqStmt': {
        const relation = rangeVar(kind === 'ViewStmt' ? node.view : node.sequence);
        if (relation !== undefined) this.#created(relationKey(relation));
        return;
      }
      case 'IndexStmt': {
        const relation = rangeVar(node.relation);
        if (relation !== undefined && typeof node.idxname === 'string') {
          const index = relationKey({ schema: relation.schema, name: node.idxname });
          this.#created(index);
          this.#indexTables.set(index, relationKey(relation));
        }
        return;
      }
      case 'AlterTableStmt':
        this.#alterTable(node, transaction);
        return;
      case 'RenameStmt':
        this.#rename(node);
        return;
      case 'AlterObjectSchemaStmt': {
        const relation = rangeVar(node.relation);
        if (relation !== undefined && typeof node.newschema === 'string') {
          this.#moveRelation(relationKey(relation), `${node.newschema}.${relation.name}`);
        }
        return;
      }
      case 'DropStmt':
        this.#drop(node);
        return;
      case 'CreateSchemaStmt':
        if (typeof node.schemaname === 'string') this.#schemas.set(node.schemaname, true);
        return;
      case 'CreateEnumStmt':
      case 'CompositeTypeStmt':
      case 'CreateDomainStmt':
      case 'CreateRangeStmt': {
        const names =
          kind === 'CompositeTypeStmt'
            ? [node.typevar?.schemaname, node.typevar?.relname].filter(Boolean)
            : stringList(kind === 'CreateDomainStmt' ? node.domainname : node.typeName);
        const name = qualifiedNameOf(names);
        if (name !== undefined)
          this.#types.set(
            this.resolve(name, () => undefined),
            true,
          );
        return;
      }
      case 'VariableSetStmt':
        this.#setSearchPath(node);
        return;
      default:
        return;
    }
  }

  /** A SET (or RESET) of search_path changes it until the file ends. */
  #setSearchPath(node: PgNode): void {
    if (node.name === 'search_path') {
      if (node.kind === 'VAR_SET_VALUE') {
        const path = (node.args ?? [])
          .map((a: PgNode) => a?.A_Const?.sval?.sval ?? a?.ColumnRef?.fields?.[0]?.String?.sval)
          .filter((v: unknown): v is string => typeof v === 'string')
          .flatMap((v: string) => v.split(',').map((p) => p.trim().replace(/^"(.*)"$/, '$1')))
          .filter((v: string) => v !== '' && v !== '$user');
        this.#searchPath = path.length > 0 ? path : this.#basePath;
      } else if (node.kind === 'VAR_SET_DEFAULT' || node.kind === 'VAR_RESET') {
        this.#searchPath = this.#basePath;
      }
    } else if (node.kind === 'VAR_RESET_ALL') {
      this.#searchPath = this.#basePath;
    }
  }

  #alterTable(node: PgNode, transaction: number): void {
    const relation = rangeVar(node.relation);
    if (relation === undefined) return;
    const table = relationKey(relation);
    for (let ix = 0, xs = node.cmds ?? []; ix < xs.length; ix++) {
      const item = xs[ix]!;
      const cmd = item.AlterTableCmd;
      if (cmd === undefined) continue;
      if (cmd.subtype === 'AT_AddColumn' && cmd.def?.ColumnDef !== undefined) {
        this.#addColumn(table, cmd.def.ColumnDef);
        for (let jx = 0, ys = columnConstraints(cmd.def.ColumnDef); jx < ys.length; jx++) {
          const constraint = ys[jx]!;
          this.#addConstraint(table, relation, constraint, [cmd.def.ColumnDef.colname]);
        }
      } else if (cmd.subtype === 'AT_DropColumn' && typeof cmd.name === 'string') {
        this.#columnState.set(`${table}/${cmd.name}`, false);
        this.#columns.get(table)?.delete(cmd.name);
      } else if (cmd.subtype === 'AT_AlterColumnType' && typeof cmd.name === 'string') {
        const type = typeInfo(cmd.def?.ColumnDef?.typeName);
        if (type !== undefined) this.#setColumn(table, cmd.name, type);
      } else if (cmd.subtype === 'AT_AddConstraint' && cmd.def?.Constraint !== undefined) {
        const constraint = cmd.def.Constraint;
        this.#addConstraint(table, relation, constraint, stringList(constraint.keys));
        const notNullColumn =
          constraint.contype === 'CONSTR_CHECK' ? notNullCheckColumn(constraint.raw_expr) : undefined;
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
        } else if (constraint.contype === 'CONSTR_CHECK') {
          this.#validatedChecks.add(table);
        }
      } else if (cmd.subtype === 'AT_ValidateConstraint' && typeof cmd.name === 'string') {
        const pending = this.notValid.get(`${table}/${cmd.name}`);
        if (pending?.notNullColumn !== undefined) this.#validatedNotNull.add(`${table}/${pending.notNullColumn}`);
        else if (pending?.kind === 'check') this.#validatedChecks.add(table);
        this.notValid.delete(`${table}/${cmd.name}`);
      } else if (cmd.subtype === 'AT_DropConstraint' && typeof cmd.name === 'string') {
        this.#constraints.set(`${table}/${cmd.name}`, false);
        this.notValid.delete(`${table}/${cmd.name}`);
        // A primary key or unique constraint takes its index with it.
        const index = `${schemaOf(table)}.${cmd.name}`;
        if (this.indexTable(index) === table) this.#dropped(index);
      }
    }
  }

  /** A constraint and, for PRIMARY KEY and UNIQUE, the index PostgreSQL creates under its name. */
  #addConstraint(table: string, relation: RelationName, constraint: PgNode, columns: readonly unknown[]): void {
    const contype = constraint.contype;
    const cols = columns.filter((c): c is string => typeof c === 'string');
    let name: string | undefined = typeof constraint.conname === 'string' ? constraint.conname : undefined;
    if (contype === 'CONSTR_PRIMARY') name ??= `${relation.name}_pkey`;
    else if (contype === 'CONSTR_UNIQUE') name ??= `${relation.name}_${cols.join('_')}_key`;
    else if (contype === 'CONSTR_EXCLUSION') name ??= undefined;
    if (name === undefined) return;
    this.#constraints.set(`${table}/${name}`, true);
    if (contype === 'CONSTR_PRIMARY' || contype === 'CONSTR_UNIQUE' || contype === 'CONSTR_EXCLUSION') {
      const index = `${schemaOf(table)}.${name}`;
      this.#created(index);
      this.#indexTables.set(index, table);
    }
  }

  #rename(node: PgNode): void {
    const relation = rangeVar(node.relation);
    const newname = typeof node.newname === 'string' ? node.newname : undefined;
    if (newname === undefined) return;
    switch (node.renameType) {
      case 'OBJECT_TABLE':
      case 'OBJECT_INDEX':
      case 'OBJECT_SEQUENCE':
      case 'OBJECT_VIEW':
      case 'OBJECT_MATVIEW':
      case 'OBJECT_FOREIGN_TABLE':
        if (relation !== undefined)
          this.#moveRelation(relationKey(relation), relationKey({ schema: relation.schema, name: newname }));
        return;
      case 'OBJECT_COLUMN': {
        if (relation === undefined || typeof node.subname !== 'string') return;
        const table = relationKey(relation);
        const type = this.columnType(table, node.subname);
        this.#columnState.set(`${table}/${node.subname}`, false);
        this.#columns.get(table)?.delete(node.subname);
        this.#columnState.set(`${table}/${newname}`, true);
        if (type !== undefined) this.#setColumn(table, newname, type);
        return;
      }
      case 'OBJECT_TABCONSTRAINT': {
        if (relation === undefined || typeof node.subname !== 'string') return;
        const table = relationKey(relation);
        this.#constraints.set(`${table}/${node.subname}`, false);
        this.#constraints.set(`${table}/${newname}`, true);
        const index = `${schemaOf(table)}.${node.subname}`;
        if (this.indexTable(index) === table) this.#moveRelation(index, `${schemaOf(table)}.${newname}`);
        return;
      }
      case 'OBJECT_SCHEMA':
        if (typeof node.subname === 'string') {
          this.#schemas.set(node.subname, false);
          this.#emptiedSchemas.add(node.subname);
          this.#schemas.set(newname, true);
        }
        return;
      case 'OBJECT_TYPE':
      case 'OBJECT_DOMAIN': {
        const name = qualifiedName(node.object?.List?.items ?? []);
        if (name === undefined) return;
        const from = this.resolve(name, (k) => this.typeExists(k));
        this.#types.set(from, false);
        this.#types.set(`${schemaOf(from)}.${newname}`, true);
        return;
      }
      default:
        return;
    }
  }

  /** A relation renamed or moved: what the run knows of it follows it. */
  #moveRelation(from: string, to: string): void {
    if (from === to) return;
    const wasNew = this.newTables.has(from);
    const table = this.indexTable(from);
    const columns = this.#columns.get(from);
    this.#dropped(from, false);
    this.#created(to);
    if (wasNew) this.newTables.add(to);
    if (table !== undefined) this.#indexTables.set(to, table);
    if (columns !== undefined) this.#columns.set(to, columns);
    // Indexes of a renamed table now belong to the new name.
    for (const [index, owner] of this.#indexTables) if (owner === from) this.#indexTables.set(index, to);
    for (const [index, owner] of this.catalog?.indexTables ?? []) {
      if (owner === from && !this.#indexTables.has(index) && this.#relations.get(index) !== false)
        this.#indexTables.set(index, to);
    }
  }

  #drop(node: PgNode): void {
    if (RELATION_KINDS.has(node.removeType)) {
      for (const name of dropNames(node)) this.#dropped(relationKey(name));
    } else if (TYPE_KINDS.has(node.removeType)) {
      for (let ix = 0, xs = node.objects ?? []; ix < xs.length; ix++) {
        const object = xs[ix]!;
        const name = qualifiedName(object?.TypeName?.names ?? []);
        if (name !== undefined)
          this.#types.set(
            this.resolve(name, (k) => this.typeExists(k)),
            false,
          );
      }
    } else if (node.removeType === 'OBJECT_SCHEMA') {
      for (let ix = 0, xs = node.objects ?? []; ix < xs.length; ix++) {
        const object = xs[ix]!;
        const name = object?.String?.sval;
        if (typeof name !== 'string') continue;
        this.#schemas.set(name, false);
        this.#emptiedSchemas.add(name);
        for (const key of [...this.#relations.keys()]) if (schemaOf(key) === name) this.#relations.set(key, false);
        for (const key of [...this.newTables]) if (schemaOf(key) === name) this.newTables.delete(key);
      }
    }
  }

  #created(key: string): void {
    this.#relations.set(key, true);
  }

  /** A relation gone; `withIndexes`: a dropped table takes its indexes along. */
  #dropped(key: string, withIndexes = true): void {
    this.#relations.set(key, false);
    this.newTables.delete(key);
    this.#columns.delete(key);
    this.#indexTables.delete(key);
    if (!withIndexes) return;
    for (const [index, owner] of this.#indexTables) {
      if (owner === key) {
        this.#indexTables.delete(index);
        this.#relations.set(index, false);
      }
    }
  }

  #addColumn(table: string, columnDef: PgNode): void {
    const type = typeInfo(columnDef.typeName);
    if (typeof columnDef.colname === 'string') this.#columnState.set(`${table}/${columnDef.colname}`, true);
    if (type !== undefined && typeof columnDef.colname === 'string') this.#setColumn(table, columnDef.colname, type);
    for (let ix = 0, xs = columnConstraints(columnDef); ix < xs.length; ix++) {
      const constraint = xs[ix]!;
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

function schemaOf(key: string): string {
  const dot = key.indexOf('.');
  return dot === -1 ? 'public' : key.slice(0, dot);
}

function qualifiedNameOf(parts: readonly string[]): RelationName | undefined {
  const name = parts[parts.length - 1];
  if (name === undefined) return undefined;
  return { schema: parts.length > 1 ? parts[parts.length - 2] : undefined, name };
}

/**
 * Fills `schemaname` of every unqualified RangeVar under `node` (they are plain objects with a `relname`,
 * not wrapped nodes, so `walk` does not see them). Temporary relations are left alone.
 */
function qualifyRangeVars(node: PgNode, view: SchemaView): void {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const item of node) qualifyRangeVars(item, view);
    return;
  }
  if (typeof node.relname === 'string' && 'relpersistence' in node) {
    if (node.schemaname === undefined && node.relpersistence !== 't') {
      node.schemaname = schemaOf(view.resolve({ schema: undefined, name: node.relname }));
    }
    return;
  }
  for (const key in node) {
    const value = node[key];
    if (value !== null && typeof value === 'object') qualifyRangeVars(value, view);
  }
}

/** The objects of a DropStmt as relation names. */
export function dropNames(node: PgNode): RelationName[] {
  const out: RelationName[] = [];
  for (let ix = 0, xs = node.objects ?? []; ix < xs.length; ix++) {
    const object = xs[ix]!;
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
