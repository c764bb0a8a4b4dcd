/**
 * The client tidemark opens (db/connection.ts WatchedClient): its promise queries go through
 * pg-internals queryWithCallback, the same forms and answers as pg's own promise path, without keeping earlier
 * queries alive through V8's scavenges while the optimizing compiler is held off (as the CLI does in a run).
 */
import { GCProfiler } from 'node:v8';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type WatchedClient } from '../../src/db/connection.js';
import { paramsFromUrl } from '../../src/db/params.js';
import { holdOptimizer, releaseOptimizer } from '../../src/v8-flags.js';
import { useTestDatabase } from '../helpers/db.js';

const db = useTestDatabase('db_connection');
let client: WatchedClient;

beforeAll(async () => {
  client = await connect(paramsFromUrl(db.url));
});
afterAll(async () => {
  await client?.end();
});

describe('WatchedClient queries', () => {
  it('answers every form of query as pg does', async () => {
    expect((await client.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
    expect((await client.query('select $1::int + 1 as two', [1])).rows).toEqual([{ two: 2 }]);
    expect(
      (await client.query({ text: 'select $1::text as t, 2 as n', values: ['x'], rowMode: 'array' })).rows,
    ).toEqual([['x', 2]]);
    const results = (await client.query('select 1 as a; select 2 as b')) as unknown as pg.QueryResult[];
    expect(results.map((r) => r.rows[0])).toEqual([{ a: 1 }, { b: 2 }]);
    // The callback form and a submittable are pg's own.
    const viaCallback = await new Promise<unknown>((resolve, reject) =>
      client.query('select 3 as c', (error: Error | undefined, result: pg.QueryResult) =>
        error ? reject(error) : resolve(result.rows),
      ),
    );
    expect(viaCallback).toEqual([{ c: 3 }]);
    const submitted = await new Promise<unknown>((resolve, reject) => {
      client.query(
        new (
          pg.Query as unknown as new (
            t: string,
            v: undefined,
            cb: (e: Error | undefined, r: pg.QueryResult) => void,
          ) => pg.Query
        )('select 4 as d', undefined, (e, r) => (e ? reject(e) : resolve(r.rows))),
      );
    });
    expect(submitted).toEqual([{ d: 4 }]);
  });

  it('fails with the server error and its position', async () => {
    const error = (await client.query('select 1;\nselect nope').catch((e: unknown) => e)) as pg.DatabaseError;
    expect(error).toBeInstanceOf(pg.DatabaseError);
    expect(error.code).toBe('42703');
    expect(error.position).toBe('18');
    // The session is usable after it.
    expect((await client.query('select 5 as e')).rows).toEqual([{ e: 5 }]);
  });

  it('keeps nothing of earlier queries alive through scavenges while the optimizer is off', async () => {
    // pg's own promise path (the callback assigned after the Query is made) kept every earlier query's objects
    // alive until the next full GC: ~1.4 KB per query since the last scavenge survived each one, promoted to
    // the old generation as garbage. What survives a scavenge also depends on the process (the worker's young
    // generation, whatever else is in flight: 0.2 MB alone, ~1 MB once seen in a full suite), so the fixed
    // path is compared with pg's own, in turns, in this same process and under the same hold.
    const plain = new pg.Client({ connectionString: db.url });
    await plain.connect();
    const held = holdOptimizer();
    /** Bytes surviving a scavenge on average, over at least 4 scavenges of `query` in a loop. */
    const survivalOf = async (query: () => Promise<unknown>): Promise<number> => {
      const profiler = new GCProfiler();
      profiler.start();
      let scavenges = 0;
      let survived = 0;
      try {
        for (let i = 0; i < 40_000 && scavenges < 4; i += 1) {
          await query();
          if (i % 250 !== 249) continue;
          const stats = profiler.stop();
          profiler.start();
          for (const gc of stats?.statistics ?? []) {
            if (gc.gcType !== 'Scavenge') continue;
            scavenges += 1;
            const space = (st: typeof gc.afterGC, name: string) =>
              st.heapSpaceStatistics.find((x) => x.spaceName === name)?.spaceUsedSize ?? 0;
            survived +=
              space(gc.afterGC, 'new_space') +
              Math.max(0, space(gc.afterGC, 'old_space') - space(gc.beforeGC, 'old_space'));
          }
        }
      } finally {
        profiler.stop();
      }
      expect(scavenges).toBeGreaterThan(0);
      return survived / scavenges;
    };
    let viaPg = 0;
    let viaTidemark = 0;
    try {
      for (let turn = 0; turn < 2; turn += 1) {
        viaPg += await survivalOf(() => plain.query('select 1 as x'));
        viaTidemark += await survivalOf(() => client.query('select 1 as x'));
      }
    } finally {
      if (held) releaseOptimizer();
      await plain.end();
    }
    // Alone: ~1.9 MB through pg's path against ~0.2 MB.
    expect(viaTidemark).toBeLessThan(viaPg * 0.6);
  }, 60_000);
});
