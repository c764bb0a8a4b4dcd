/**
 * Running the libpq tools and the upload command: argv arrays only (never a shell string), stderr kept for
 * the error message (its tail, with any password masked), and an AbortSignal that kills the child.
 */
import { spawn } from 'node:child_process';
import { maskPasswords } from '../db/params.js';

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly signal?: AbortSignal;
  /** Collect stdout (pg_restore --list); otherwise it is discarded. */
  readonly captureStdout?: boolean;
  /** Called once the child exists, with its pid (progress rendering, and the test that reads /proc/PID). */
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
    const child = spawn(program, args, {
      env: options.env,
      stdio: ['ignore', options.captureStdout ? 'pipe' : 'ignore', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = Buffer.alloc(0);
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => {
      err = Buffer.concat([err, chunk]);
      if (err.length > STDERR_KEEP * 2) err = err.subarray(err.length - STDERR_KEEP);
    });
    const onAbort = () => child.kill('SIGTERM');
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

/** "exit code 1" / "killed by SIGKILL", for messages. */
export function describeExit(result: RunResult): string {
  return result.code === null ? `killed by ${result.signal ?? 'a signal'}` : `exit code ${result.code}`;
}
