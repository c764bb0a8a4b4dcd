/** Throwaway project folders with migration files, and the CLI run as a user runs it. */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

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

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  readonly cwd: string;
  readonly env?: Record<string, string | undefined>;
  /** Called with the child right after it starts (to send signals). */
  readonly onSpawn?: (child: ReturnType<typeof spawn>) => void;
  readonly timeoutMs?: number;
}

/**
 * Runs `node -- bin/migrate.js ...args` (the built bundle; `--` as bin/migrate.js's own first lines do, so that
 * Node leaves `--env-file` to tidemark) in `cwd` with a clean environment: only what the
 * test passes, plus PATH and HOME. CI=1 so the output is plain lines.
 */
export function runCli(args: readonly string[], options: CliOptions): Promise<CliResult> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', CI: '1' };
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--', CLI, ...args], { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
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
export function onceServerShows(child: ReturnType<typeof spawn>, probe: () => Promise<boolean>, then: () => void): void {
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
