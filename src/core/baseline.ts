/**
 * `migrate baseline V` and `baseline --from TOOL`: adopt a database that was migrated by other means, by
 * recording migrations as applied without running them. The rules are pure (`planBaseline`); `baseline()` reads
 * the other tool's table read-only, then writes tidemark's own history under the runner lock.
 */
import type { TableRef } from '../config/settings.js';
import {
  DEFAULT_FOREIGN_TABLES,
  readForeignHistory,
  type ForeignHistory,
  type ForeignTool,
} from '../db/foreign-history.js';
import { describeTable, type HistoryRow } from '../db/history.js';
import { RepairLog } from '../db/repair-log.js';
import { inTransaction } from '../db/transaction.js';
import { usageError } from '../errors.js';
import type { Migration } from '../source/types.js';
import type { Session } from './session.js';
import { whoAmI } from './repair.js';

export type BaselineTarget = { readonly version: string } | { readonly foreign: ForeignHistory };

export interface BaselinePlan {
  /** The newest version recorded. */
  readonly version: string;
  /** Recorded as applied, oldest first. */
  readonly record: readonly Migration[];
  /** Files older than `version` that the other tool never applied: they stay pending (out of order). */
  readonly leftPending: readonly Migration[];
  readonly from: ForeignTool | undefined;
}

export function planBaseline(
  migrations: readonly Migration[],
  history: readonly HistoryRow[],
  target: BaselineTarget,
): BaselinePlan {
  if (history.length > 0) {
    throw usageError(
      'baseline-history-not-empty',
      `The tracking table already records ${history.length} migration${history.length === 1 ? '' : 's'}; baseline only adopts a database tidemark has never migrated.`,
      {
        hint: 'migrate status shows what is recorded; migrate repair V fixes one migration.',
      },
    );
  }
  const byNumber = new Map(migrations.map((m) => [m.versionNumber, m]));
  const applied = new Set<bigint>();
  let from: ForeignTool | undefined;
  if ('version' in target) {
    if (!/^\d+$/.test(target.version))
      throw usageError(
        'bad-version',
        `"${target.version}" is not a version; a version is the leading digits of a file name, e.g. 003.`,
      );
    const v = BigInt(target.version);
    if (!byNumber.has(v)) {
      throw usageError(
        'unknown-version',
        `No migration file has version ${target.version}; baseline V names the newest migration the database already has.`,
        {
          hint: `The versions on disk: ${migrations.map((m) => m.version).join(', ') || 'none'}.`,
        },
      );
    }
    for (const m of migrations) if (m.versionNumber <= v) applied.add(m.versionNumber);
  } else {
    const f = target.foreign;
    from = f.tool;
    const table = describeTable(f.table);
    const noFile = f.versions.filter((v) => !byNumber.has(v));
    // golang-migrate's one version must be a file here; a Flyway BASELINE marker often has none (baselineVersion 1).
    if (f.upTo !== undefined && f.tool !== 'flyway' && !byNumber.has(f.upTo)) noFile.push(f.upTo);
    if (noFile.length > 0) {
      throw usageError(
        'baseline-files-missing',
        `${f.tool}'s history in ${table} records version${noFile.length === 1 ? '' : 's'} ${noFile.join(', ')}, but no migration file here has ${noFile.length === 1 ? 'it' : 'them'}.`,
        {
          hint: 'Point --migrations-dir at the folder that tool ran from (tidemark reads both layouts).',
        },
      );
    }
    for (const v of f.versions) applied.add(v);
    if (f.upTo !== undefined) for (const m of migrations) if (m.versionNumber <= f.upTo) applied.add(m.versionNumber);
    if (applied.size === 0) {
      throw usageError(
        'baseline-nothing',
        `${f.tool}'s history in ${table} records no applied migration: there is nothing to adopt.`,
        {
          hint: 'Run migrate up: every migration is pending.',
        },
      );
    }
  }
  const record = migrations.filter((m) => applied.has(m.versionNumber));
  const top = record.at(-1)!;
  const leftPending = migrations.filter((m) => m.versionNumber < top.versionNumber && !applied.has(m.versionNumber));
  return { version: top.version, record, leftPending, from };
}

export interface BaselineOptions {
  readonly from?: ForeignTool | undefined;
  /** The other tool's table, when not its default. */
  readonly fromTable?: TableRef | undefined;
  readonly version?: string | undefined;
  readonly dryRun?: boolean | undefined;
}

export interface BaselineResult extends BaselinePlan {
  readonly dryRun: boolean;
  readonly foreignTable: TableRef | undefined;
}

/**
 * Reads the other tool's history (if any) on `session`, then records the plan under the runner lock.
 * `ourTable` is tidemark's tracking table (MIGRATIONS_TABLE).
 */
export async function baseline(
  session: Session,
  migrations: readonly Migration[],
  options: BaselineOptions,
): Promise<BaselineResult> {
  let target: BaselineTarget;
  let foreignTable: TableRef | undefined;
  const { client, history: store } = session;
  if (options.from !== undefined) {
    const table = options.fromTable ?? DEFAULT_FOREIGN_TABLES[options.from];
    foreignTable = table;
    const ours = store.ref;
    if (ours.schema === table.schema && ours.table === table.table) {
      throw usageError(
        'baseline-same-table',
        `${options.from} keeps its history in ${describeTable(table)}, and that is also the name of tidemark's tracking table (MIGRATIONS_TABLE). tidemark reads ${options.from}'s table and never alters it, so its own table needs another name.`,
        {
          hint: `Set {{trackingTable}} to another name, e.g. tidemark_migrations (keep it for every later command), and adopt the ${options.from} history again.`,
        },
      );
    }
    const foreign = await readForeignHistory(client, options.from, table);
    target = { foreign };
  } else {
    if (options.version === undefined)
      throw usageError(
        'baseline-no-version',
        'Say which version to adopt: migrate baseline V, or migrate baseline --from TOOL.',
      );
    target = { version: options.version };
  }

  if (options.dryRun) {
    return { ...planBaseline(migrations, await store.read(), target), dryRun: true, foreignTable };
  }
  const by = whoAmI();
  return session.locked(async () => {
    const plan = planBaseline(migrations, await store.read(), target);
    await store.ensure();
    const log = new RepairLog(client, store.ref);
    await inTransaction(client, async () => {
      for (const m of plan.record) {
        await store.insertApplied({
          version: m.version,
          name: m.name,
          checksum: m.checksum,
          executionMs: 0,
          appliedBy: `${by} (baseline)`,
        });
      }
      await log.ensure();
      await log.record({
        version: plan.version,
        action: 'baseline',
        oldChecksum: null,
        newChecksum: null,
        wasDirty: false,
        repairedBy: by,
      });
    });
    return { ...plan, dryRun: false, foreignTable };
  });
}
