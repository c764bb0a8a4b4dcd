/** An alert command for tests: a script that appends its stdin to a file. */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Alert } from '../../src/ops/alerts.js';

/** A command that writes its stdin to a file (its path has a space: the command line is split into words, not run by a shell). */
export function recorder(exitCode = 0): { command: string; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tm alert '));
  const script = join(dir, 'recv.mjs');
  const out = join(dir, 'alerts.jsonl');
  writeFileSync(
    script,
    `import { appendFileSync } from 'node:fs';\nlet s = '';\nprocess.stdin.on('data', (d) => (s += d));\nprocess.stdin.on('end', () => { appendFileSync(process.argv[2], s); process.exit(${exitCode}); });\n`,
  );
  return { command: `"${process.execPath}" "${script}" "${out}"`, out };
}

export function lines(path: string): Alert[] {
  return existsSync(path)
    ? readFileSync(path, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Alert)
    : [];
}
