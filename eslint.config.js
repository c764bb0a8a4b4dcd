// ESLint (flat config) with typescript-eslint: `npm run lint`. The recommended sets, plus the promise rules
// that need types on src/ (a forgotten await in the runner loses a rollback or a lock release). A rule
// switched off or tuned here says why.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeGlobals = Object.fromEntries(
  [
    'process',
    'console',
    'Buffer',
    'URL',
    'performance',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'setImmediate',
  ].map((name) => [name, 'readonly']),
);

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.tidemark/', 'backups/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: nodeGlobals },
    rules: {
      // `const { dropped: _dropped, ...kept } = x` and `(_unused, used) =>` are how the code omits on purpose.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      // `promises` of node:fs, read at the call: the bundle turns an import of node:fs/promises into a require
      // at start-up, which loads its module and readline's (~1 ms) on every command (docs/decisions.md).
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'node:fs/promises',
              allowTypeImports: true,
              message: "Use `import { promises as fsp } from 'node:fs'`: it loads only when first called.",
            },
            {
              // perf_hooks loads its eleven modules (~0.4 ms) when imported; the global loads them on first use.
              name: 'node:perf_hooks',
              allowTypeImports: true,
              message: 'Use the global `performance`: it loads only when first used, not on every start.',
            },
          ],
        },
      ],
    },
  },
  {
    // The executable is CommonJS (bin/package.json): it starts without the ES module loader. The build's code
    // cache warm-up repeats its compile, so it is CommonJS too.
    files: ['bin/migrate.js', 'scripts/warm-code-cache.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { ...nodeGlobals, require: 'readonly', __dirname: 'readonly' },
    },
  },
  {
    // Terminal tests match ANSI escapes (\x1b) on purpose.
    files: ['test/**/*.ts'],
    rules: { 'no-control-regex': 'off' },
  },
);
