/**
 * Fake pg_dump binaries for fault tests: shell scripts in a temporary folder, with the real pg_restore linked
 * beside them (findPgTools takes pg_restore from pg_dump's folder). The fakes are for the port that is not
 * the database: a pg_dump that lies about its version, fails, or writes a bad file.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/** A temporary folder removed by removeTempDirs() (call it in afterAll). */
export async function tempDir(prefix = 'tidemark-backup-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true });
}

export function realTool(name: 'pg_dump' | 'pg_restore'): string {
  return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
}

/** A folder holding `pg_dump` (the given script body, after a POSIX sh shebang) and the real pg_restore. */
export async function fakePgDump(body: string): Promise<{ dir: string; path: string }> {
  const dir = await tempDir('tidemark-fake-pgdump-');
  const path = join(dir, 'pg_dump');
  const real = realTool('pg_dump');
  await writeFile(path, `#!/bin/sh\nREAL_PG_DUMP='${real}'\n${body}\n`);
  await chmod(path, 0o755);
  await symlink(realTool('pg_restore'), join(dir, 'pg_restore'));
  return { dir, path };
}

/** Shell that answers --version like the real pg_dump, then runs `rest` for a dump. */
export const answersVersion = `case "$1" in --version|-V) exec "$REAL_PG_DUMP" --version;; esac
out=''
for a in "$@"; do case "$a" in --file=*) out="\${a#--file=}";; esac; done`;
