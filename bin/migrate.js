#!/bin/sh
':' //; exec node -- "$0" "$@"
// The two lines above are read by sh and ignored by JavaScript (a string, then a comment). They start node with
// `--` before this file because Node 20 also reads `--env-file` when it comes after the script's name, and exits
// with its own "not found" (exit 9) before tidemark starts: `migrate --env-file missing.env` must get
// tidemark's message. Run directly with `node bin/migrate.js`, the same applies: prefer `node -- bin/migrate.js`.
//
// The lint's grammar (libpg-query) is WebAssembly. A CLI run is too short to profit from V8 recompiling it with
// its optimizing tier (TurboFan), and pays for that compile: baseline code alone (Liftoff) halves the CPU of the
// pre-run lint of 1000 files (bench/lint-bench.mjs). Set before any WebAssembly is compiled, in the CLI's own
// process only; the library gets the same for the grammar alone, per call (src/sql/parser.ts callGrammar).
const v8 = await import('node:v8');
v8.setFlagsFromString('--liftoff-only');
const { main } = await import('../dist/cli.js');
await main();
