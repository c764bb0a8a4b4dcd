/**
 * Where migrations come from. The core asks a MigrationSource for every migration (ups read, checksummed and
 * validated, every problem reported at once) and, only when it rolls one back, for its down file.
 *
 * Contract: `load()` returns migrations ordered by version number, or throws a ValidationError (exit 2)
 * listing every problem; it is called once per command. `readDown(m)` returns the rollback of a migration
 * `load()` returned, or throws a MigrateError `missing-rollback` when `m.downPath` is undefined.
 */
import { loadMigrations, readDown, type SourceLocations } from './files.js';
import type { Migration, SqlFile } from './types.js';

export interface MigrationSource {
  load(): Promise<Migration[]>;
  readDown(migration: Migration): Promise<SqlFile>;
}

/** Migration files in folders on disk (the seed layout, golang-migrate's, or both). */
export function folderSource(locations: SourceLocations): MigrationSource {
  return {
    load: () => loadMigrations(locations),
    readDown: (migration) => readDown(migration, locations.cwd),
  };
}
