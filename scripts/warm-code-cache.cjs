/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS, like bin/migrate.js whose compile it repeats */
// Writes dist/cli.cjs.cache (run by scripts/build.mjs, with the environment it sets): compiles dist/cli.cjs
// exactly as bin/migrate.js does, runs `status` and then `up` in this one process (a no-op of each, against the
// build's stand-in server: the path every pod start takes), then writes the bytecode of everything they
// compiled. One process for both commands: bin/migrate.js runs one command per process, so a cache it writes
// holds one command's functions, and the other's compiled lazily on every start.
'use strict';
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const { join } = require('node:path');
const { Script } = require('node:vm');

const bundle = join(__dirname, '..', 'dist', 'cli.cjs');
const source = readFileSync(bundle, 'utf8');
const id = source.slice(0, source.indexOf('\n'));
const script = new Script(source, { filename: bundle });
const cli = { exports: {} };
script.runInThisContext()(
  cli.exports,
  createRequire(bundle),
  cli,
  bundle,
  join(__dirname, '..', 'dist'),
  (specifier) => import(specifier),
);

(async () => {
  // The Io main() gives a command (its getter and all), so that the cache holds what a pod start compiles.
  const io = cli.exports.processIo(new globalThis.AbortController().signal);
  const codes = [];
  for (const command of ['status', 'up']) codes.push(await cli.exports.run([command], io));
  const cacheFile = `${bundle}.cache`;
  // The id padded to 8 bytes, as bin/migrate.js reads it (V8 copies cached data that is not aligned).
  const head = Buffer.from(id.padEnd(Math.ceil(id.length / 8) * 8, ' '), 'latin1');
  writeFileSync(`${cacheFile}.${process.pid}`, Buffer.concat([head, script.createCachedData()]));
  renameSync(`${cacheFile}.${process.pid}`, cacheFile);
  // Not an error for the build: a run that failed still cached what it compiled (the build says so).
  process.stdout.write(`${JSON.stringify({ codes })}\n`);
  process.exit(0);
})();
