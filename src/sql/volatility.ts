/**
 * Whether a DEFAULT expression is VOLATILE. Since PostgreSQL 11, ADD COLUMN ... DEFAULT stores a
 * non-volatile default in the catalog ("fast default") instead of rewriting the table; a VOLATILE one
 * (random(), gen_random_uuid(), clock_timestamp(), nextval() of serial) still rewrites under ACCESS EXCLUSIVE.
 * now() and CURRENT_TIMESTAMP are STABLE: evaluated once, no rewrite.
 */
import type { PgNode } from './parser.js';
import { stringList, walk } from './tree.js';

/** pg_catalog and common extension functions that are VOLATILE. */
const KNOWN_VOLATILE = new Set([
  'random',
  'random_normal',
  'setseed',
  'gen_random_uuid',
  'uuidv7',
  'uuidv4',
  'uuid_generate_v1',
  'uuid_generate_v1mc',
  'uuid_generate_v4',
  'gen_random_bytes',
  'clock_timestamp',
  'timeofday',
  'nextval',
  'currval',
  'lastval',
  'setval',
  'txid_current',
  'pg_current_xact_id',
  'nanoid',
  'ulid',
]);

/** Frequent defaults that are IMMUTABLE or STABLE, so offline lint need not call them unknown. */
const KNOWN_NOT_VOLATILE = new Set([
  'now',
  'statement_timestamp',
  'transaction_timestamp',
  'current_setting',
  'lower',
  'upper',
  'length',
  'concat',
  'concat_ws',
  'md5',
  'to_jsonb',
  'to_json',
  'jsonb_build_object',
  'json_build_object',
  'jsonb_build_array',
  'json_build_array',
  'array_length',
  'make_interval',
  'make_date',
  'date_trunc',
  'to_timestamp',
  'to_date',
  'to_char',
  'replace',
  'trim',
  'btrim',
  'left',
  'right',
  'substr',
  'substring',
  'abs',
  'round',
  'floor',
  'ceil',
  'greatest',
  'least',
  'nullif',
  'coalesce',
  'timezone',
  'int4',
  'int8',
  'text',
  'numeric',
  'pg_catalog.now',
  'current_user',
  'session_user',
  'current_database',
  'current_schema',
]);

export interface VolatilityVerdict {
  /** Functions in the expression known to be VOLATILE. */
  readonly volatile: readonly string[];
  /** Functions whose volatility tidemark could not know (offline, not in its lists, not in the catalog). */
  readonly unknown: readonly string[];
}

/**
 * The VOLATILE and unknown functions an expression calls.
 * `functionVolatility` is the catalog's map (name -> 'i' | 's' | 'v') when connected.
 */
export function expressionVolatility(
  expr: PgNode,
  functionVolatility?: ReadonlyMap<string, string>,
): VolatilityVerdict {
  const volatile: string[] = [];
  const unknown: string[] = [];
  walk(expr, (type, inner) => {
    if (type !== 'FuncCall') return;
    const parts = stringList(inner.funcname);
    const name = (parts[parts.length - 1] ?? '').toLowerCase();
    const fromCatalog = functionVolatility?.get(name);
    if (fromCatalog !== undefined) {
      if (fromCatalog === 'v') volatile.push(name);
    } else if (KNOWN_VOLATILE.has(name)) {
      volatile.push(name);
    } else if (!KNOWN_NOT_VOLATILE.has(name)) {
      unknown.push(name);
    }
  });
  return { volatile, unknown };
}
