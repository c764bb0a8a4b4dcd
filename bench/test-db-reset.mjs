// Measures what a test's fresh database costs (issue 12, the test suite): the old reset (DROP DATABASE, then
// CREATE DATABASE) against the test helper's (rename aside + CREATE DATABASE ... TEMPLATE, drops deferred to
// the end of the run and done 8 at a time), interleaved in one run so load on the machine hits both alike.
// Run: TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node bench/test-db-reset.mjs [rounds]
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const url = process.env.TEST_DATABASE_URL;
if (!url) {
  console.error('Set TEST_DATABASE_URL to a server where this may create and drop databases.');
  process.exit(2);
}
const rounds = Number(process.argv[2] ?? 20);
const prefix = `tm_bench_${randomBytes(3).toString('hex')}_`;
const admin = new pg.Client({ connectionString: url });
await admin.connect();
const q = (text) => admin.query(text);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const time = async (work) => {
  const start = performance.now();
  await work();
  return performance.now() - start;
};

const template = `${prefix}template`;
const a = `${prefix}a`;
const b = `${prefix}b`;
await q(`create database "${template}" template template0`);
await q(`create database "${a}"`);
await q(`create database "${b}" template "${template}"`);
// A little dirty data, as a test leaves behind: the checkpoint a drop forces has something to write.
const dirty = async (name) => {
  const c = new pg.Client({ connectionString: new URL(`/${name}`, url).toString() });
  await c.connect();
  await c.query('create table t as select g as id, md5(g::text) as v from generate_series(1, 20000) g');
  await c.end();
};

const old = [];
const now = [];
for (let i = 0; i < rounds; i += 1) {
  await dirty(a);
  old.push(
    await time(async () => {
      await q(`drop database "${a}" with (force)`);
      await q(`create database "${a}"`);
    }),
  );
  await dirty(b);
  now.push(
    await time(async () => {
      await q(`alter database "${b}" rename to "${prefix}retired_${i}"`);
      await q(`create database "${b}" template "${template}"`);
    }),
  );
}
const names = (await admin.query('select datname from pg_database where starts_with(datname, $1)', [prefix])).rows.map(
  (r) => r.datname,
);
const deferred = await time(async () => {
  const queue = [...names];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      for (let n = queue.shift(); n !== undefined; n = queue.shift())
        await c.query(`drop database if exists "${n}" with (force)`);
      await c.end();
    }),
  );
});
await admin.end();

const fmt = (ms) => `${ms.toFixed(0)} ms`;
console.log(`fresh database for a test, median of ${rounds} (interleaved)`);
console.log(`  drop + create (before)              ${fmt(median(old))}`);
console.log(
  `  rename + clone template (after)     ${fmt(median(now))}   ratio ${(median(now) / median(old)).toFixed(2)}x`,
);
console.log(
  `  end of run: ${names.length} databases dropped 8 at a time in ${fmt(deferred)} (${fmt(deferred / names.length)} each)`,
);
