/**
 * Throwaway project folders with migration files, and the CLI run as a user runs it: in this process by
 * default (src/cli/main.ts's `run` with captured streams, as fast as a function call), or as a real child
 * process (bin/migrate.js, the built bundle) where a test needs one: signals, concurrent runners, terminals,
 * the embedded server.
 */
import { spawn } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../../src/errors.js';
import { loadMigrations } from '../../src/source/files.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'bin', 'migrate.js');

/** Writes `files` (path -> text) into a new temporary folder and returns its path. */
export function makeProject(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-project-'));
  writeFiles(dir, files);
  mkdirSync(join(dir, 'migrations'), { recursive: true });
  return dir;
}

export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

/** The folders of a project made by makeProject, as loadMigrations and createMigration take them. */
export function locations(dir: string) {
  return { migrationsDir: join(dir, 'migrations'), rollbackDir: join(dir, 'rollback'), cwd: dir };
}

/** The problems loadMigrations reports for the project's files (exit 2, nothing run); none when they load. */
export async function problemsOf(dir: string): Promise<readonly string[]> {
  try {
    await loadMigrations(locations(dir));
  } catch (error) {
    if (error instanceof ValidationError) return error.problems;
    throw error;
  }
  return [];
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  readonly cwd: string;
  readonly env?: Record<string, string | undefined>;
  /** Run bin/migrate.js as a child process (implied by onSpawn and by --embedded). Needs `npm run build`. */
  readonly spawn?: boolean;
  /** Called with the child right after it starts (to send signals). */
  readonly onSpawn?: (child: ReturnType<typeof spawn>) => void;
  /**
   * Called with each piece of stderr as the run writes it, in process or not: for a test that acts when the
   * output says something (releases a blocker, starts a server), which needs no child process.
   */
  readonly onStderr?: (text: string) => void;
  /** A child process is killed after this long (in-process runs are bounded by the test's timeout). */
  readonly timeoutMs?: number;
}

/** The environment a run sees: only what the test passes, plus PATH and HOME; CI=1 so output is plain lines. */
function cliEnv(options: CliOptions): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', CI: '1' };
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

class Capture extends Writable {
  text = '';
  constructor(private readonly onText?: (text: string) => void) {
    super();
  }
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    const text = chunk.toString();
    this.text += text;
    this.onText?.(text);
    done();
  }
}

/**
 * `migrate ...args` through the CLI's own entry (`run` in src/cli/main.ts) with captured streams: what
 * bin/migrate.js does, minus the process (its signal handlers, EPIPE handling and process.exit are covered by
 * the spawned tests). An error that escapes `run` is reported as main() reports it: exit 1, "Unexpected error".
 */
async function runInProcess(args: readonly string[], options: CliOptions): Promise<CliResult> {
  const { run } = await import('../../src/cli/main.js');
  const stdout = new Capture();
  const stderr = new Capture(options.onStderr);
  let code: number;
  try {
    code = await run(args, {
      stdout,
      stderr,
      stdin: Readable.from([]),
      env: cliEnv(options),
      cwd: options.cwd,
      signal: new AbortController().signal,
    });
  } catch (error) {
    stderr.text += `Unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`;
    code = 1;
  }
  return { code, signal: null, stdout: stdout.text, stderr: stderr.text };
}

/**
 * Runs `migrate ...args` in `cwd` with a clean environment (cliEnv): in process by default; with `spawn`,
 * `onSpawn` or `--embedded` as `node -- bin/migrate.js ...args` (the built bundle; `--` as bin/migrate.js's own
 * first lines do, so that Node leaves `--env-file` to tidemark).
 */
export function runCli(args: readonly string[], options: CliOptions): Promise<CliResult> {
  if (!options.spawn && !options.onSpawn && !args.includes('--embedded')) return runInProcess(args, options);
  const { onSpawn, onStderr } = options;
  return spawnCli(process.execPath, ['--', CLI, ...args], {
    ...options,
    env: cliEnv(options),
    onSpawn: (child) => {
      if (onStderr) child.stderr!.on('data', (d: Buffer) => onStderr(d.toString()));
      onSpawn?.(child);
    },
  });
}

export interface SpawnOptions {
  readonly cwd: string;
  /** The child's whole environment (nothing is inherited). */
  readonly env: Record<string, string>;
  /** Called with the child right after it starts (to send signals, to follow its output). */
  readonly onSpawn?: ((child: ReturnType<typeof spawn>) => void) | undefined;
  /** The child is killed (SIGKILL) after this long; 60 s by default. */
  readonly timeoutMs?: number | undefined;
}

/**
 * Runs `command ...args` as a child process and resolves with its exit and both streams once it has closed:
 * the CLI as `runCli({ spawn: true })` runs it, or as a user runs it (bin/migrate.js itself, a shell pipe).
 */
export function spawnCli(command: string, args: readonly string[], options: SpawnOptions): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
    options.onSpawn?.(child);
  });
}

/**
 * Polls `probe` one call at a time (never two in flight) until it returns true, then calls `then` exactly once.
 * Stops when `child` exits first. For tests that act on a child once the server shows a state: a signal sent
 * twice because two overlapping polls both saw the state makes such a test fail under load.
 */
export function onceServerShows(
  child: ReturnType<typeof spawn>,
  probe: () => Promise<boolean>,
  then: () => void,
): void {
  let exited = false;
  child.once('exit', () => (exited = true));
  void (async () => {
    while (!exited) {
      if (await probe().catch(() => false)) {
        if (!exited) then();
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
}
