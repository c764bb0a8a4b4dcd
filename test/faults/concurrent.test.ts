/**
 * Twenty runners at once (pods started together), a few of them killed with SIGKILL at random moments:
 * every migration is applied exactly once, the history agrees with the catalog, nothing is left held.
 */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';
import { makeProject } from '../helpers/project.js';
import { REPEAT, nextUpFinishes, settled, start, writeSteps, type Step } from './helpers.js';

const RUNNERS = 20;
const KILLED = 6;

const db = useTestDatabase('faults_concurrent');

/** Each migration logs its version in `runs`: a second application would show as a second row. */
function steps(): Step[] {
  const log = (v: string) => `insert into runs values ('${v}');`;
  return [
    {
      version: '001',
      name: 'runs',
      sql: `create table runs (version text not null);\n${log('001')}\nselect pg_sleep(0.2);\n`,
      probe: `select to_regclass('public.runs') is not null as applied`,
    },
    ...['002', '003', '004', '005'].map((v) => ({
      version: v,
      name: `t${v}`,
      sql: `create table t${v} (id int);\n${log(v)}\nselect pg_sleep(0.2);\n`,
      probe: `select to_regclass('public.t${v}') is not null as applied`,
    })),
  ];
}

describe(`${RUNNERS} runners at once, ${KILLED} killed at random`, () => {
  for (let i = 1; i <= REPEAT; i += 1) {
    it(`apply each migration exactly once and leave nothing held (run ${i}/${REPEAT})`, async () => {
      await db.reset();
      const all = steps();
      const dir = makeProject();
      writeSteps(dir, all);
      const env = { DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false' };
      const runs = Array.from({ length: RUNNERS }, () => start(['up', '--wait', '120'], dir, env));
      const victims = [...runs].sort(() => Math.random() - 0.5).slice(0, KILLED);
      for (const victim of victims) setTimeout(() => victim.child.kill('SIGKILL'), Math.random() * 1500);
      const results = await Promise.all(runs.map((r) => r.done));
      // A runner that was not killed finished cleanly: it migrated, or found the work done by another.
      for (const [k, result] of results.entries()) {
        if (result.signal === 'SIGKILL') continue;
        expect({ runner: k, code: result.code, stderr: result.stderr }).toMatchObject({ runner: k, code: 0 });
      }
      const applied = await settled(db, all);
      if (applied.length > 0) {
        const counts = await db.query<{ version: string; n: number }>(
          'select version, count(*)::int as n from runs group by version order by version',
        );
        expect(counts).toEqual(applied.map((v) => ({ version: v, n: 1 })));
      }
      await nextUpFinishes(dir, env, db.url, all);
      const counts = await db.query<{ version: string; n: number }>(
        'select version, count(*)::int as n from runs group by version order by version',
      );
      expect(counts).toEqual(all.map((s) => ({ version: s.version, n: 1 })));
    }, 180_000);
  }
});
