#!/bin/sh
':' //; exec node -- "$0" "$@"
// The two lines above are read by sh and ignored by JavaScript (a string, then a comment). They start node with
// `--` before this file because Node 20 also reads `--env-file` when it comes after the script's name, and exits
// with its own "not found" (exit 9) before tidemark starts: `migrate --env-file missing.env` must get
// tidemark's message. Run directly with `node bin/migrate.js`, the same applies: prefer `node -- bin/migrate.js`.
const { main } = await import('../dist/cli.js');
await main();
