/** The layers of docs/DESIGN.md section 2 hold in src/ (the checker: test/helpers/layers.ts). */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KNOWN, check, isKnown, readSources } from './helpers/layers.js';
import { ROOT } from './helpers/project.js';

describe('the dependency rules of DESIGN section 2', () => {
  const findings = check(readSources(ROOT));

  it('hold in src/, apart from the breaches listed in KNOWN', () => {
    const fresh = findings.filter((f) => !isKnown(f)).map((f) => `${f.file}:${f.line} ${f.message}`);
    expect(fresh).toEqual([]);
  });

  it('list no breach in KNOWN that has been fixed (take it off the list)', () => {
    const stale = KNOWN.filter((k) => !findings.some((f) => f.rule === k.rule && f.file === k.file));
    expect(stale).toEqual([]);
  });
});

describe('the checker', () => {
  const rulesOf = (files: Record<string, string>) =>
    check(new Map(Object.entries(files))).map((f) => `${f.file} ${f.rule}`);

  it('finds core importing the CLI, statically or lazily, and the library importing it', () => {
    expect(
      rulesOf({
        'src/core/a.ts': "import { x } from '../cli/render.js';\nconst y = await import('../cli/output.js');\n",
        'src/index.ts': "export { run } from './cli/main.js';\n",
        'src/cli/commands/up.ts': "import { CommandContext } from '../context.js';\n",
      }),
    ).toEqual([
      'src/core/a.ts only-cli-imports-cli',
      'src/core/a.ts only-cli-imports-cli',
      'src/index.ts only-cli-imports-cli',
    ]);
  });

  it('finds a lower layer importing core, and lets core import it', () => {
    expect(
      rulesOf({
        'src/db/history.ts': "import type { Plan } from '../core/plan.js';\n",
        'src/core/plan.ts': "import { HistoryStore } from '../db/history.js';\n",
      }),
    ).toEqual(['src/db/history.ts lower-layers-do-not-import-core']);
  });

  it('finds process.env in db/ and backup/ but not in config/, and process.exit anywhere but cli/main.ts', () => {
    expect(
      rulesOf({
        'src/db/x.ts': 'export const u = process.env.USER;\n',
        'src/backup/y.ts': 'const { PATH } = process.env;\n',
        'src/config/settings.ts': 'export const e = process.env;\n',
        'src/core/z.ts': 'process.exit(1);\n',
        'src/cli/main.ts': 'process.exit(0);\n',
      }),
    ).toEqual([
      'src/db/x.ts adapters-read-no-environment',
      'src/backup/y.ts adapters-read-no-environment',
      'src/core/z.ts one-process-exit',
    ]);
  });
});

/**
 * vitest.config.ts runs test files without isolation (a worker keeps its loaded modules from one file to the
 * next): safe only while no test file changes what the next one would see in the same process.
 */
describe('test files that share a worker', () => {
  const PROCESS_WIDE = [/\bvi\.(mock|doMock|stubEnv|stubGlobal|useFakeTimers)\(/, /\bprocess\.chdir\(/];
  // Changing process.env is allowed to a file that puts the whole of it back (`process.env = { ...saved }`).
  const ENV_WRITE = [
    /\bprocess\.env(\.\w+|\[[^\]]+\])\s*(=[^=]|\+\+|--)/,
    /\bdelete\s+process\.env\b/,
    /\bObject\.assign\(\s*process\.env\b/,
  ];
  const ENV_RESTORED = /\bprocess\.env = \{ \.\.\.\w+ \}/;

  it('change no process-wide state (module mocks, the working directory, fake timers; process.env only if restored)', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (/\.(ts|mjs)$/.test(entry.name) && !path.endsWith('layers.test.ts')) {
          const text = readFileSync(path, 'utf8');
          const rules = ENV_RESTORED.test(text) ? PROCESS_WIDE : [...PROCESS_WIDE, ...ENV_WRITE];
          text.split('\n').forEach((line, i) => {
            if (rules.some((re) => re.test(line))) offenders.push(`${relative(ROOT, path)}:${i + 1}`);
          });
        }
      }
    };
    walk(join(ROOT, 'test'));
    expect(offenders).toEqual([]);
  });
});
