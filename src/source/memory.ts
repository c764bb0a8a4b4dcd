/**
 * Migrations that are not folders on disk: a list in memory (`[{ version, name, up, down? }]`), or files
 * bundled with an app (a record of file name -> text, e.g. from a bundler's glob import). Both are validated
 * like folders: every problem reported at once (exit 2), nothing run.
 */
import { ValidationError, usageError } from '../errors.js';
import { checksumOf, parseMigrationFileName, sqlFileOf } from './files.js';
import type { MigrationSource } from './source.js';
import type { Migration, SqlFile } from './types.js';

/** One migration given in memory. */
export interface MigrationDefinition {
  /** Digits: `1`, `'001'`, `'20240115000001'`. Migrations run in numeric order of their version. */
  readonly version: string | number;
  readonly name: string;
  /** The SQL of the change. `-- migrate:` directives at its top are read as in a file. */
  readonly up: string;
  /** The SQL that undoes it; without it the migration cannot be rolled back. */
  readonly down?: string | undefined;
  /** Run statement by statement outside a transaction (as `-- migrate:no-transaction` in the text). */
  readonly noTransaction?: boolean | undefined;
}

function badFiles(problems: readonly string[]): ValidationError {
  return new ValidationError(
    'bad-migration-files',
    `Found ${problems.length} problem${problems.length === 1 ? '' : 's'} in the migrations (nothing was run):\n  ${problems.join('\n  ')}`,
    problems,
    { hint: 'Fix the migrations above and run again.' },
  );
}

/** Migrations from a list in memory. Display names are `VERSION_name` (and `VERSION_name (down)`). */
export function listSource(definitions: readonly MigrationDefinition[]): MigrationSource {
  const downs = new Map<bigint, SqlFile>();
  const load = async (): Promise<Migration[]> => {
    const problems: string[] = [];
    const seen = new Map<bigint, string>();
    const migrations: Migration[] = [];
    downs.clear();
    definitions.forEach((d, i) => {
      const version =
        typeof d.version === 'number'
          ? Number.isSafeInteger(d.version) && d.version >= 0
            ? String(d.version)
            : ''
          : String(d.version ?? '');
      const where = `migration #${i + 1}${d.name ? ` (${d.name})` : ''}`;
      if (!/^\d+$/.test(version))
        return void problems.push(`${where}: version ${JSON.stringify(d.version)} is not digits; use e.g. 1 or '001'`);
      if (typeof d.name !== 'string' || !/^[^/\\\s][^/\\]*$/.test(d.name))
        return void problems.push(`${where}: name ${JSON.stringify(d.name)} is empty or holds a path separator`);
      if (typeof d.up !== 'string') return void problems.push(`${where}: up is not SQL text`);
      const versionNumber = BigInt(version);
      const label = `${version}_${d.name}`;
      const other = seen.get(versionNumber);
      if (other) return void problems.push(`version ${version} is used by several migrations: ${other}, ${label}`);
      seen.set(versionNumber, label);
      const read = sqlFileOf(label, d.up, label, problems);
      const up: SqlFile = d.noTransaction ? { ...read, directives: { ...read.directives, noTransaction: true } } : read;
      if (d.down !== undefined) {
        const downLabel = `${label} (down)`;
        const down = sqlFileOf(downLabel, d.down, downLabel, problems);
        downs.set(
          versionNumber,
          d.noTransaction ? { ...down, directives: { ...down.directives, noTransaction: true } } : down,
        );
      }
      migrations.push({
        version,
        versionNumber,
        name: d.name,
        checksum: checksumOf(up.text),
        up,
        downPath: d.down === undefined ? undefined : `${label} (down)`,
        downDisplayPath: d.down === undefined ? undefined : `${label} (down)`,
      });
    });
    if (problems.length > 0) throw badFiles(problems);
    return migrations.sort((a, b) =>
      a.versionNumber < b.versionNumber ? -1 : a.versionNumber > b.versionNumber ? 1 : 0,
    );
  };
  return {
    load,
    async readDown(migration) {
      const down = downs.get(migration.versionNumber);
      if (!down) {
        throw usageError('missing-rollback', `Migration ${migration.version}_${migration.name} has no down SQL.`, {
          hint: 'Give it a down (an empty string is a valid no-op).',
        });
      }
      return down;
    },
  };
}

/**
 * Migration files bundled with an app: file name (or path) -> text, named as in the folders
 * (`001_create_users.sql` + `001_create_users_rollback.sql` under a `rollback/` path, or
 * `001_create_users.up.sql` + `001_create_users.down.sql`).
 */
export function bundledSource(files: Readonly<Record<string, string>>): MigrationSource {
  const byVersion = new Map<bigint, { version: string; name: string; up?: string; down?: string; paths: string[] }>();
  const problems: string[] = [];
  for (const [path, text] of Object.entries(files)) {
    const parts = path.split(/[/\\]/);
    const fileName = parts.at(-1)!;
    const folder = parts.slice(0, -1).includes('rollback') ? 'rollback' : 'migrations';
    const parsed = parseMigrationFileName(fileName, folder);
    if (!parsed) {
      problems.push(
        `${path}: the name does not parse; use VERSION_name.sql (e.g. 001_create_users.sql, 001_create_users.down.sql)`,
      );
      continue;
    }
    const n = BigInt(parsed.version);
    const entry = byVersion.get(n) ?? { version: parsed.version, name: parsed.name, paths: [] };
    byVersion.set(n, entry);
    entry.paths.push(path);
    if (parsed.kind === 'up') {
      if (entry.up !== undefined)
        problems.push(`version ${parsed.version} is used by several migrations: ${entry.paths.join(', ')}`);
      entry.up = text;
      entry.version = parsed.version;
      entry.name = parsed.name;
    } else {
      if (entry.down !== undefined)
        problems.push(`version ${parsed.version} has several rollback files: ${entry.paths.join(', ')}`);
      entry.down = text;
    }
  }
  const definitions: MigrationDefinition[] = [];
  for (const e of byVersion.values()) {
    if (e.up === undefined)
      problems.push(`${e.paths.join(', ')}: a rollback with no migration of version ${e.version}`);
    else definitions.push({ version: e.version, name: e.name, up: e.up, down: e.down });
  }
  const list = listSource(definitions);
  return {
    load: async () => {
      if (problems.length > 0) throw badFiles(problems);
      return list.load();
    },
    readDown: (migration) => list.readDown(migration),
  };
}
