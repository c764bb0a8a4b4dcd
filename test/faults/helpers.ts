/**
 * What every fault case needs: a runner started as a real process, a way to wait for a state of the server
 * (never for a time), and the one check every case ends with: the database is fully before or fully after
 * each migration, the tracking table agrees with the catalog, no runner lock or tidemark session is left.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { queryUrl } from '../helpers/db.js';
import { makeProject, runCli, type CliResult } from '../helpers/project.js';
import { until } from '../helpers/until.js';

/** Waits for a state of the server, never for a time (test/helpers/until.ts). */
export { until };

/**
 * How often a fault case runs; each repetition starts from a fresh database. Once by default: every case
 * proves its point in one run (it waits for the server state it acts on, never for a time). A CI job or a
 * developer hunting a race raises it (TIDEMARK_FAULT_REPEAT=3 with two CPU hogs was the acceptance run).
 */
export const REPEAT = Number(process.env.TIDEMARK_FAULT_REPEAT ?? 1);

export interface Running {
  readonly child: ChildProcess;
  readonly done: Promise<CliResult>;
}

/** Starts `migrate ...args` as a process of its own. */
export function start(args: readonly string[], cwd: string, env: Record<string, string | undefined>): Running {
  let child: ChildProcess | undefined;
  const done = runCli(args, { cwd, env, onSpawn: (c) => (child = c), timeoutMs: 120_000 });
  return { child: child!, done };
}

/** The pid of the tidemark session running a statement matching `like` in `database`, once there is one. */
export function activeRunner(url: string, database: string, like: string): Promise<number> {
  return until(`a tidemark session running ${like}`, async () => {
    const rows = await queryUrl<{ pid: number }>(
      url,
      `select pid from pg_stat_activity where datname = $1 and application_name = 'tidemark' and state = 'active' and query like $2`,
      [database, `%${like}%`],
    );
    return rows[0]?.pid;
  });
}

/** Waits until no session of `database` belongs to tidemark (its runner, canceller, pg_dump) and no advisory lock is held there. */
export async function nothingLeft(url: string, database: string): Promise<void> {
  await until(`every tidemark session and advisory lock of ${database} gone`, async () => {
    const [row] = await queryUrl<{ sessions: number; locks: number }>(
      url,
      `select (select count(*)::int from pg_stat_activity where datname = $1 and application_name like 'tidemark%') as sessions,
              (select count(*)::int from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = $1)) as locks`,
      [database],
    );
    return row!.sessions === 0 && row!.locks === 0;
  });
}

/** A migration in a test project: its version, its file text, and how to tell from the catalog whether it is applied. */
export interface Step {
  readonly version: string;
  readonly name: string;
  readonly sql: string;
  /** A query returning one row `{ applied: boolean }` from the catalog alone. */
  readonly probe: string;
}

export function writeSteps(dir: string, steps: readonly Step[]): void {
  for (const s of steps) writeFileSync(join(dir, 'migrations', `${s.version}_${s.name}.sql`), s.sql);
}

/** The database a case runs in: its name, a URL to it, and an admin URL on its server (a TestDatabase is one). */
export interface Target {
  readonly name: string;
  readonly url: string;
  readonly adminUrl: string;
}

/** The start of every case: `steps` written into a new project, and `migrate ...args` on it in a process of its own. */
export function startCase(
  steps: readonly Step[],
  env: Record<string, string | undefined>,
  args: readonly string[] = ['up'],
): { dir: string; run: Running } {
  const dir = makeProject();
  writeSteps(dir, steps);
  return { dir, run: start(args, dir, env) };
}

/**
 * The check after every fault: no tidemark session or advisory lock left in `target`, and each step fully
 * applied or absent as the tracking table says. Returns the versions applied.
 */
export async function settled(target: Target, steps: readonly Step[]): Promise<string[]> {
  await nothingLeft(target.adminUrl, target.name);
  return assertConsistent(target.url, steps);
}

/** A step that creates table `name` (and optionally sleeps after, so that a fault can hit it mid-way). */
export function tableStep(version: string, table: string, sleepSeconds = 0): Step {
  return {
    version,
    name: `create_${table}`,
    sql: `create table ${table} (id bigint primary key);\ninsert into ${table} values (1);\n${sleepSeconds > 0 ? `select pg_sleep(${sleepSeconds});\n` : ''}`,
    probe: `select to_regclass('public.${table}') is not null as applied`,
  };
}

/**
 * Every step is fully applied or fully absent, and the tracking table says the same: a row (clean) exactly
 * for the applied ones. Returns the versions applied.
 */
export async function assertConsistent(url: string, steps: readonly Step[]): Promise<string[]> {
  const rows = await queryUrl<{ version: string; dirty: boolean }>(
    url,
    `select version, dirty from public.schema_migrations`,
  ).catch((error: { code?: string }) => {
    if (error.code === '42P01') return [];
    throw error;
  });
  const recorded = new Map(rows.map((r) => [r.version, r.dirty]));
  const applied: string[] = [];
  for (const step of steps) {
    const [probe] = await queryUrl<{ applied: boolean }>(url, step.probe);
    expect({ version: step.version, inCatalog: probe!.applied, recorded: recorded.has(step.version) }).toEqual({
      version: step.version,
      inCatalog: recorded.has(step.version),
      recorded: recorded.has(step.version),
    });
    if (recorded.has(step.version)) {
      expect({ version: step.version, dirty: recorded.get(step.version) }).toEqual({
        version: step.version,
        dirty: false,
      });
      applied.push(step.version);
    }
  }
  expect(rows.length).toBe(applied.length);
  return applied;
}

/** The next `up` finishes (exit 0) and leaves every step applied. */
export async function nextUpFinishes(
  dir: string,
  env: Record<string, string | undefined>,
  url: string,
  steps: readonly Step[],
): Promise<void> {
  const up = await runCli(['up'], { cwd: dir, env });
  expect({ code: up.code, stderr: up.stderr }).toMatchObject({ code: 0 });
  expect(await assertConsistent(url, steps)).toEqual(steps.map((s) => s.version));
}
