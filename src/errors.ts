/**
 * The one error family of tidemark. Code throws a MigrateError where the fact is known; `cli/main.ts`
 * renders it once and exits with its `exitCode`. `code` is a stable kebab-case id that scripts may match on.
 */
export const EXIT = {
  ok: 0,
  failed: 1, // a migration or a check failed
  usage: 2, // bad usage, settings or migration files; nothing was run
  unavailable: 3, // database unreachable, runner lock not acquired, timeout
  sigint: 130,
  sigterm: 143,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface MigrateErrorOptions {
  readonly hint?: string;
  readonly cause?: unknown;
  /** Extra structured facts, rendered in --json output (never a password). */
  readonly details?: Record<string, unknown>;
}

export class MigrateError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, exitCode: ExitCode, message: string, options: MigrateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MigrateError';
    this.code = code;
    this.exitCode = exitCode;
    this.hint = options.hint;
    this.details = options.details;
  }
}

/** Bad usage, settings or files: exit 2, nothing was run. */
export function usageError(code: string, message: string, options?: MigrateErrorOptions): MigrateError {
  return new MigrateError(code, EXIT.usage, message, options);
}

/** Several problems found while validating input, reported together. */
export class ValidationError extends MigrateError {
  readonly problems: readonly string[];
  constructor(code: string, message: string, problems: readonly string[], options?: MigrateErrorOptions) {
    super(code, EXIT.usage, message, options);
    this.problems = problems;
  }
}

export function isMigrateError(error: unknown): error is MigrateError {
  return error instanceof MigrateError;
}
