// The build's stand-in for PostgreSQL: scripts/build.mjs runs a no-op `status` and `up` against it to make the
// V8 code cache (dist/cli.cjs.cache) without a database. test/code-cache.test.ts runs the CLI's no-op `status`
// and `up` against it too, so that a query the no-op path starts sending is answered here before a build
// waits its connection deadline on it.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes the warm run's two migration files into DIR and returns the history the stand-in answers with (as
 * JSON): both applied, with their checksums, so `up` has nothing to do.
 */
export function warmMigrations(dir) {
  const files = {
    '001_one.sql': 'create table one (id int);\n',
    '002_two.sql': '-- migrate:no-transaction\ncreate index on one (id);\n',
  };
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const history = Object.entries(files).map(([name, text]) => {
    const [, version, base] = /^(\d+)_(.+)\.sql$/.exec(name);
    return [version, base, createHash('sha256').update(text).digest('hex'), 0, 1, 'build', false, null, null];
  });
  return JSON.stringify(history);
}

/**
 * A stand-in for PostgreSQL that answers what a no-op `status` and `up` send, for the code cache's warm run
 * only (tests run against a real server; test/code-cache.test.ts checks only that this answers the no-op path): trust authentication, the history query (the rows
 * it is given), the repair log's existence question (a query with parameters, so the extended protocol: "no
 * log", as on most databases), and "no such table" for any other query; Terminate ends the connection. A
 * message it does not answer leaves the client waiting for its connection deadline (a minute per build).
 */
export async function standInServer(historyJson) {
  const { createServer } = await import('node:net');
  const message = (type, ...parts) => {
    const body = Buffer.concat(parts);
    const head = Buffer.alloc(5);
    head.write(type, 0, 'latin1');
    head.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([head, body]);
  };
  const int32 = (n) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    return b;
  };
  const int16 = (n) => {
    const b = Buffer.alloc(2);
    b.writeInt16BE(n);
    return b;
  };
  const cstr = (text) => Buffer.from(`${text}\0`, 'utf8');
  const ready = message('Z', Buffer.from('I'));
  const noSuchTable = () =>
    message('E', cstr('SERROR'), cstr('VERROR'), cstr('C42P01'), cstr('Mrelation does not exist'), Buffer.from([0]));
  const server = createServer((socket) => {
    let buffered = Buffer.alloc(0);
    let started = false;
    // The extended protocol (Parse, Bind, Describe, Execute, Sync): after an error, messages up to Sync are skipped.
    let skipping = false;
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        if (!started) {
          if (buffered.length < 8) return;
          const length = buffered.readInt32BE(0);
          if (buffered.length < length) return;
          const code = buffered.readInt32BE(4);
          buffered = buffered.subarray(length);
          if (code === 80877103) {
            socket.write('N'); // SSLRequest: no
            continue;
          }
          started = true;
          socket.write(Buffer.concat([message('R', int32(0)), message('K', int32(1), int32(1)), ready]));
          continue;
        }
        if (buffered.length < 5) return;
        const type = String.fromCharCode(buffered[0]);
        const length = buffered.readInt32BE(1);
        if (buffered.length < length + 1) return;
        const body = buffered.subarray(5, length + 1);
        buffered = buffered.subarray(length + 1);
        if (type === 'X') {
          socket.end();
          return;
        }
        if (type === 'S') {
          skipping = false;
          socket.write(ready);
          continue;
        }
        if (skipping) continue;
        if (type === 'P') {
          // Body: statement name, query text (both NUL-terminated), parameter types.
          const sql = body.subarray(body.indexOf(0) + 1).toString('utf8');
          if (sql.includes('to_regclass')) socket.write(message('1'));
          else {
            skipping = true;
            socket.write(noSuchTable());
          }
          continue;
        }
        if (type === 'B') socket.write(message('2'));
        else if (type === 'D')
          socket.write(
            message('T', int16(1), cstr('present'), int32(0), int16(0), int32(16), int16(1), int32(-1), int16(0)),
          );
        else if (type === 'E')
          socket.write(
            Buffer.concat([message('D', int16(1), int32(1), Buffer.from('f')), message('C', cstr('SELECT 1'))]),
          );
        if (type !== 'Q') continue;
        const sql = body.toString('utf8');
        if (sql.includes('json_agg')) {
          const value = Buffer.from(historyJson, 'utf8');
          socket.write(
            Buffer.concat([
              message('T', int16(1), cstr('rows'), int32(0), int16(0), int32(25), int16(-1), int32(-1), int16(0)),
              message('D', int16(1), int32(value.length), value),
              message('C', cstr('SELECT 1')),
              ready,
            ]),
          );
        } else if (sql.includes('to_regclass')) {
          // Whether the repair log exists, as a simple query (what status sends): it does not.
          socket.write(
            Buffer.concat([
              message('T', int16(1), cstr('present'), int32(0), int16(0), int32(16), int16(1), int32(-1), int16(0)),
              message('D', int16(1), int32(1), Buffer.from('f')),
              message('C', cstr('SELECT 1')),
              ready,
            ]),
          );
        } else {
          socket.write(Buffer.concat([noSuchTable(), ready]));
        }
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
