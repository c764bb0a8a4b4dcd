/**
 * Fault injection on a real PostgreSQL: the runner killed (kill -9, two signals at once) or its backend
 * terminated in the middle of a migration. Each case runs REPEAT times on a fresh database and ends with the
 * same checks: fully before or fully after each migration, the history agrees with the catalog, no lock or
 * session left, and the next `up` finishes.
 */
import { describe, expect, it } from 'vitest';
import { adminQuery, useTestDatabase } from '../helpers/db.js';
import { makeProject } from '../helpers/project.js';
import {
  REPEAT,
  activeRunner,
  nextUpFinishes,
  nothingLeft,
  settled,
  start,
  tableStep,
  until,
  writeSteps,
  type Step,
} from './helpers.js';

const db = useTestDatabase('faults_kill');

/** 001 is quick, 002 sleeps long enough that only a rollback by the server (not its end) can explain its absence. */
function project(): { dir: string; steps: Step[]; fast: Step[] } {
  const steps = [tableStep('001', 'first'), tableStep('002', 'second', 60), tableStep('003', 'third')];
  const dir = makeProject();
  writeSteps(dir, steps);
  // The same migrations without the sleep, for the run after the fault (002 was never applied: no drift).
  return { dir, steps, fast: [steps[0]!, tableStep('002', 'second'), steps[2]!] };
}

const env = () => ({ DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false' });

describe('kill -9 of the runner mid-migration', () => {
  for (let i = 1; i <= REPEAT; i += 1) {
    it(`the server rolls the migration back and releases the runner lock, at once (run ${i}/${REPEAT})`, async () => {
      await db.reset();
      const { dir, steps, fast } = project();
      const run = start(['up'], dir, env());
      await activeRunner(db.adminUrl, db.name, 'pg_sleep(60)');
      run.child.kill('SIGKILL');
      expect((await run.done).signal).toBe('SIGKILL');
      // Without client_connection_check_interval the backend would sleep its 60 s, then commit 002.
      expect(await settled(db, steps)).toEqual(['001']);
      writeSteps(dir, fast);
      await nextUpFinishes(dir, env(), db.url, fast);
    }, 240_000);
  }
});

describe('two signals in quick succession', () => {
  for (let i = 1; i <= REPEAT; i += 1) {
    it(`the second one leaves at once with one line saying so, and the server still rolls back (run ${i}/${REPEAT})`, async () => {
      await db.reset();
      const { dir, steps, fast } = project();
      // 002 shrugs off cancels (plpgsql may catch query_canceled) and says when it got one, so that the second
      // signal surely arrives while the first is still being handled (the kernel merges two pending ones).
      const stubborn: Step = {
        ...steps[1]!,
        sql:
          'create table second (id bigint primary key);\n' +
          "do $$ begin loop begin perform pg_sleep(60); exception when query_canceled then perform set_config('application_name', 'tidemark-cancelled', false); end; end loop; end $$;\n",
      };
      writeSteps(dir, [stubborn]);
      const run = start(['up'], dir, env());
      await activeRunner(db.adminUrl, db.name, 'pg_sleep(60)');
      run.child.kill('SIGTERM');
      await until(
        'the first SIGTERM to cancel the statement',
        async () =>
          (await db.query(`select 1 from pg_stat_activity where application_name = 'tidemark-cancelled'`)).length > 0,
      );
      run.child.kill('SIGTERM');
      const result = await run.done;
      expect(result.code).toBe(143);
      expect(result.stderr).toMatch(
        /Interrupted again by SIGTERM: exiting without waiting for the rollback; check `migrate status`/,
      );
      // The statement ignores cancels, not a closed socket: the server still ends it and rolls back.
      expect(await settled(db, steps)).toEqual(['001']);
      writeSteps(dir, fast);
      await nextUpFinishes(dir, env(), db.url, fast);
    }, 240_000);
  }
});

describe('pg_terminate_backend of the runner mid-migration', () => {
  for (let i = 1; i <= REPEAT; i += 1) {
    it(`exit 3 saying it was rolled back, checked on a new connection (run ${i}/${REPEAT})`, async () => {
      await db.reset();
      const { dir, steps, fast } = project();
      const run = start(['up'], dir, env());
      const pid = await activeRunner(db.adminUrl, db.name, 'pg_sleep(60)');
      await adminQuery('select pg_terminate_backend($1)', [pid]);
      const result = await run.done;
      expect(result.code).toBe(3);
      expect(result.stderr).toMatch(/002_create_second: it was rolled back \(checked on a new connection/);
      expect(await settled(db, steps)).toEqual(['001']);
      writeSteps(dir, fast);
      await nextUpFinishes(dir, env(), db.url, fast);
    }, 240_000);
  }
});

describe('a no-transaction migration killed between statements', () => {
  for (let i = 1; i <= REPEAT; i += 1) {
    it(`keeps what ran, is marked dirty, and after the manual fix and repair the next up finishes (run ${i}/${REPEAT})`, async () => {
      await db.reset();
      const dir = makeProject();
      const first = tableStep('001', 'first');
      const noTx: Step = {
        version: '002',
        name: 'index_and_more',
        sql: '-- migrate:no-transaction\ncreate index concurrently first_id on first (id);\nselect pg_sleep(60);\ncreate table after_sleep (id int);\n',
        probe: `select to_regclass('public.after_sleep') is not null as applied`,
      };
      writeSteps(dir, [first, noTx]);
      const run = start(['up'], dir, env());
      await activeRunner(db.adminUrl, db.name, 'pg_sleep(60)');
      run.child.kill('SIGKILL');
      await run.done;
      await nothingLeft(db.adminUrl, db.name);
      // Statement 1 stays (outside a transaction), statement 3 never ran, and the row says dirty.
      const [state] = await db.query<{ index: boolean; after: boolean; dirty: boolean }>(
        `select to_regclass('public.first_id') is not null as index, to_regclass('public.after_sleep') is not null as after,
                (select dirty from schema_migrations where version = '002') as dirty`,
      );
      expect(state).toEqual({ index: true, after: false, dirty: true });
      // The row counts the statement that completed: a plain `up` would resume at statement 2 (issue 14,
      // test/core/executor-resume.test.ts). Here the operator finishes by hand instead.
      const [progress] = await db.query<{ done: number }>(
        "select statements_done as done from schema_migrations where version = '002'",
      );
      expect(progress).toEqual({ done: 1 });
      // The manual fix: finish what the file meant, then clear the mark.
      await db.query('create table after_sleep (id int)');
      const repair = await start(['repair', '002', '--yes'], dir, env()).done;
      expect({ code: repair.code, stderr: repair.stderr }).toMatchObject({ code: 0 });
      await nextUpFinishes(dir, env(), db.url, [first, noTx]);
    }, 240_000);
  }
});
