/**
 * Scratch databases (test-rollback, schema check): made and dropped by one job; one that a dead job left (a
 * second signal, a kill -9) is dropped by the next job, and one whose job still runs is never touched.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { paramsFromUrl } from '../../src/db/params.js';
import { SCRATCH_PREFIX, withScratchDatabase } from '../../src/db/scratch.js';
import { adminQuery, adminUrl, retire, urlFor } from '../helpers/db.js';

/** A name as a job makes it: the prefix, a pid, eight hex digits. */
function scratchName(pid: number): string {
  return `${SCRATCH_PREFIX}${pid}_${randomBytes(4).toString('hex')}`;
}

async function exists(name: string): Promise<boolean> {
  return (await adminQuery('select 1 from pg_database where datname = $1', [name])).rowCount === 1;
}

/** Waits (one look at a time, at most 120 s) until `name` no longer exists; false if it still does. */
async function gone(name: string): Promise<boolean> {
  for (const deadline = Date.now() + 120_000; Date.now() < deadline;) {
    if (!(await exists(name))) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return !(await exists(name));
}

/**
 * A job's admin session as withScratchDatabase holds it: the claim on the name, then the database. Ending
 * the session is the job dying (the server releases the claim; the database stays).
 */
async function job(name: string): Promise<pg.Client> {
  const admin = new pg.Client({ connectionString: adminUrl() });
  admin.on('error', () => {});
  await admin.connect();
  await admin.query('select pg_advisory_lock(hashtext($1), hashtext($2))', [SCRATCH_PREFIX, name]);
  await admin.query(`create database "${name}" template template0`);
  return admin;
}

describe('withScratchDatabase', () => {
  it('drops the scratch databases of dead jobs after its own, and leaves a running job, a connected database and a live pid alone', async () => {
    const dead = scratchName(2_000_000_001);
    const running = scratchName(2_000_000_002);
    const connected = scratchName(2_000_000_003);
    // Left by nobody known, but its pid lives on this machine (an older tidemark's job claims nothing).
    const livePid = scratchName(process.ppid);
    await adminQuery(`create database "${livePid}" template template0`);
    const died = await job(dead);
    await died.end();
    const alive = await job(running);
    // A job of a tidemark before claims: nothing claimed, but its session works in the database.
    await adminQuery(`create database "${connected}" template template0`);
    const inside = new pg.Client({ connectionString: urlFor(connected) });
    inside.on('error', () => {});
    await inside.connect();
    try {
      let mine = '';
      await withScratchDatabase(paramsFromUrl(adminUrl()), 'the test', async (scratch) => {
        mine = scratch.name;
        expect(await exists(scratch.name)).toBe(true);
      });
      expect(mine).toMatch(new RegExp(`^${SCRATCH_PREFIX}${process.pid}_[0-9a-f]{8}$`));
      expect(await exists(mine)).toBe(false);
      // Dropped by this job, or by a job of another test file that started its cleanup first (this one then
      // leaves it to that one and returns): either way it goes.
      expect(await gone(dead)).toBe(true);
      expect(await exists(running)).toBe(true);
      expect(await exists(connected)).toBe(true);
      expect(await exists(livePid)).toBe(true);
    } finally {
      await inside.end();
      await alive.end();
      for (const name of [dead, running, connected, livePid]) await retire(name);
    }
  });
});
