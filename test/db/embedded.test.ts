/** --embedded where it cannot work: one paragraph saying what to do, never a stack trace. */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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
