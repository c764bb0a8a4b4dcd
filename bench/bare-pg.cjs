/* eslint-disable no-undef, @typescript-eslint/no-require-imports -- CommonJS on purpose: the floor is what a plain CommonJS script pays. */
// The cold-start floor of any Node.js runner: start node, load pg (from the peers folder), connect, one
// query, exit. CommonJS like most such scripts; DATABASE_URL and PEERS come from runner-bench.mjs.
const { Client } = require(require.resolve('pg', { paths: [process.env.PEERS] }));
(async () => {
  const client = new Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  await client.query('select 1');
  await client.end();
})().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
