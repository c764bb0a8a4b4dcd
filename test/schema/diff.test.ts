/** The snapshot comparison on its own: pure, no database. */
import { describe, expect, it } from 'vitest';
import {
  describeChange,
  describeColumnOrder,
  diffSnapshots,
  firstDifference,
  isEmptyDiff,
} from '../../src/schema/diff.js';
import {
  normaliseVolatileLiterals,
  objectKey,
  type ObjectKind,
  type PropValue,
  type SchemaObject,
  type SchemaSnapshot,
} from '../../src/schema/snapshot.js';

function obj(kind: ObjectKind, name: string, props: Record<string, PropValue> = {}, parent?: string): SchemaObject {
  return parent === undefined ? { kind, name, props } : { kind, name, parent, props };
}

function snap(objects: SchemaObject[], columnOrder: Record<string, string[]> = {}): SchemaSnapshot {
  return { objects: Object.fromEntries(objects.map((o) => [objectKey(o.kind, o.name), o])), columnOrder };
}

const users = obj('table', 'public.users');
const id = obj('column', 'public.users.id', { type: 'bigint', 'not null': true }, 'table:public.users');
const email = obj('column', 'public.users.email', { type: 'text', 'not null': false }, 'table:public.users');

describe('diffSnapshots', () => {
  it('finds nothing between equal snapshots', () => {
    const diff = diffSnapshots(snap([users, id, email]), snap([users, id, email]));
    expect(isEmptyDiff(diff)).toBe(true);
    expect(diff.columnOrder).toEqual([]);
  });

  it('names an object left behind as added and a lost one as missing', () => {
    const index = obj('index', 'public.users_email_idx', { definition: 'USING btree (email)' }, 'table:public.users');
    const fn = obj('function', 'public.f()', { definition: 'select 1' });
    const diff = diffSnapshots(snap([users, id, email, fn]), snap([users, id, email, index]));
    expect(diff.changes).toEqual([
      { change: 'missing', kind: 'function', name: 'public.f()' },
      { change: 'added', kind: 'index', name: 'public.users_email_idx' },
    ]);
    expect(diff.changes.map(describeChange)).toEqual([
      'missing function public.f()',
      'added index public.users_email_idx',
    ]);
  });

  it('reports a missing table once, not with each of its columns', () => {
    const diff = diffSnapshots(snap([users, id, email]), snap([]));
    expect(diff.changes).toEqual([{ change: 'missing', kind: 'table', name: 'public.users' }]);
  });

  it('lists each changed property of a column with its value before and after', () => {
    const changed = obj(
      'column',
      'public.users.email',
      { type: 'character varying(20)', 'not null': true, default: "''::text" },
      'table:public.users',
    );
    const diff = diffSnapshots(snap([users, email]), snap([users, changed]));
    expect(diff.changes).toHaveLength(1);
    expect(describeChange(diff.changes[0]!)).toBe(
      "changed column public.users.email: type text -> character varying(20); not null no -> yes; default (none) -> ''::text",
    );
  });

  it('treats enum values in another order as a change', () => {
    const before = obj('enum', 'public.mood', { values: "'happy', 'sad'" });
    const after = obj('enum', 'public.mood', { values: "'sad', 'happy'" });
    const diff = diffSnapshots(snap([before]), snap([after]));
    expect(diff.changes.map(describeChange)).toEqual([
      "changed enum public.mood: values 'happy', 'sad' -> 'sad', 'happy'",
    ]);
  });

  it('reports column order apart, as a warning, over the columns both sides have', () => {
    const note = obj('column', 'public.users.note', { type: 'text' }, 'table:public.users');
    const diff = diffSnapshots(
      snap([users, id, email, note], { 'table:public.users': ['id', 'email', 'note'] }),
      snap([users, id, email], { 'table:public.users': ['email', 'id'] }),
    );
    expect(diff.changes).toEqual([{ change: 'missing', kind: 'column', name: 'public.users.note' }]);
    expect(diff.columnOrder.map(describeColumnOrder)).toEqual([
      'column order of table public.users: (id, email) -> (email, id)',
    ]);
  });

  it('says where a long definition differs instead of printing both', () => {
    const body = (n: number) => `CREATE OR REPLACE FUNCTION public.f()\n RETURNS integer\nAS $$ select ${n} $$`;
    const diff = diffSnapshots(
      snap([obj('function', 'public.f()', { definition: body(1) })]),
      snap([obj('function', 'public.f()', { definition: body(2) })]),
    );
    expect(describeChange(diff.changes[0]!)).toBe(
      'changed function public.f(): definition differs (line 3: "AS $$ select 1 $$" -> "AS $$ select 2 $$")',
    );
  });
});

describe('firstDifference', () => {
  it('names the end of the shorter text', () => {
    expect(firstDifference('a\nb', 'a')).toBe('line 2: "b" -> (end)');
  });
});

describe('normaliseVolatileLiterals', () => {
  it("replaces the value 'now' was folded into, with and without a time zone", () => {
    const view =
      "SELECT t.id FROM t WHERE t.at > '2026-11-30 04:38:24.123456'::timestamp without time zone AND t.z < '2026-11-30 04:38:24.5+00'::timestamp with time zone";
    expect(normaliseVolatileLiterals(view)).toBe(
      "SELECT t.id FROM t WHERE t.at > '<volatile>'::timestamp without time zone AND t.z < '<volatile>'::timestamp with time zone",
    );
  });

  it('keeps a hand-written literal without fractional seconds', () => {
    const view = "SELECT 1 WHERE now() > '2024-01-01 00:00:00'::timestamp without time zone";
    expect(normaliseVolatileLiterals(view)).toBe(view);
  });
});
