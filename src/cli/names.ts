/** The names the CLI is installed under (package.json `bin`); completion scripts register each. */
export const BIN_NAMES: readonly string[] = ['migrate', 'tidemark'];

/** The shells `migrate completion` writes a script for. */
export const SHELLS = ['bash', 'zsh', 'fish'] as const;
