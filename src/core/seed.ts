/**
 * `migrate seed NAME`: seeds/NAME.sql in one transaction, under the runner lock, with the run's timeouts and
 * cancellation; refused under the production guard unless forced. A failure names its file:line:col and
 * leaves nothing behind.
 */
import { join } from 'node:path';
import { inTransaction } from '../db/transaction.js';
import { MigrateError, usageError } from '../errors.js';
import { listSeeds, readSqlFile } from '../source/files.js';
import type { SqlFile } from '../source/types.js';
import type { SeedLocation } from './config.js';
import type { Executor } from './executor.js';
import { failureOf, originalError } from './failure.js';
import type { Session } from './session.js';
import type { Wording } from './wording.js';

export interface SeedResult {
  readonly name: string;
  readonly file: string;
  readonly executionMs: number;
}

export interface SeedOptions {
  /** Run it even under the production guard. */
  readonly force?: boolean | undefined;
}

/** Checks the request and reads the seed's file, before any connection is opened. */
export async function readSeed(
  seeds: SeedLocation | undefined,
  name: string,
  production: boolean,
  options: SeedOptions,
  words: Wording,
): Promise<SqlFile> {
  if (production && !options.force) {
    throw usageError('seed-in-production', `Refusing to run seed "${name}": ${words.productionOn}.`, {
      hint: `Seeds are for development and test data. If you really mean it, ${words.forceSeed}.`,
    });
  }
  if (!/^[\w.-]+$/.test(name))
    throw usageError('bad-seed-name', `"${name}" is not a seed name; use the file name without .sql.`);
  if (!seeds)
    throw usageError('no-seeds', `There is no seeds folder to find seed "${name}" in.`, {
      hint: 'Pass the seeds option: { directory }.',
    });
  const path = join(seeds.dir, `${name}.sql`);
  try {
    return await readSqlFile(path, seeds.cwd);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      const known = await listSeeds(seeds.dir);
      throw usageError('unknown-seed', `There is no seed named "${name}" (looked for ${path}).`, {
        hint: known.length ? `Known seeds: ${known.join(', ')}.` : 'The seeds folder has no .sql files.',
      });
    }
    throw error;
  }
}

/** Runs the seed in one transaction on `session`, which holds the runner lock. */
export async function runSeed(session: Session, executor: Executor, name: string, file: SqlFile): Promise<SeedResult> {
  const client = session.client;
  await session.history.ensure();
  const started = performance.now();
  try {
    await inTransaction(client, async () => {
      await executor.setLocalTimeouts('seed');
      if (!file.empty) await executor.runText(file.text, 0, 0, file.text.length);
    });
  } catch (error) {
    const failure = await failureOf(error, file, undefined);
    if (failure) {
      throw new MigrateError(
        'seed-failed',
        `Seed ${file.displayPath} failed at ${failure.file}:${failure.line}:${failure.column}: ${failure.message}`,
        {
          hint: 'Nothing of the seed remains (it ran in one transaction). Fix the file and run it again.',
          details: { error: failure },
        },
      );
    }
    throw originalError(error);
  }
  return { name, file: file.displayPath, executionMs: Math.round(performance.now() - started) };
}
