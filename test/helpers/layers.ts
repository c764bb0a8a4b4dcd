/**
 * The dependency rules of docs/DESIGN.md section 2, checked on src/ with the TypeScript compiler's parser
 * (already a devDependency; no resolver needed: every import inside src/ is relative). test/layers.test.ts
 * runs it, so `npm test` does; `npm run check:layers` runs that file alone.
 *
 *   cli -> core -> config / db / source / sql / backup / ops
 *   - nothing outside cli/ imports cli/ (core never does; the library in src/index.ts neither)
 *   - config/, db/, source/, sql/, backup/, ops/ never import core/
 *   - db/ and backup/ read no environment (process.env): they take what they need as arguments
 *   - only src/cli/main.ts calls process.exit
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import ts from 'typescript';

export type Rule =
  'only-cli-imports-cli' | 'lower-layers-do-not-import-core' | 'adapters-read-no-environment' | 'one-process-exit';

export interface Finding {
  readonly rule: Rule;
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

/** Layers that sit under core: they serve it and never reach up to core/ or cli/. */
const LOWER = ['config', 'db', 'source', 'sql', 'backup', 'ops'];

/**
 * Known breaches, each with its reason and where it is meant to go. The test fails on a breach not listed
 * here and on a listed one that no longer happens, so the list only shrinks.
 */
export const KNOWN: readonly { rule: Rule; file: string; why: string }[] = [
  {
    rule: 'adapters-read-no-environment',
    file: 'src/db/params.ts',
    why: "a libpq tool's environment takes PATH, the locale, TZ and TMPDIR (nothing else) from process.env by default; the callers could pass them in",
  },
  {
    rule: 'adapters-read-no-environment',
    file: 'src/backup/tools.ts',
    why: "PATH as the default search path for pg_dump; issue 12 (one database layer) passes it in from the CLI's settings",
  },
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** `src/db/x.ts` -> `db`; `src/index.ts` -> `index`. */
export function layerOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? parts[1]! : parts[1]!.replace(/\.ts$/, '');
}

/** What one file (a path under the root, `src/...`) imports and where it touches process.env / process.exit. */
export function scan(
  file: string,
  text: string,
): { imports: { target: string; line: number }[]; uses: { what: string; line: number }[] } {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const imports: { target: string; line: number }[] = [];
  const uses: { what: string; line: number }[] = [];
  const lineOf = (node: ts.Node) => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  const addImport = (node: ts.Node, specifier: string) => {
    if (!specifier.startsWith('.')) return;
    imports.push({
      target: posix.normalize(posix.join(posix.dirname(file), specifier)).replace(/\.js$/, '.ts'),
      line: lineOf(node),
    });
  };
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      addImport(node, node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      addImport(node, node.arguments[0].text);
    } else if (
      ts.isPropertyAccessExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === 'process' &&
      ['env', 'exit'].includes(node.name.text)
    ) {
      uses.push({ what: `process.${node.name.text}`, line: lineOf(node) });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { imports, uses };
}

/** Every breach of the rules in `files` (path under the root -> text), known ones included. */
export function check(files: ReadonlyMap<string, string>): Finding[] {
  const findings: Finding[] = [];
  for (const [file, text] of files) {
    const layer = layerOf(file);
    const { imports, uses } = scan(file, text);
    const add = (rule: Rule, line: number, message: string) => findings.push({ rule, file, line, message });
    for (const { target, line } of imports) {
      const to = layerOf(target);
      if (to === 'cli' && layer !== 'cli')
        add(
          'only-cli-imports-cli',
          line,
          `${file} imports ${target}: the CLI is the top layer; move what both need below it`,
        );
      if (LOWER.includes(layer) && to === 'core')
        add(
          'lower-layers-do-not-import-core',
          line,
          `${file} imports ${target}: ${layer}/ serves core/, not the other way round`,
        );
    }
    for (const { what, line } of uses) {
      if (what === 'process.exit' && file !== 'src/cli/main.ts')
        add('one-process-exit', line, `${file} calls process.exit: throw a MigrateError and let src/cli/main.ts exit`);
      if (what === 'process.env' && (layer === 'db' || layer === 'backup'))
        add(
          'adapters-read-no-environment',
          line,
          `${file} reads process.env: db/ and backup/ take what they need as arguments (config/ reads the environment)`,
        );
    }
  }
  return findings;
}

/** src/ of the repository at `root`, as `check` takes it. */
export function readSources(root: string): Map<string, string> {
  return new Map(
    sourceFiles(join(root, 'src')).map((path) => [
      relative(root, path).split(sep).join('/'),
      readFileSync(path, 'utf8'),
    ]),
  );
}

export function isKnown(finding: Finding): boolean {
  return KNOWN.some((k) => k.rule === finding.rule && k.file === finding.file);
}
