/**
 * tidemark's library API: the same core the CLI uses.
 *
 * @example
 * import { loadSettings, Migrator, paramsFromUrl } from 'tidemark';
 * const settings = loadSettings();
 * const migrator = new Migrator({ settings, connection: paramsFromUrl(settings.databaseUrl!) });
 * const result = await migrator.up();
 */
export { loadSettings, type Settings, type SettingsFlags } from './config/settings.js';
export { Migrator, type StatusReport } from './core/migrator.js';
export type { RunConfig } from './core/config.js';
export { planDown, planUp, statusOf, type MigrationState, type StatusEntry } from './core/plan.js';
export * from './core/results.js';
export { paramsFromLibpq, paramsFromUrl, describeParams, type ConnectionParams } from './db/params.js';
export { EXIT, MigrateError, ValidationError } from './errors.js';
export { loadMigrations, checksumOf, parseMigrationFileName } from './source/files.js';
export type { Migration, SqlFile, Directives } from './source/types.js';
