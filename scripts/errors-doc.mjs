// Writes docs/errors.md from the catalogue in src/error-codes.ts: `npm run docs:errors`.
// test/errors.test.ts renders the page with the same function and fails when the file differs, so a code
// added, removed or reworded in the catalogue without regenerating the page fails the suite.
import { writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';

const EXIT_TEXT = {
  usage: '2 (bad usage, settings or files; nothing was run)',
  failed: '1 (a migration or a check failed)',
  unavailable: '3 (database unreachable, lock not acquired, timeout)',
  signal: '130 after SIGINT, 143 after SIGTERM',
};

/** The page for `codes` (the ERROR_CODES table): one section per area, one heading per code. */
export function renderErrorsDoc(codes) {
  const areas = [...new Set(Object.values(codes).map((spec) => spec.area))];
  const title = (area) => area[0].toUpperCase() + area.slice(1);
  const lines = [
    '# Error codes',
    '',
    '<!-- Generated from src/error-codes.ts by `npm run docs:errors`; do not edit by hand (test/errors.test.ts checks it). -->',
    '',
    'Every error tidemark reports carries a stable `code` (in `--json` output as `error.code`, and on the',
    "library's `MigrateError` as `.code`) and the exit code listed here. The message names the thing that failed",
    'and the hint names the fix; this page says what each code means. A code means one failure and one exit code',
    'everywhere.',
    '',
    ...areas.map(
      (area) =>
        `- [${title(area)}](#${title(area)
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replace(/ /g, '-')})`,
    ),
    '',
  ];
  for (const area of areas) {
    lines.push(`## ${title(area)}`, '');
    for (const [code, spec] of Object.entries(codes)) {
      if (spec.area !== area) continue;
      lines.push(`### \`${code}\``, '', `Exit ${EXIT_TEXT[spec.exit]}. ${spec.meaning}`, '');
    }
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

async function main() {
  const { build } = await import('esbuild');
  const bundled = await build({
    entryPoints: ['src/error-codes.ts'],
    bundle: true,
    format: 'esm',
    write: false,
    logLevel: 'error',
  });
  const source = bundled.outputFiles[0].text;
  const { ERROR_CODES } = await import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`);
  await writeFile('docs/errors.md', renderErrorsDoc(ERROR_CODES));
  console.log(`docs/errors.md: ${Object.keys(ERROR_CODES).length} codes`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
