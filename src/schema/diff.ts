/**
 * Comparing two schema snapshots (pure: no I/O). `expected` is the reference (the schema before a migration,
 * or the schema file), `actual` what is there now. The result names each object that is added (in actual
 * only), missing (in expected only) or changed (with each property before and after), and, separately, the
 * tables whose column order differs: a column dropped and re-added moves to the end, a real difference that is
 * harmless for most applications, so it is a warning and not a failure.
 */
import type { ObjectKind, PropValue, SchemaObject, SchemaSnapshot } from './snapshot.js';

export interface PropertyChange {
  readonly property: string;
  readonly before: PropValue;
  readonly after: PropValue;
}

export interface SchemaChange {
  readonly change: 'added' | 'missing' | 'changed';
  readonly kind: ObjectKind;
  readonly name: string;
  /** For `changed`: each property that differs. */
  readonly properties?: readonly PropertyChange[] | undefined;
}

export interface ColumnOrderWarning {
  readonly kind: ObjectKind;
  readonly name: string;
  readonly before: readonly string[];
  readonly after: readonly string[];
}

export interface SchemaDiff {
  readonly changes: readonly SchemaChange[];
  readonly columnOrder: readonly ColumnOrderWarning[];
}

export function isEmptyDiff(diff: SchemaDiff): boolean {
  return diff.changes.length === 0;
}

function sameProps(a: SchemaObject, b: SchemaObject): PropertyChange[] {
  const names = [...new Set([...Object.keys(a.props), ...Object.keys(b.props)])];
  const out: PropertyChange[] = [];
  for (const property of names) {
    const before = a.props[property] ?? null;
    const after = b.props[property] ?? null;
    if (before !== after) out.push({ property, before, after });
  }
  return out;
}

/**
 * Every difference from `expected` to `actual`, sorted by kind then name. An object whose parent is itself
 * added or missing is left out (a missing table is reported once, not with each of its columns).
 */
export function diffSnapshots(expected: SchemaSnapshot, actual: SchemaSnapshot): SchemaDiff {
  const changes: SchemaChange[] = [];
  const missing = new Set<string>();
  const added = new Set<string>();
  for (const key of Object.keys(expected.objects)) if (!(key in actual.objects)) missing.add(key);
  for (const key of Object.keys(actual.objects)) if (!(key in expected.objects)) added.add(key);
  for (const key of missing) {
    const o = expected.objects[key]!;
    if (o.parent !== undefined && missing.has(o.parent)) continue;
    changes.push({ change: 'missing', kind: o.kind, name: o.name });
  }
  for (const key of added) {
    const o = actual.objects[key]!;
    if (o.parent !== undefined && added.has(o.parent)) continue;
    changes.push({ change: 'added', kind: o.kind, name: o.name });
  }
  for (const [key, before] of Object.entries(expected.objects)) {
    const after = actual.objects[key];
    if (after === undefined) continue;
    const properties = sameProps(before, after);
    if (properties.length > 0) changes.push({ change: 'changed', kind: before.kind, name: before.name, properties });
  }
  changes.sort((a, b) =>
    a.kind === b.kind ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.kind < b.kind ? -1 : 1,
  );

  const columnOrder: ColumnOrderWarning[] = [];
  for (const [key, before] of Object.entries(expected.columnOrder)) {
    const after = actual.columnOrder[key];
    if (after === undefined) continue;
    // Only the columns both have: an added or missing column is already a change.
    const common = new Set(before.filter((c) => after.includes(c)));
    const b = before.filter((c) => common.has(c));
    const a = after.filter((c) => common.has(c));
    if (b.some((c, i) => a[i] !== c)) {
      const table = expected.objects[key];
      columnOrder.push({
        kind: table?.kind ?? 'table',
        name: table?.name ?? key.replace(/^[^:]*:/, ''),
        before: b,
        after: a,
      });
    }
  }
  return { changes, columnOrder };
}

const LONG = 60;

function show(value: PropValue): string {
  if (value === null) return '(none)';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return value;
}

/** One readable line per change: `changed column public.users.email: type text -> character varying(20)`. */
export function describeChange(change: SchemaChange): string {
  if (change.change !== 'changed') return `${change.change} ${change.kind} ${change.name}`;
  const parts = (change.properties ?? []).map((p) => {
    const before = show(p.before);
    const after = show(p.after);
    // A function body or a view definition does not fit on a line: say that it differs, and where.
    if (before.length > LONG || after.length > LONG || before.includes('\n') || after.includes('\n')) {
      return `${p.property} differs (${firstDifference(before, after)})`;
    }
    return `${p.property} ${before} -> ${after}`;
  });
  return `changed ${change.kind} ${change.name}: ${parts.join('; ')}`;
}

export function describeColumnOrder(w: ColumnOrderWarning): string {
  return `column order of ${w.kind} ${w.name}: (${w.before.join(', ')}) -> (${w.after.join(', ')})`;
}

/** The first line that differs between two long texts, as `line N: "before" -> "after"`. */
export function firstDifference(before: string, after: string): string {
  const a = before.split('\n');
  const b = after.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    if (a[i] !== b[i]) {
      const cut = (s: string | undefined) =>
        s === undefined ? '(end)' : JSON.stringify(s.trim().length > LONG ? `${s.trim().slice(0, LONG)}...` : s.trim());
      return `line ${i + 1}: ${cut(a[i])} -> ${cut(b[i])}`;
    }
  }
  return 'whitespace only';
}
