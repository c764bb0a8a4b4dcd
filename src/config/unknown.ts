/**
 * Variables that look like settings but are not read: a typo (`MIGRATION_DIR`, `LOCK_TIMOUT`) would otherwise
 * run with the default in silence. Only warnings (exit code unchanged): tidemark's names have no common prefix,
 * and the environment (and a `.env` shared with the application) holds many variables that are not ours, so an
 * unknown name there is reported only when it is a near miss of a name tidemark reads. tidemark's own settings
 * file (`.env.migrations`, or any file named `.env.migrations*`) is read by nothing else: there every key tidemark
 * does not read is reported. See docs/decisions.md, "Settings typos (session 7)".
 *
 * Cost: it runs on every start (the no-op `up` of a pod, measured to the millisecond). An environment key is
 * screened by its first two characters, then by length and the characters it holds, and only what passes all
 * three is compared (headOf, nearestName): ~0.08 ms in all on this machine's environment (39 variables), ~0.28 ms
 * with 100 more of which 9 start like a setting (DB_HOST...). The build's code cache holds these functions
 * (scripts/build.mjs warms them with a near miss).
 */

export interface SettingsWarning {
  /** The key as written. */
  readonly variable: string;
  /** `environment`, or the path of the settings file it is in. */
  readonly source: string;
  /** The name it is probably meant to be (a setting tidemark reads), if any. */
  readonly suggestion: string | undefined;
  /** One sentence: what is wrong and what to do. */
  readonly message: string;
}

/** Names people write for a setting tidemark spells otherwise; suggested, never read. */
const MISNOMERS: Readonly<Record<string, string>> = {
  LOCK_TIMEOUT: 'MAX_LOCK_WAIT',
  STATEMENT_TIMEOUT: 'DB_STATEMENT_TIMEOUT',
  MIGRATIONS_PATH: 'MIGRATIONS_DIR',
};

/** What a misnomer's setting is called in PostgreSQL or elsewhere, said beside the suggestion. */
const MEANING: Readonly<Record<string, string>> = {
  MAX_LOCK_WAIT: " (tidemark's lock_timeout: seconds, or 500ms, 2s)",
  DB_STATEMENT_TIMEOUT: ' (statement_timeout, in milliseconds)',
};

/** Settings that were removed; an old value is harmless, and the file should lose it. */
const RETIRED: Readonly<Record<string, string>> = {
  DB_POOL_SIZE:
    "was removed: tidemark's connections are fixed (one for the run, one for the lock monitor, two more during a backup)",
};

/** Read by the CLI from the process environment only, never from a settings file. */
const ENVIRONMENT_ONLY = new Set(['CI', 'NO_COLOR', 'DEBUG', 'HOME']);

/**
 * Every libpq variable (PostgreSQL 17's list). tidemark reads the few in its own list; the others are a
 * psql user's, and an exact one is never reported as a near miss of another (PGSSLCRL is not a PGSSLCERT typo).
 */
const LIBPQ_ALL = new Set([
  'PGHOST', 'PGHOSTADDR', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGPASSWORD', 'PGPASSFILE', 'PGREQUIREAUTH',
  'PGCHANNELBINDING', 'PGSERVICE', 'PGSERVICEFILE', 'PGOPTIONS', 'PGAPPNAME', 'PGSSLMODE', 'PGREQUIRESSL',
  'PGSSLNEGOTIATION', 'PGSSLCOMPRESSION', 'PGSSLCERT', 'PGSSLKEY', 'PGSSLCERTMODE', 'PGSSLROOTCERT', 'PGSSLCRL',
  'PGSSLCRLDIR', 'PGSSLSNI', 'PGREQUIREPEER', 'PGSSLMINPROTOCOLVERSION', 'PGSSLMAXPROTOCOLVERSION', 'PGGSSENCMODE',
  'PGKRBSRVNAME', 'PGGSSLIB', 'PGGSSDELEGATION', 'PGCONNECT_TIMEOUT', 'PGCLIENTENCODING', 'PGTARGETSESSIONATTRS',
  'PGLOADBALANCEHOSTS', 'PGDATESTYLE', 'PGTZ', 'PGGEQO', 'PGSYSCONFDIR', 'PGLOCALEDIR', 'PGDATA',
]); // prettier-ignore

/** The longest distance that still counts as a near miss: one edit for short names, two for longer ones. */
function limitOf(name: string): number {
  return name.length <= 8 ? 1 : 2;
}

/**
 * The optimal-string-alignment distance of two upper-case strings (insertions, deletions, substitutions and
 * swaps of neighbours), or limit + 1 as soon as it must exceed limit.
 */
function distance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let before: number[] = [];
  let previous: number[] = [];
  let row: number[] = [];
  for (let j = 0; j <= b.length; j++) previous[j] = j;
  for (let i = 1; i <= a.length; i++) {
    row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      let d = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a.charCodeAt(i - 1) === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === b.charCodeAt(j - 1))
        d = Math.min(d, before[j - 2]! + 1);
      row[j] = d;
      if (d < best) best = d;
    }
    if (best > limit) return limit + 1;
    before = previous;
    previous = row;
  }
  return previous[b.length]!;
}

/**
 * The characters a string holds, as bits: A-Z, `_`, any digit, anything else. An edit changes at most two bits
 * (a swap none), so a string within k edits of a name differs from it in at most 2k bits.
 */
function charBits(text: string): number {
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    bits |= 1 << (c >= 65 && c <= 90 ? c - 65 : c === 95 ? 26 : c >= 48 && c <= 57 ? 27 : 28);
  }
  return bits;
}

/** The number of bits set (SWAR: a constant dozen operations, where a loop would take one per bit). */
function bitCount(bits: number): number {
  let v = bits - ((bits >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** A name with its near-miss limit and its character bits. */
interface Entry {
  readonly name: string;
  readonly limit: number;
  readonly bits: number;
}

/**
 * The names by length (no sort: a comparator called a few hundred times costs more in V8's interpreter, where
 * this runs once per process, than everything else here).
 */
function nameIndex(names: ReadonlySet<string>, more: readonly string[]): Entry[][] {
  const byLength: Entry[][] = [];
  const add = (name: string) =>
    (byLength[name.length] ??= []).push({ name, limit: limitOf(name), bits: charBits(name) });
  for (const name of names) add(name);
  for (const name of more) add(name);
  return byLength;
}

/**
 * The nearest name within its limit (the first of equals), or undefined. A key is compared only with names of
 * about its length whose characters are about its own; the distance is computed for the few that remain.
 */
function nearestName(byLength: readonly (Entry[] | undefined)[], key: string): string | undefined {
  const bits = charBits(key);
  let found: string | undefined;
  let foundDistance = 3;
  for (let length = Math.max(1, key.length - 2); length <= key.length + 2; length++) {
    const entries = byLength[length];
    if (entries === undefined) continue;
    for (let i = 0; i < entries.length; i++) {
      const { name, limit } = entries[i]!;
      const gap = length - key.length;
      if (gap < -limit || gap > limit || bitCount(bits ^ entries[i]!.bits) > 2 * limit) continue;
      const d = distance(key, name, limit);
      if (d < foundDistance && d <= limit) {
        found = name;
        foundDistance = d;
      }
    }
  }
  return found;
}

export interface UnknownCheck {
  /** Every name tidemark reads from the environment and its settings file (settings, aliases, libpq's). */
  readonly known: ReadonlySet<string>;
  /** Aliases: a name and the setting it stands for (DB_URL -> DATABASE_URL). */
  readonly aliases: Readonly<Record<string, string>>;
  readonly env: NodeJS.ProcessEnv;
  /** The settings file's keys, or undefined when there is none. */
  readonly file: { readonly path: string; readonly shown: string; readonly keys: readonly string[] } | undefined;
  /** True when a setting (by its name) has a value in the environment or the file. */
  readonly isSet: (name: string) => boolean;
}

/** True for tidemark's own settings file (`.env.migrations`, `.env.migrations.production`, ...). */
export function isOwnSettingsFile(path: string): boolean {
  const base = path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
  return base.startsWith('.env.migrations');
}

/**
 * The first two characters of a name, case folded, as one number. The environment is screened with it before
 * anything else: most of its keys (PATH, HOSTNAME, NODE_OPTIONS, KUBERNETES_SERVICE_HOST) share no first two
 * characters with a name tidemark reads, and then cost two charCodeAt and a set lookup, and none of the code
 * below runs (run once, it would cost more than all the comparisons: V8's first call of each site). The price:
 * a typo in the first two characters of an environment variable is not caught.
 */
function headOf(text: string): number {
  return ((text.charCodeAt(0) | 32) << 8) | (text.charCodeAt(1) | 32);
}

/** The warnings of one start: unknown keys of tidemark's own file, near misses elsewhere. */
export function unknownVariables(check: UnknownCheck): SettingsWarning[] {
  let index: Entry[][] | undefined;
  const nearest = (key: string): string | undefined => {
    const upper = key.toUpperCase();
    if (upper !== key && check.known.has(upper)) return upper;
    index ??= nameIndex(check.known, Object.keys(MISNOMERS));
    return nearestName(index, upper);
  };
  const warnings = check.file === undefined ? [] : fileWarnings(check, check.file, nearest);

  const heads = new Set<number>();
  for (const name of check.known) heads.add(headOf(name));
  for (const name of Object.keys(MISNOMERS)) heads.add(headOf(name));
  for (const key of Object.keys(check.env)) {
    if (!heads.has(headOf(key)) || key.length < 5 || key.length > 25) continue;
    // Exact names are someone's: tidemark's own, libpq's, or (in the file) already reported.
    if (check.known.has(key) || LIBPQ_ALL.has(key) || MISNOMERS[key] !== undefined || check.file?.keys.includes(key))
      continue;
    const near = nearest(key);
    if (near === undefined) continue;
    // A near miss of a setting that is set is another program's variable (an app's DB_URI beside DATABASE_URL).
    const target = MISNOMERS[near] ?? near;
    if (check.isSet(check.aliases[target] ?? target)) continue;
    warnings.push(notRead(key, 'environment', 'in the environment', target, near));
  }
  return warnings;
}

/** Every key of tidemark's own file that it does not read; near misses only in another file (a shared .env). */
function fileWarnings(
  check: UnknownCheck,
  file: NonNullable<UnknownCheck['file']>,
  nearest: (key: string) => string | undefined,
): SettingsWarning[] {
  const warnings: SettingsWarning[] = [];
  const own = isOwnSettingsFile(file.path);
  const where = `in ${file.shown}`;
  for (const key of file.keys) {
    if (check.known.has(key)) continue;
    const near = nearest(key);
    const target = near === undefined ? undefined : (MISNOMERS[near] ?? near);
    if (!own) {
      // As in the environment: an exact misnomer there is the application's (its own STATEMENT_TIMEOUT).
      if (target !== undefined && MISNOMERS[key] === undefined && !check.isSet(check.aliases[target] ?? target))
        warnings.push(notRead(key, file.path, where, target, near));
      continue;
    }
    const retired = RETIRED[key];
    if (retired !== undefined)
      warnings.push(warning(key, file.path, undefined, `${key} ${where} ${retired}; remove it.`));
    else if (ENVIRONMENT_ONLY.has(key))
      warnings.push(
        warning(key, file.path, undefined, `${key} ${where} is ignored: it is read from the environment only.`),
      );
    else if (target === undefined && LIBPQ_ALL.has(key))
      warnings.push(
        warning(
          key,
          file.path,
          undefined,
          `${key} ${where} is ignored: tidemark reads only some of libpq's variables (the README's Settings lists them).`,
        ),
      );
    else warnings.push(notRead(key, file.path, where, target, near));
  }
  return warnings;
}

function notRead(
  key: string,
  source: string,
  where: string,
  suggestion: string | undefined,
  near: string | undefined,
): SettingsWarning {
  const message =
    suggestion === undefined
      ? `${key} ${where} is not a tidemark setting and is ignored (.env.migrations.example lists the settings).`
      : near === key.toUpperCase()
        ? `${key} ${where} is ignored: setting names are upper case (${near}).`
        : `${key} ${where} is not a tidemark setting and is ignored: did you mean ${suggestion}${MEANING[suggestion] ?? ''}?`;
  return warning(key, source, suggestion, message);
}

function warning(variable: string, source: string, suggestion: string | undefined, message: string): SettingsWarning {
  return { variable, source, suggestion, message };
}
