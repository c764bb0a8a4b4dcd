/**
 * `migrate test-rollback`: proves that each rollback restores the schema its migration found, in a scratch
 * database that is created for the run and always dropped (db/scratch.ts). The migrations run through the
 * same Migrator as `up` and `down` (so what is tested is what runs), pointed at the scratch database, with
 * backups and lint off. The comparison is the catalog snapshot (schema/snapshot.ts, schema/diff.ts).
 *
 * Two modes, because real histories need both: some projects' downs only work one at a time, others only as a
 * whole chain (a later down re-creates a view over a column an earlier down drops).
 * - step: for each migration: snapshot, apply, roll back, compare with the snapshot, apply again.
 * - chain: apply all, roll all back, compare with the start, apply all again, compare with the first apply.
 * It never prints: it returns a report and emits progress events.
 */
import type { Settings, TableRef } from '../config/settings.js';
import { connect, type Client } from '../db/connection.js';
import { HistoryStore } from '../db/history.js';
import type { ConnectionParams } from '../db/params.js';
import { withScratchDatabase, type ScratchDatabase } from '../db/scratch.js';
import { EXIT, MigrateError, usageError } from '../errors.js';
import { describeChange, diffSnapshots, type ColumnOrderWarning, type SchemaChange } from '../schema/diff.js';
import { IncrementalSnapshot, type SnapshotChanges } from '../schema/incremental.js';
import { objectKey, snapshotSchema, type SchemaObject, type SchemaSnapshot } from '../schema/snapshot.js';
import type { Migration } from '../source/types.js';
import type { Migrator, Stepper } from './migrator.js';

export type RollbackMode = 'step' | 'chain';

/** Where the scratch database starts: empty, the newest backup, or a schema file (`schema dump`). */
export type RollbackStart =
  | { readonly kind: 'empty' }
  | { readonly kind: 'backup'; readonly file: string }
  | { readonly kind: 'schema'; readonly file: string; readonly version: string | undefined; readonly sql: string };

export interface TestRollbackOptions {
  readonly mode: RollbackMode;
  /** Start after this version: migrations up to it are applied without being tested. */
  readonly from?: string | undefined;
  readonly start?: RollbackStart | undefined;
  /** Also run each up a second time in a transaction that is rolled back; list those that fail (warnings). */
  readonly idempotent?: boolean | undefined;
}

export type StepAction =
  'apply' | 'rollback' | 'compare' | 'reapply' | 'rerun' | 'apply-all' | 'rollback-all' | 'reapply-all' | 'compare-all';

/** One thing done, for `--json` (every step) and progress. */
export interface RollbackStep {
  readonly action: StepAction;
  /** The migration, or undefined for the chain's whole-history actions. */
  readonly version: string | undefined;
  readonly ok: boolean;
  readonly ms: number;
  readonly error?: string | undefined;
  readonly changes?: readonly SchemaChange[] | undefined;
}

export type ProblemCode =
  'apply-failed' | 'rollback-failed' | 'rollback-differs' | 'reapply-failed' | 'reapply-differs' | 'rollback-missing';

/** A failure (exit 1), named by migration where one is to blame. */
export interface RollbackProblem {
  readonly code: ProblemCode;
  readonly version: string | undefined;
  readonly name: string | undefined;
  /** The rollback file (or the up file for an apply failure). */
  readonly file: string | undefined;
  readonly message: string;
  readonly changes: readonly SchemaChange[];
}

export interface RollbackWarning {
  readonly code: 'column-order' | 'not-rerunnable' | 'rerun-skipped' | 'snapshot-incomplete';
  readonly version: string | undefined;
  readonly name: string | undefined;
  readonly message: string;
  readonly columnOrder?: readonly ColumnOrderWarning[] | undefined;
}

export interface TestRollbackReport {
  readonly mode: RollbackMode;
  /** The version the test started after (from the start state and --from); undefined = from nothing. */
  readonly startVersion: string | undefined;
  readonly start: RollbackStart['kind'];
  /** Migrations whose rollback was tested, oldest first. */
  readonly tested: readonly { readonly version: string; readonly name: string; readonly ok: boolean }[];
  /** Migrations not reached because an earlier failure left the scratch database unusable. */
  readonly notTested: readonly { readonly version: string; readonly name: string }[];
  readonly problems: readonly RollbackProblem[];
  readonly warnings: readonly RollbackWarning[];
  readonly steps: readonly RollbackStep[];
  readonly durationMs: number;
}

export type RollbackEvent =
  | { readonly type: 'scratch-ready'; readonly database: string }
  | { readonly type: 'step'; readonly step: RollbackStep; readonly migration: Migration | undefined };

export interface TestRollbackContext {
  /** The migrator of the real database: its source, table and timeouts are reused for the scratch one. */
  readonly migrator: Migrator;
  /** MIGRATIONS_TABLE. */
  readonly table: TableRef;
  readonly signal?: AbortSignal | undefined;
  /** The real database's server: the scratch database is created beside it. */
  readonly connection: ConnectionParams;
  /** The migrations, loaded once (thousands of up/down calls run over this one list). */
  readonly migrations: readonly Migration[];
  /** For --from-backup: the pg_restore to use comes from beside this pg_dump. */
  readonly pgDumpPath?: string | undefined;
  readonly onEvent?: ((event: RollbackEvent) => void) | undefined;
}

const label = (m: Migration) => `${m.version}_${m.name}`;

/** An interrupt or a lost server ends the run; everything else is a finding about a migration. */
function isFatal(error: unknown): boolean {
  return (
    error instanceof MigrateError &&
    (error.code === 'interrupted' ||
      error.exitCode === EXIT.unavailable ||
      error.exitCode === EXIT.sigint ||
      error.exitCode === EXIT.sigterm)
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export async function testRollback(
  ctx: TestRollbackContext,
  options: TestRollbackOptions,
): Promise<TestRollbackReport> {
  const started = performance.now();
  const start = options.start ?? { kind: 'empty' };
  return withScratchDatabase(ctx.connection, 'migrate test-rollback', async (scratch) => {
    ctx.onEvent?.({ type: 'scratch-ready', database: scratch.name });
    const run = new Run(ctx, scratch, options);
    try {
      await run.prepare(start);
      // One locked session on the scratch database for every step, and the snapshots on it too.
      const report = await run.migrator.stepper((steps) =>
        options.mode === 'chain' ? run.chain(steps) : run.step(steps),
      );
      return { ...report, mode: options.mode, start: start.kind, durationMs: Math.round(performance.now() - started) };
    } finally {
      await run.close();
    }
  });
}

/** One run's state: the scratch connection, the migrator on it, and what has been found. */
class Run {
  readonly #ctx: TestRollbackContext;
  readonly #scratch: ScratchDatabase;
  readonly #options: TestRollbackOptions;
  readonly migrator: Migrator;
  #steps: Stepper | undefined;
  #incremental: IncrementalSnapshot | undefined;
  readonly steps: RollbackStep[] = [];
  readonly problems: RollbackProblem[] = [];
  readonly warnings: RollbackWarning[] = [];
  #client: Client | undefined;
  #pending: Migration[] = [];
  #startVersion: string | undefined;

  constructor(ctx: TestRollbackContext, scratch: ScratchDatabase, options: TestRollbackOptions) {
    this.#ctx = ctx;
    this.#scratch = scratch;
    this.#options = options;
    this.migrator = ctx.migrator.scratch(scratch.params, ctx.migrations);
  }

  get #table(): TableRef {
    return this.#ctx.table;
  }

  /**
   * Only what the last steps touched is re-read (schema/incremental.ts): whole snapshots made long histories
   * quadratic. Returns what changed since the previous update, before and after.
   */
  async #update(): Promise<SnapshotChanges> {
    this.#incremental ??= new IncrementalSnapshot(this.#steps!.client, { trackingTable: this.#table });
    return this.#incremental.update();
  }

  /** A failed step may have left what no event reported (a no-transaction file stopped half-way). */
  #invalidate(): void {
    this.#incremental?.invalidate();
  }

  /**
   * The kept snapshot against a whole one, once at the end: a change the incremental snapshot did not see (a
   * catalog written directly) would have hidden differences, so it is said, not assumed away.
   */
  async #checkKept(): Promise<void> {
    const kept = this.#incremental;
    if (kept === undefined) return;
    const whole = await snapshotSchema(this.#steps!.client, { trackingTable: this.#table });
    const missed = diffSnapshots(whole, kept.current()).changes;
    if (missed.length === 0) return;
    this.warnings.push({
      code: 'snapshot-incomplete',
      version: undefined,
      name: undefined,
      message: `The schema kept between steps differs from the database at the end (${missed.slice(0, 5).map(describeChange).join('; ')}${missed.length > 5 ? '; ...' : ''}): a migration changed the catalog in a way DDL events do not show (such as an UPDATE of a pg_catalog table), so a difference in it may have gone unseen.`,
    });
  }

  #record(step: RollbackStep, migration: Migration | undefined): RollbackStep {
    this.steps.push(step);
    this.#ctx.onEvent?.({ type: 'step', step, migration });
    return step;
  }

  /** Runs `fn` as one step; a non-fatal failure becomes the step's error. */
  async #do(action: StepAction, migration: Migration | undefined, fn: () => Promise<unknown>): Promise<RollbackStep> {
    const t = performance.now();
    try {
      await fn();
      return this.#record(
        { action, version: migration?.version, ok: true, ms: Math.round(performance.now() - t) },
        migration,
      );
    } catch (error) {
      if (isFatal(error)) throw error;
      return this.#record(
        {
          action,
          version: migration?.version,
          ok: false,
          ms: Math.round(performance.now() - t),
          error: messageOf(error),
        },
        migration,
      );
    }
  }

  #compare(
    action: StepAction,
    migration: Migration | undefined,
    expected: SchemaSnapshot,
    actual: SchemaSnapshot,
    ms: number,
  ) {
    const diff = diffSnapshots(expected, actual);
    this.#record(
      { action, version: migration?.version, ok: diff.changes.length === 0, ms, changes: diff.changes },
      migration,
    );
    if (diff.columnOrder.length > 0) {
      this.warnings.push({
        code: 'column-order',
        version: migration?.version,
        name: migration?.name,
        message: `${migration ? `${label(migration)}: after its rollback and apply` : 'After the chain'} the column order differs (${diff.columnOrder.map((w) => w.name).join(', ')}); harmless unless something relies on SELECT * or COPY without a column list.`,
        columnOrder: diff.columnOrder,
      });
    }
    return diff;
  }

  #problem(
    code: ProblemCode,
    migration: Migration | undefined,
    message: string,
    changes: readonly SchemaChange[] = [],
    file?: string,
  ) {
    this.problems.push({
      code,
      version: migration?.version,
      name: migration?.name,
      file: file ?? migration?.downDisplayPath ?? migration?.up.displayPath,
      message,
      changes,
    });
  }

  /** Brings the scratch database to the start state and works out what is to be tested. */
  async prepare(start: RollbackStart): Promise<void> {
    if (start.kind === 'backup') {
      const { restoreBackup } = await import('../backup/index.js');
      await restoreBackup({
        file: start.file,
        params: this.#ctx.connection,
        into: this.#scratch.name,
        trackingTable: this.#table,
        pgDumpPath: this.#ctx.pgDumpPath,
        signal: this.#ctx.signal,
      });
    }
    this.#client ??= await connect(this.#scratch.params);
    const store = new HistoryStore(this.#client, this.#table);
    if (start.kind === 'schema') {
      await this.#client.query(start.sql);
      // The schema file holds no history (tidemark's tables are never dumped): it says its version in a header.
      await store.ensure();
      if (start.version !== undefined) {
        const upTo = BigInt(start.version);
        for (const m of this.#ctx.migrations) {
          if (m.versionNumber > upTo) continue;
          await store.insertApplied({
            version: m.version,
            name: m.name,
            checksum: m.checksum,
            executionMs: 0,
            appliedBy: 'test-rollback (schema file)',
            dirty: false,
          });
        }
      }
    }
    // Created before the first snapshot, so the tracking table's schema is in every snapshot alike.
    await store.ensure();
    if (this.#options.from !== undefined) {
      const from = BigInt(this.#options.from);
      if (!this.#ctx.migrations.some((m) => m.versionNumber === from)) {
        throw usageError('unknown-version', `--from ${this.#options.from}: there is no migration with that version.`, {
          hint: 'Give the version of an existing migration file; the rollbacks after it are tested.',
        });
      }
      const history = await store.read();
      if (!history.some((r) => BigInt(r.version) >= from)) {
        try {
          await this.migrator.up({ to: this.#options.from });
        } catch (error) {
          if (isFatal(error)) throw error;
          throw new MigrateError(
            'test-rollback-start-failed',
            `Could not reach the starting point (--from ${this.#options.from}): ${messageOf(error)}`,
            {
              hint: 'The migrations up to --from are applied without being tested; fix the one named, or start later.',
              cause: error,
            },
          );
        }
      }
    }
    const history = await store.read();
    const applied = new Set(history.map((r) => BigInt(r.version)));
    this.#pending = this.#ctx.migrations.filter((m) => !applied.has(m.versionNumber));
    this.#startVersion = history.at(-1)?.version;
  }

  #report(tested: Migration[], notTested: Migration[]): Omit<TestRollbackReport, 'mode' | 'start' | 'durationMs'> {
    const failed = new Set(this.problems.map((p) => p.version));
    return {
      startVersion: this.#startVersion,
      tested: tested.map((m) => ({ version: m.version, name: m.name, ok: !failed.has(m.version) })),
      notTested: notTested.map((m) => ({ version: m.version, name: m.name })),
      problems: this.problems,
      warnings: this.warnings,
      steps: this.steps,
    };
  }

  /** up 1, for the next pending migration. */
  #upOne(m: Migration) {
    return this.#steps!.apply(m);
  }

  #downOne(m: Migration) {
    return this.#steps!.revert(m);
  }

  /** The up file run again inside a transaction that is rolled back: does it fail on its own result? */
  async #rerun(m: Migration): Promise<void> {
    if (m.up.directives.noTransaction) {
      this.warnings.push({
        code: 'rerun-skipped',
        version: m.version,
        name: m.name,
        message: `${label(m)} runs outside a transaction (-- migrate:no-transaction): it cannot be re-run inside one to test it.`,
      });
      return;
    }
    if (m.up.empty) return;
    const client = this.#steps!.client;
    const t = performance.now();
    let error: string | undefined;
    await client.query('begin');
    try {
      await client.query(`${m.up.text}\n;`);
    } catch (e) {
      error = messageOf(e);
    } finally {
      await client.query('rollback').catch(() => {});
    }
    this.#record(
      { action: 'rerun', version: m.version, ok: error === undefined, ms: Math.round(performance.now() - t), error },
      m,
    );
    if (error !== undefined) {
      this.warnings.push({
        code: 'not-rerunnable',
        version: m.version,
        name: m.name,
        message: `${label(m)} is not re-runnable: run a second time it fails with "${error}". Guard it (IF NOT EXISTS, CREATE OR REPLACE) if it may ever run twice.`,
      });
    }
  }

  async #checkRollbackFile(m: Migration): Promise<boolean> {
    if (m.downPath !== undefined) return true;
    this.#problem(
      'rollback-missing',
      m,
      `${label(m)} has no rollback file, so its rollback cannot be tested.`,
      [],
      m.up.displayPath,
    );
    return false;
  }

  async step(steps: Stepper): Promise<Omit<TestRollbackReport, 'mode' | 'start' | 'durationMs'>> {
    this.#steps = steps;
    const tested: Migration[] = [];
    const pending = this.#pending;
    await this.#update();
    for (let i = 0; i < pending.length; i += 1) {
      const m = pending[i]!;
      const apply = await this.#do('apply', m, () => this.#upOne(m));
      if (!apply.ok) {
        this.#problem('apply-failed', m, `${label(m)} failed to apply: ${apply.error}`, [], m.up.displayPath);
        tested.push(m);
        return this.#report(tested, pending.slice(i + 1));
      }
      tested.push(m);
      if (this.#options.idempotent) await this.#rerun(m);
      if (!(await this.#checkRollbackFile(m))) {
        await this.#update();
        continue;
      }
      const rollback = await this.#do('rollback', m, () => this.#downOne(m));
      if (!rollback.ok) {
        // The rollback ran in a transaction and was undone: the database is as the apply left it.
        this.#problem('rollback-failed', m, `the rollback of ${label(m)} failed: ${rollback.error}`);
        this.#invalidate();
        await this.#update();
        continue;
      }
      const t = performance.now();
      // What the apply and the rollback changed, as it was before the apply and as it is now: the rest of the
      // schema is untouched, so this is the whole comparison at the cost of what the migration touched.
      const changed = await this.#update();
      const diff = this.#compare('compare', m, changed.before, changed.after, Math.round(performance.now() - t));
      if (diff.changes.length > 0) {
        const empty = (await this.#steps!.readDown(m)).empty;
        this.#problem(
          'rollback-differs',
          m,
          `the rollback of ${label(m)} does not restore the schema it found${empty ? ' (its rollback file is empty)' : ''}`,
          diff.changes,
        );
      }
      const reapply = await this.#do('reapply', m, () => this.#upOne(m));
      if (!reapply.ok) {
        this.#problem(
          'reapply-failed',
          m,
          `${label(m)} failed to apply again after its rollback: ${reapply.error}`,
          [],
          m.up.displayPath,
        );
        return this.#report(tested, pending.slice(i + 1));
      }
      await this.#update();
    }
    await this.#checkKept();
    return this.#report(tested, []);
  }

  async chain(steps: Stepper): Promise<Omit<TestRollbackReport, 'mode' | 'start' | 'durationMs'>> {
    this.#steps = steps;
    const pending = this.#pending;
    await this.#update();
    const start = this.#incremental!.current();
    // What each up changed (before and after), to know the schema each rollback should give back.
    const ups: SnapshotChanges[] = [];
    // Apply one at a time, so that a failure names its migration.
    for (let i = 0; i < pending.length; i += 1) {
      const m = pending[i]!;
      const apply = await this.#do('apply', m, () => this.#upOne(m));
      if (!apply.ok) {
        this.#problem('apply-failed', m, `${label(m)} failed to apply: ${apply.error}`, [], m.up.displayPath);
        return this.#report(pending.slice(0, i + 1), pending.slice(i + 1));
      }
      if (this.#options.idempotent) await this.#rerun(m);
      ups.push(await this.#update());
    }
    const applied = this.#incremental!.current();
    for (const m of pending) if (!(await this.#checkRollbackFile(m))) return this.#report(pending, []);
    const blame = new Blame(applied);
    for (let i = pending.length - 1; i >= 0; i -= 1) {
      const m = pending[i]!;
      const rollback = await this.#do('rollback', m, () => this.#downOne(m));
      if (!rollback.ok) {
        this.#problem(
          'rollback-failed',
          m,
          `the rollback of ${label(m)} failed in the chain (after the rollbacks of everything newer): ${rollback.error}`,
        );
        return this.#report(pending, []);
      }
      // After it, the schema should be the one its up found.
      blame.step(await this.#update(), ups[i]!, 'back', `the rollback of ${label(m)}`, m);
    }
    let t = performance.now();
    const back = this.#incremental!.current();
    const diff = this.#compare('compare-all', undefined, start, back, Math.round(performance.now() - t));
    if (diff.changes.length > 0) {
      this.#blamed(
        'rollback-differs',
        diff.changes,
        blame,
        (n) => `rolling back all ${n} migrations does not restore the schema they started from`,
        (who) => `${who} (in the chain, after the rollbacks of everything newer) does not restore the schema it found`,
      );
    }
    for (let i = 0; i < pending.length; i += 1) {
      const m = pending[i]!;
      const reapply = await this.#do('reapply', m, () => this.#upOne(m));
      if (!reapply.ok) {
        this.#problem(
          'reapply-failed',
          m,
          `${label(m)} failed to apply again after the chain's rollback: ${reapply.error}`,
          [],
          m.up.displayPath,
        );
        return this.#report(pending, []);
      }
      blame.step(await this.#update(), ups[i]!, 'forward', `applying ${label(m)} again`, m);
    }
    t = performance.now();
    const again = this.#incremental!.current();
    const second = this.#compare('compare-all', undefined, applied, again, Math.round(performance.now() - t));
    if (second.changes.length > 0) {
      this.#blamed(
        'reapply-differs',
        second.changes,
        blame,
        () => 'applying everything again after the chain rollback gives another schema than the first time',
        (who) => `after the chain rollback, ${who} gives another schema than the first time`,
      );
    }
    await this.#checkKept();
    return this.#report(pending, []);
  }

  /**
   * One problem per migration to blame, with the differences it left (those that appeared at its step and
   * lasted); differences no step explains go in one problem for the whole chain, with a hint.
   */
  #blamed(
    code: ProblemCode,
    changes: readonly SchemaChange[],
    blame: Blame,
    whole: (n: number) => string,
    one: (who: string) => string,
  ): void {
    const byStep = new Map<string, { who: string; migration: Migration; changes: SchemaChange[] }>();
    const unexplained: SchemaChange[] = [];
    for (const change of changes) {
      const culprit = blame.of(objectKey(change.kind, change.name));
      if (culprit === undefined) {
        unexplained.push(change);
        continue;
      }
      const entry = byStep.get(culprit.who) ?? { ...culprit, changes: [] };
      entry.changes.push(change);
      byStep.set(culprit.who, entry);
    }
    for (const { who, migration, changes: own } of byStep.values()) this.#problem(code, migration, one(who), own);
    if (unexplained.length > 0) {
      this.#problem(code, undefined, whole(this.#pending.length), unexplained);
      this.#blame(unexplained);
    }
  }

  /**
   * A chain cannot say which rollback is at fault, but an object's name usually appears in the migration that
   * creates it: the newest up file naming an object that differs is suggested (a hint, not a verdict).
   */
  #blame(changes: readonly SchemaChange[]): void {
    const chainProblem = this.problems.at(-1);
    if (!chainProblem) return;
    const suspects = new Set<string>();
    for (const change of changes) {
      const bare = change.name.replace(/\(.*$/, '').split('.').at(-1)!.replace(/"/g, '').toLowerCase();
      const m = [...this.#pending].reverse().find((p) => p.up.text.toLowerCase().includes(bare));
      if (m) suspects.add(label(m));
    }
    if (suspects.size > 0) {
      this.problems[this.problems.length - 1] = {
        ...chainProblem,
        message: `${chainProblem.message}; the objects are named in ${[...suspects].join(', ')}`,
      };
    }
  }

  async close(): Promise<void> {
    await this.#client?.end().catch(() => {});
  }
}

/**
 * Which step of a chain made each object differ from what it should be there. `expected` follows the recorded
 * ups (backwards through the rollbacks: after the rollback of N the schema N's up found; forwards through the
 * re-applies), `actual` follows the database; both start as the applied schema and change only where a step
 * changed something, so a step costs what it touched. An object's culprit is the step since which it has
 * differed without a break: a difference one rollback leaves and an older one cleans up blames nobody.
 */
class Blame {
  readonly #expected: Map<string, SchemaObject>;
  readonly #actual: Map<string, SchemaObject>;
  readonly #since = new Map<string, { readonly who: string; readonly migration: Migration }>();

  constructor(applied: SchemaSnapshot) {
    this.#expected = new Map(Object.entries(applied.objects));
    this.#actual = new Map(this.#expected);
  }

  /** After one step: what the database changed (`actual`) and the up whose result is now expected. */
  step(actual: SnapshotChanges, up: SnapshotChanges, direction: 'back' | 'forward', who: string, m: Migration): void {
    const keys = new Set([
      ...Object.keys(actual.before.objects),
      ...Object.keys(actual.after.objects),
      ...Object.keys(up.before.objects),
      ...Object.keys(up.after.objects),
    ]);
    move(this.#actual, actual.before, actual.after);
    if (direction === 'back') move(this.#expected, up.after, up.before);
    else move(this.#expected, up.before, up.after);
    for (const key of keys) {
      if (sameObject(this.#expected.get(key), this.#actual.get(key))) this.#since.delete(key);
      else if (!this.#since.has(key)) this.#since.set(key, { who, migration: m });
    }
  }

  /** The step to blame for the object with this key, if one is. */
  of(key: string): { readonly who: string; readonly migration: Migration } | undefined {
    return this.#since.get(key);
  }
}

/** Applies a change (the objects of `from` become those of `to`) to a kept set of objects. */
function move(objects: Map<string, SchemaObject>, from: SchemaSnapshot, to: SchemaSnapshot): void {
  for (const key of Object.keys(from.objects)) if (!(key in to.objects)) objects.delete(key);
  for (const [key, o] of Object.entries(to.objects)) objects.set(key, o);
}

function sameObject(a: SchemaObject | undefined, b: SchemaObject | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  const keys = Object.keys(a.props);
  return keys.length === Object.keys(b.props).length && keys.every((k) => a.props[k] === b.props[k]);
}

/**
 * The start state asked for: a backup file (`true` = the newest of this database in BACKUP_DIR), a schema
 * file (`true` = SCHEMA_FILE), or an empty database. Throws usage errors (exit 2) naming what is missing.
 */
export async function rollbackStart(
  settings: Settings,
  database: string,
  wanted: { readonly fromBackup?: string | true | undefined; readonly fromSchema?: string | true | undefined },
): Promise<RollbackStart> {
  const { relative, resolve } = await import('node:path');
  const shown = (p: string) => relative(settings.cwd, p) || p;
  if (wanted.fromBackup !== undefined && wanted.fromSchema !== undefined) {
    throw usageError('conflicting-flags', 'Use only one of --from-backup and --from-schema.');
  }
  if (wanted.fromBackup !== undefined) {
    if (wanted.fromBackup !== true) return { kind: 'backup', file: resolve(settings.cwd, wanted.fromBackup) };
    const { readdir } = await import('node:fs/promises');
    const { parseBackupFileName } = await import('../backup/naming.js');
    const names = await readdir(settings.backupDir).catch(() => [] as string[]);
    const newest = names
      .map((name) => ({ name, parsed: parseBackupFileName(name, database) }))
      .filter((b) => b.parsed !== undefined)
      .sort((a, b) => b.parsed!.createdAt.getTime() - a.parsed!.createdAt.getTime())[0];
    if (!newest) {
      throw usageError(
        'no-backup-found',
        `--from-backup: there is no backup of the database "${database}" in ${shown(settings.backupDir)}.`,
        {
          hint: 'Take one with migrate backup, name a file (--from-backup FILE), or start from an empty database (no --from-backup).',
        },
      );
    }
    const { join } = await import('node:path');
    return { kind: 'backup', file: join(settings.backupDir, newest.name) };
  }
  if (wanted.fromSchema !== undefined) {
    const path = wanted.fromSchema === true ? settings.schemaFile : resolve(settings.cwd, wanted.fromSchema);
    const { readSchemaFile, schemaFileVersion } = await import('../schema/dump.js');
    const sql = await readSchemaFile(path, shown(path));
    return { kind: 'schema', file: path, version: schemaFileVersion(sql), sql };
  }
  return { kind: 'empty' };
}
