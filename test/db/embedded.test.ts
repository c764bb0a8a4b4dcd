/** --embedded where it cannot work: one paragraph saying what to do, never a stack trace. */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { folderClosedToPostgres } from '../../src/db/embedded.js';
import { runCli, writeFiles } from '../helpers/project.js';

describe('--embedded as root', () => {
  // Only root meets this: the server must run as `postgres`, which cannot enter a root-only folder.
  it.skipIf(process.getuid?.() !== 0)(
    'in a folder the postgres user cannot enter (like /root, 0700) exits 2 naming the folder and the fixes (runs only as root)',
    async () => {
      const closed = mkdtempSync(join(tmpdir(), 'tidemark-closed-')); // 0700, owned by root
      try {
        const project = join(closed, 'app');
        mkdirSync(project);
        writeFiles(project, { 'migrations/001_a.sql': 'create table a (id int);\n' });
        chmodSync(closed, 0o700);
        const result = await runCli(['up', '--embedded'], { cwd: project, timeoutMs: 120_000 });
        expect(result.code).toBe(2);
        expect(result.stderr).toContain(`cannot enter ${closed} (mode 0700)`);
        expect(result.stderr).toContain(`chmod o+x ${closed}`);
        expect(result.stderr).not.toMatch(/EACCES|\n\s+at |Unhandled 'error'/);
      } finally {
        rmSync(closed, { recursive: true, force: true });
      }
    },
  );
});

describe('folderClosedToPostgres (the check --embedded and the test suite run as root)', () => {
  it('names the first folder on the way that postgres may not enter, and nothing once it may pass', () => {
    const closed = mkdtempSync(join(tmpdir(), 'tidemark-closed-')); // 0700, not owned by postgres
    try {
      const bin = join(closed, 'app', 'node_modules', 'bin');
      mkdirSync(bin, { recursive: true });
      expect(folderClosedToPostgres([tmpdir(), bin])).toEqual({ folder: closed, mode: '0700', path: bin });
      chmodSync(closed, 0o711); // others may pass through without listing it
      expect(folderClosedToPostgres([bin])).toBeUndefined();
      // A folder not made yet ends the walk: mkdir makes it 0755 below one already checked.
      expect(folderClosedToPostgres([join(bin, 'not', 'yet')])).toBeUndefined();
    } finally {
      rmSync(closed, { recursive: true, force: true });
    }
  });
});
