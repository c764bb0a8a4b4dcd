/**
 * Running the libpq tools and the upload command: argv arrays only (never a shell string), stderr kept for
 * the error message (its tail, with any password masked), and an AbortSignal that kills the child.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { maskPasswords } from '../db/params.js';

/**
 * A child must never outlive tidemark: a pg_dump left behind keeps its locks and blocks the next run. An exit
 * handler cannot run after kill -9, and prctl(PR_SET_PDEATHSIG) is Linux-only and out of Node's reach. So the
 * program runs under a small /bin/sh watchdog whose fd 3 is a pipe from us: however tidemark ends, the
 * kernel closes our end, `read` returns, and the watchdog stops the program. When the program ends first,
 * the watchdog is stopped instead. The arguments reach the program as "$@", unquoted by nobody.
 */
const WATCHDOG =
  'exec 3<&0 </dev/null; "$0" "$@" & child=$!; ' +
  '{ read _ <&3; kill -TERM $child 2>/dev/null; } & watcher=$!; ' +
  'wait $child; status=$?; kill $watcher 2>/dev/null; exit $status';
const SHELL = '/bin/sh';
let shellChecked: boolean | undefined;

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly signal?: AbortSignal;
  /** Collect stdout (pg_restore --list); otherwise it is discarded. */
  readonly captureStdout?: boolean;
  /**
   * Called once the child exists, with its pid (progress rendering, and the test that reads /proc/PID): the
   * watchdog shell's, whose command line and environment are the program's own plus the script.
   */
  readonly onSpawn?: (pid: number) => void;
  /** Secrets to mask in the captured output, besides any postgres:// URL password. */
  readonly secrets?: readonly (string | undefined)[];
}

export interface RunResult {
  /** Exit code, or null when the child died from a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  /** The last 16 KiB of stderr, trimmed, passwords masked. */
  readonly stderr: string;
}

/** Thrown when the program could not be started at all (ENOENT, EACCES). */
export class SpawnError extends Error {
  readonly errno: string | undefined;
  constructor(program: string, cause: NodeJS.ErrnoException) {
    super(`could not start ${program}: ${cause.code ?? cause.message}`, { cause });
    this.errno = cause.code;
  }
}

const STDERR_KEEP = 16 * 1024;

export function runProgram(program: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(options.signal.reason);
      return;
    }
    shellChecked ??= existsSync(SHELL);
    // A program that cannot start is still reported by spawn itself (SpawnError: ENOENT, EACCES), not as
    // the shell's exit 127: the watchdog is used for programs known to be there.
    const watched = shellChecked && canRun(program);
    const child = watched
      ? spawn(SHELL, ['-c', WATCHDOG, program, ...args], {
          env: options.env,
          stdio: ['pipe', options.captureStdout ? 'pipe' : 'ignore', 'pipe'],
        })
      : spawn(program, args, {
          env: options.env,
          stdio: ['ignore', options.captureStdout ? 'pipe' : 'ignore', 'pipe'],
        });
    // Nothing is ever written to the watchdog's pipe; an error on it (EPIPE once the child is gone) is moot.
    child.stdin?.on('error', () => {});
    const out: Buffer[] = [];
    let err = Buffer.alloc(0);
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => {
      err = Buffer.concat([err, chunk]);
      if (err.length > STDERR_KEEP * 2) err = err.subarray(err.length - STDERR_KEEP);
    });
    // Closing the pipe is what the watchdog waits for; without one, the program itself is signalled.
    const onAbort = () => (watched ? child.stdin?.destroy() : child.kill('SIGTERM'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let spawnFailed = false;
    child.once('error', (error: NodeJS.ErrnoException) => {
      spawnFailed = true;
      options.signal?.removeEventListener('abort', onAbort);
      reject(new SpawnError(program, error));
    });
    child.once('spawn', () => {
      if (child.pid !== undefined) options.onSpawn?.(child.pid);
    });
    child.once('close', (code, signal) => {
      options.signal?.removeEventListener('abort', onAbort);
      child.stdin?.destroy();
      if (spawnFailed) return;
      if (options.signal?.aborted) {
        reject(options.signal.reason);
        return;
      }
      const tail = err.length > STDERR_KEEP ? err.subarray(err.length - STDERR_KEEP) : err;
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: maskPasswords(tail.toString('utf8').trim(), ...(options.secrets ?? [])),
      });
    });
  });
}

function canRun(program: string): boolean {
  if (!isAbsolute(program)) return false;
  try {
    accessSync(program, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** "exit code 1" / "killed by SIGKILL", for messages. */
export function describeExit(result: RunResult): string {
  return result.code === null ? `killed by ${result.signal ?? 'a signal'}` : `exit code ${result.code}`;
}
