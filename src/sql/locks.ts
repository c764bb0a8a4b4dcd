/**
 * The lock report: for each statement, the lock level it takes on which relations, and whether it rewrites
 * or scans the table. The levels follow PostgreSQL's documentation of each command ("Explicit Locking",
 * https://www.postgresql.org/docs/current/explicit-locking.html, and the Notes of ALTER TABLE) and are
 * checked against pg_locks of a real server in test/sql/locks.test.ts.
 */
import type { Catalog } from '../db/catalog.js';
import { parseStatementsSync, type ParsedStatement } from './split.js';
import { loadParser, MAX_PARSE_CHARS, withoutOptimizer, type PgNode } from './parser.js';
import { SchemaView, dropNames } from './schema.js';
import { columnConstraints, rangeVar, relationKey, typeInfo, type TypeInfo } from './tree.js';
import { expressionVolatility } from './volatility.js';

export const LOCK_MODES = [
  'ACCESS SHARE',
  'ROW SHARE',
  'ROW EXCLUSIVE',
  'SHARE UPDATE EXCLUSIVE',
  'SHARE',
  'SHARE ROW EXCLUSIVE',
  'EXCLUSIVE',
  'ACCESS EXCLUSIVE',
] as const;
export type LockMode = (typeof LOCK_MODES)[number];

/** pg_locks.mode spelling of a lock level (`ACCESS EXCLUSIVE` -> `AccessExclusiveLock`). */
export function pgLockName(mode: LockMode): string {
  return `${mode.toLowerCase().replace(/(^|\s)([a-z])/g, (_, _s: string, c: string) => c.toUpperCase())}Lock`;
}

export function strongerLock(a: LockMode | undefined, b: LockMode): LockMode {
  return a === undefined || LOCK_MODES.indexOf(b) > LOCK_MODES.indexOf(a) ? b : a;
}

export interface RelationLock {
  /** `schema.name` (unqualified names are reported in `public`). */
  readonly relation: string;
  readonly mode: LockMode;
  /** `table` the statement changes, `referenced` by a foreign key, `index`, `new` (created by the statement). */
  readonly role: 'table' | 'referenced' | 'index' | 'new';
  /** From the catalog, when connected: pg_class.reltuples (-1: never analysed). */
  readonly estimatedRows?: number;
  readonly sizeBytes?: number;
}

export interface StatementLocks {
  readonly line: number;
  readonly column: number;
  readonly kind: string;
  readonly locks: readonly RelationLock[];
  /** The table is rewritten (every row copied) while the lock is held. */
  readonly rewrite: boolean;
  /** The table is read in full (validation, index build) while the lock is held. */
  readonly scan: boolean;
  /** What tidemark could not know, or facts worth saying (e.g. "old column type unknown offline"). */
  readonly notes: readonly string[];
}

export interface LockFacts {
  readonly locks: RelationLock[];
  rewrite: boolean;
  scan: boolean;
  readonly notes: string[];
}

/** Lock facts of one statement, given what is known of the schema before it. */
export function statementLockFacts(kind: string, node: PgNode, schema: SchemaView, pgVersion: number): LockFacts {
  const facts: LockFacts = { locks: [], rewrite: false, scan: false, notes: [] };
  const add = (relation: string, mode: LockMode, role: RelationLock['role']): void => {
    const existing = facts.locks.findIndex((l) => l.relation === relation);
    const table = schema.table(relation);
    const stats = table === undefined ? {} : { estimatedRows: table.estimatedRows, sizeBytes: table.sizeBytes };
    if (existing === -1) {
      facts.locks.push({ relation, mode, role, ...stats });
    } else {
      const prior = facts.locks[existing]!;
      facts.locks[existing] = { ...prior, mode: strongerLock(prior.mode, mode) };
    }
  };
  const relationOf = (rv: PgNode): string | undefined => {
    const name = rangeVar(rv);
    return name === undefined ? undefined : relationKey(name);
  };

  switch (kind) {
    case 'CreateStmt': {
      const table = relationOf(node.relation);
      if (table !== undefined) add(table, 'ACCESS EXCLUSIVE', 'new');
      for (let ix = 0, xs = node.tableElts ?? []; ix < xs.length; ix++) {
        const element = xs[ix]!;
        const constraints = element.ColumnDef !== undefined ? columnConstraints(element.ColumnDef) : [];
        if (element.Constraint !== undefined) constraints.push(element.Constraint);
        for (let jx = 0; jx < constraints.length; jx++) {
          const c = constraints[jx]!;
          const referenced = c.contype === 'CONSTR_FOREIGN' ? relationOf(c.pktable) : undefined;
          if (referenced !== undefined && referenced !== table) add(referenced, 'SHARE ROW EXCLUSIVE', 'referenced');
        }
      }
      break;
    }
    case 'AlterTableStmt':
      alterTableFacts(node, schema, pgVersion, facts, add);
      break;
    case 'IndexStmt': {
      const table = relationOf(node.relation);
      if (table !== undefined) add(table, node.concurrent === true ? 'SHARE UPDATE EXCLUSIVE' : 'SHARE', 'table');
      facts.scan = table === undefined || !schema.isNew(table);
      break;
    }
    case 'DropStmt': {
      const names = dropNames(node);
      if (
        node.removeType === 'OBJECT_TABLE' ||
        node.removeType === 'OBJECT_MATVIEW' ||
        node.removeType === 'OBJECT_VIEW'
      ) {
        for (const name of names) add(relationKey(name), 'ACCESS EXCLUSIVE', 'table');
      } else if (node.removeType === 'OBJECT_INDEX') {
        const mode: LockMode = node.concurrent === true ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE';
        for (let ix = 0; ix < names.length; ix++) {
          const name = names[ix]!;
          const index = relationKey(name);
          const table = schema.indexTable(index);
          if (table !== undefined) add(table, mode, 'table');
          else facts.notes.push(`the table of index ${index} is not known offline`);
          add(index, 'ACCESS EXCLUSIVE', 'index');
        }
      }
      break;
    }
    case 'ReindexStmt': {
      const concurrent = (node.params ?? []).some((p: PgNode) => p?.DefElem?.defname === 'concurrently');
      const name = rangeVar(node.relation);
      if (name === undefined) {
        facts.notes.push('REINDEX of a whole schema or database: every table in it is locked in turn');
        break;
      }
      const key = relationKey(name);
      if (node.kind === 'REINDEX_OBJECT_INDEX') {
        const table = schema.indexTable(key);
        if (table !== undefined) add(table, concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'SHARE', 'table');
        add(key, concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE', 'index');
      } else {
        add(key, concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'SHARE', 'table');
      }
      facts.scan = true;
      break;
    }
    case 'TruncateStmt':
      for (let ix = 0, xs = node.relations ?? []; ix < xs.length; ix++) {
        const rel = xs[ix]!;
        const table = relationOf(rel.RangeVar);
        if (table !== undefined) add(table, 'ACCESS EXCLUSIVE', 'table');
      }
      break;
    case 'RenameStmt': {
      const table = relationOf(node.relation);
      const mode: LockMode =
        node.renameType === 'OBJECT_INDEX' && pgVersion >= 120000 ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE';
      if (table !== undefined) add(table, mode, node.renameType === 'OBJECT_INDEX' ? 'index' : 'table');
      break;
    }
    case 'UpdateStmt':
    case 'DeleteStmt':
    case 'InsertStmt':
    case 'MergeStmt': {
      const table = relationOf(node.relation);
      if (table !== undefined) add(table, 'ROW EXCLUSIVE', 'table');
      facts.scan = kind !== 'InsertStmt' && node.whereClause === undefined;
      break;
    }
    case 'VacuumStmt': {
      const full = (node.options ?? []).some((o: PgNode) => o?.DefElem?.defname === 'full');
      for (let ix = 0, xs = node.rels ?? []; ix < xs.length; ix++) {
        const rel = xs[ix]!;
        const table = relationOf(rel.VacuumRelation?.relation);
        if (table !== undefined) add(table, full ? 'ACCESS EXCLUSIVE' : 'SHARE UPDATE EXCLUSIVE', 'table');
      }
      facts.rewrite = full;
      facts.scan = true;
      break;
    }
    case 'ClusterStmt': {
      const table = relationOf(node.relation);
      if (table !== undefined) add(table, 'ACCESS EXCLUSIVE', 'table');
      facts.rewrite = true;
      break;
    }
    case 'RefreshMatViewStmt': {
      const table = relationOf(node.relation);
      if (table !== undefined) add(table, node.concurrent === true ? 'EXCLUSIVE' : 'ACCESS EXCLUSIVE', 'table');
      facts.rewrite = true;
      break;
    }
    case 'CreateTrigStmt': {
      const table = relationOf(node.relation);
      if (table !== undefined) add(table, 'SHARE ROW EXCLUSIVE', 'table');
      break;
    }
    case 'LockStmt': {
      const mode = LOCK_MODES[Math.max(0, Number(node.mode ?? 8) - 1)] ?? 'ACCESS EXCLUSIVE';
      for (let ix = 0, xs = node.relations ?? []; ix < xs.length; ix++) {
        const rel = xs[ix]!;
        const table = relationOf(rel.RangeVar);
        if (table !== undefined) add(table, mode, 'table');
      }
      break;
    }
    case 'DoStmt':
      facts.notes.push('a DO block: only the statements tidemark could read in its body are reported');
      break;
    default:
      break;
  }
  return facts;
}

function alterTableFacts(
  node: PgNode,
  schema: SchemaView,
  pgVersion: number,
  facts: LockFacts,
  add: (relation: string, mode: LockMode, role: RelationLock['role']) => void,
): void {
  const name = rangeVar(node.relation);
  if (name === undefined) return;
  const table = relationKey(name);
  const isNew = schema.isNew(table);
  let mode: LockMode | undefined;
  for (let ix = 0, xs = node.cmds ?? []; ix < xs.length; ix++) {
    const item = xs[ix]!;
    const cmd = item.AlterTableCmd;
    if (cmd === undefined) continue;
    const effect = alterCommandEffect(cmd, table, schema, pgVersion);
    mode = strongerLock(mode, effect.mode);
    if (!isNew) {
      facts.rewrite ||= effect.rewrite;
      facts.scan ||= effect.scan;
    }
    facts.notes.push(...effect.notes);
    if (effect.referenced !== undefined && effect.referenced !== table) {
      add(effect.referenced, 'SHARE ROW EXCLUSIVE', 'referenced');
    }
  }
  add(table, mode ?? 'ACCESS EXCLUSIVE', isNew ? 'new' : 'table');
}

export interface AlterCommandEffect {
  readonly mode: LockMode;
  readonly rewrite: boolean;
  readonly scan: boolean;
  readonly referenced: string | undefined;
  readonly notes: string[];
}

/** One ALTER TABLE sub-command: the lock it needs on the table, and whether it rewrites or scans. */
export function alterCommandEffect(
  cmd: PgNode,
  table: string,
  schema: SchemaView,
  pgVersion: number,
): AlterCommandEffect {
  const notes: string[] = [];
  const done = (mode: LockMode, rewrite = false, scan = false, referenced?: string): AlterCommandEffect => ({
    mode,
    rewrite,
    scan,
    referenced,
    notes,
  });
  switch (cmd.subtype) {
    case 'AT_AddColumn': {
      const def = cmd.def?.ColumnDef;
      const rewrite = addColumnRewrites(def, schema, pgVersion, notes);
      const constraints = columnConstraints(def);
      const fk = constraints.find((c) => c.contype === 'CONSTR_FOREIGN');
      const referenced = fk === undefined ? undefined : relationKeyOf(fk.pktable);
      const unique = constraints.some((c) => c.contype === 'CONSTR_UNIQUE' || c.contype === 'CONSTR_PRIMARY');
      return done('ACCESS EXCLUSIVE', rewrite, unique || fk !== undefined, referenced);
    }
    case 'AT_AlterColumnType': {
      const rewrite = alterTypeRewrites(cmd, table, schema, notes);
      return done('ACCESS EXCLUSIVE', rewrite !== false, false);
    }
    case 'AT_SetNotNull': {
      const column = String(cmd.name ?? '');
      const usesCheck = pgVersion >= 120000 && schema.hasValidatedNotNullCheck(table, column);
      return done('ACCESS EXCLUSIVE', false, !usesCheck);
    }
    case 'AT_AddConstraint': {
      const c = cmd.def?.Constraint ?? {};
      const validates = c.skip_validation !== true;
      switch (c.contype) {
        case 'CONSTR_FOREIGN':
          return done('SHARE ROW EXCLUSIVE', false, validates, relationKeyOf(c.pktable));
        case 'CONSTR_CHECK':
          return done('ACCESS EXCLUSIVE', false, validates);
        case 'CONSTR_UNIQUE':
        case 'CONSTR_PRIMARY':
          // USING INDEX attaches an index built earlier (CONCURRENTLY): no build, no scan.
          return done('ACCESS EXCLUSIVE', false, typeof c.indexname !== 'string');
        case 'CONSTR_EXCLUSION':
          return done('ACCESS EXCLUSIVE', false, true);
        default:
          return done('ACCESS EXCLUSIVE');
      }
    }
    case 'AT_ValidateConstraint':
      return done('SHARE UPDATE EXCLUSIVE', false, true);
    case 'AT_SetStatistics':
    case 'AT_SetOptions':
    case 'AT_ResetOptions':
    case 'AT_ClusterOn':
    case 'AT_DropCluster':
    case 'AT_SetRelOptions':
    case 'AT_ResetRelOptions':
      return done('SHARE UPDATE EXCLUSIVE');
    case 'AT_AttachPartition':
      return done(pgVersion >= 120000 ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE', false, true);
    case 'AT_DetachPartition':
      return done(cmd.def?.PartitionCmd?.concurrent === true ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE');
    case 'AT_EnableTrig':
    case 'AT_DisableTrig':
    case 'AT_EnableAlwaysTrig':
    case 'AT_EnableReplicaTrig':
    case 'AT_EnableTrigAll':
    case 'AT_DisableTrigAll':
    case 'AT_EnableTrigUser':
    case 'AT_DisableTrigUser':
      return done('SHARE ROW EXCLUSIVE');
    case 'AT_SetLogged':
    case 'AT_SetUnLogged':
    case 'AT_SetAccessMethod':
      return done('ACCESS EXCLUSIVE', true);
    case 'AT_AddIdentity':
      return done('ACCESS EXCLUSIVE');
    default:
      return done('ACCESS EXCLUSIVE');
  }
}

function relationKeyOf(rv: PgNode): string | undefined {
  const name = rangeVar(rv);
  return name === undefined ? undefined : relationKey(name);
}

/**
 * Whether ADD COLUMN rewrites the table. Before 11 any non-NULL default did; since 11 only a VOLATILE
 * default, an identity column, a stored generated column, or serial (its default is nextval()).
 */
export function addColumnRewrites(def: PgNode, schema: SchemaView, pgVersion: number, notes: string[] = []): boolean {
  if (def === undefined) return false;
  const type = typeInfo(def.typeName);
  if (type !== undefined && SERIAL_TYPES.has(type.name)) return true;
  for (let ix = 0, xs = columnConstraints(def); ix < xs.length; ix++) {
    const c = xs[ix]!;
    if (c.contype === 'CONSTR_IDENTITY') return true;
    if (c.contype === 'CONSTR_GENERATED') return true;
    if (c.contype === 'CONSTR_DEFAULT') {
      if (c.raw_expr?.A_Const?.isnull === true) continue;
      if (pgVersion < 110000) return true;
      const verdict = expressionVolatility(c.raw_expr, schema.catalog?.functionVolatility);
      if (verdict.volatile.length > 0) return true;
      if (verdict.unknown.length > 0) {
        notes.push(`volatility of ${verdict.unknown.join(', ')}() not known offline: a VOLATILE default rewrites`);
      }
    }
  }
  return false;
}

export const SERIAL_TYPES = new Set(['serial', 'serial4', 'bigserial', 'serial8', 'smallserial', 'serial2']);

/**
 * Whether ALTER COLUMN TYPE rewrites: `false` when the change is binary-compatible (varchar widening,
 * varchar -> text, numeric precision increase with the same scale), `true` when it rewrites, `undefined`
 * when the old type is not known (offline, column not created in this run).
 */
export function alterTypeRewrites(
  cmd: PgNode,
  table: string,
  schema: SchemaView,
  notes: string[] = [],
): boolean | undefined {
  const column = String(cmd.name ?? '');
  const to = typeInfo(cmd.def?.ColumnDef?.typeName);
  const using = cmd.def?.ColumnDef?.raw_default;
  // USING with anything but the bare column computes new values: a rewrite.
  if (using !== undefined) {
    const fields = using.ColumnRef?.fields;
    if (!(Array.isArray(fields) && fields.length === 1 && fields[0]?.String?.sval === column)) return true;
  }
  const from = schema.columnType(table, column);
  if (to === undefined) return true;
  if (from === undefined) {
    notes.push(`the current type of ${table}.${column} is not known offline`);
    return undefined;
  }
  return typeChangeRewrites(from, to);
}

/** Type change rules of PostgreSQL's ATColumnChangeRequiresRewrite for the common cases. */
export function typeChangeRewrites(
  from: { name: string; mods: readonly number[] },
  to: TypeInfo | { name: string; mods: readonly number[] },
): boolean {
  const a = canonicalType(from.name);
  const b = canonicalType(to.name);
  if (a === b && sameMods(from.mods, to.mods)) return false;
  if (a === 'varchar' && b === 'varchar')
    return to.mods.length > 0 && (from.mods.length === 0 || to.mods[0]! < from.mods[0]!);
  if (a === 'varchar' && b === 'text') return false;
  if (a === 'text' && b === 'varchar') return to.mods.length > 0;
  if (a === 'varbit' && b === 'varbit')
    return to.mods.length > 0 && (from.mods.length === 0 || to.mods[0]! < from.mods[0]!);
  if (a === 'numeric' && b === 'numeric') {
    if (to.mods.length === 0) return false;
    if (from.mods.length === 0) return true;
    const [p1 = 0, s1 = 0] = from.mods;
    const [p2 = 0, s2 = 0] = to.mods;
    return !(s1 === s2 && p2 >= p1);
  }
  if (a === 'cidr' && b === 'inet') return false;
  return true;
}

function canonicalType(name: string): string {
  const aliases: Record<string, string> = {
    'character varying': 'varchar',
    integer: 'int4',
    int: 'int4',
    bigint: 'int8',
    smallint: 'int2',
    decimal: 'numeric',
    'bit varying': 'varbit',
  };
  return aliases[name] ?? name;
}

function sameMods(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** The lock report of parsed statements, in order, knowing what earlier statements created. */
export function lockReport(
  statements: readonly ParsedStatement[],
  options: { readonly pgVersion: number; readonly schema: SchemaView },
): StatementLocks[] {
  const out: StatementLocks[] = [];
  let transaction = 0;
  for (let ix = 0; ix < statements.length; ix++) {
    const statement = statements[ix]!;
    options.schema.qualify(statement.kind, statement.node);
    const facts = statementLockFacts(statement.kind, statement.node, options.schema, options.pgVersion);
    out.push({
      line: statement.line,
      column: statement.column,
      kind: statement.kind,
      locks: facts.locks,
      rewrite: facts.rewrite,
      scan: facts.scan,
      notes: facts.notes,
    });
    options.schema.apply(statement.kind, statement.node, transaction++);
  }
  options.schema.endFile();
  return out;
}

/** The lock report of one file. */
export interface FileLocks {
  readonly file: string;
  readonly statements: readonly StatementLocks[];
}

/**
 * Lock report of files in run order (what an earlier file creates is known to later ones). A file that does
 * not parse throws `SqlSyntaxError`; run lint first to report it as a finding instead.
 *
 * @example
 * const report = await lockReportForFiles(pending.map((m) => m.up), { pgVersion: 150000, catalog });
 * // [{ file: 'migrations/002_x.sql', statements: [{ line: 1, locks: [{ relation: 'public.users',
 * //    mode: 'ACCESS EXCLUSIVE', estimatedRows: 1200000, sizeBytes: 4.1e10 }], rewrite: true, ... }] }]
 */
export async function lockReportForFiles(
  files: readonly { readonly displayPath: string; readonly text: string }[],
  context: { readonly pgVersion: number; readonly catalog?: Catalog },
): Promise<FileLocks[]> {
  await loadParser();
  const schema = new SchemaView(context.catalog);
  // Short, one-off work, like the lint's (parser.ts withoutOptimizer).
  return withoutOptimizer(() =>
    files.map((file) => ({
      file: file.displayPath,
      // Too large to parse (the lint reports it as not checked): no statement to report rather than ~1 GB.
      statements:
        file.text.length > MAX_PARSE_CHARS
          ? []
          : lockReport(parseStatementsSync(file.text, file.displayPath), { pgVersion: context.pgVersion, schema }),
    })),
  );
}
