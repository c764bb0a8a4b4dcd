/**
 * The one error family of tidemark. Code throws a MigrateError where the fact is known; `cli/main.ts`
 * renders it once and exits with its `exitCode`. `code` is a stable kebab-case id that scripts may match on,
 * one of the catalogue in error-codes.ts, which also fixes its exit code and its entry in docs/errors.md.
 */
import { ERROR_CODES, docsAnchor, renderForAudience, type Audience, type ErrorCode } from './error-codes.js';

export { ERROR_CODES, KNOBS, type Audience, type ErrorCode, type Knob } from './error-codes.js';

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
  /** The fix. May name knobs as `{{knob}}` (error-codes.ts KNOBS): each audience reads its own words. */
  readonly hint?: string | undefined;
  readonly cause?: unknown;
  /** Extra structured facts, rendered in --json output (never a password). */
  readonly details?: Record<string, unknown> | undefined;
  /** The signal that stopped the work, for the codes whose exit code is the signal's (`interrupted`). */
  readonly signal?: string | undefined;
}

/** The exit code of `code`, as the catalogue says; a signal's code exits 143 for SIGTERM, else 130. */
export function exitCodeOf(code: ErrorCode, signal?: string): ExitCode {
  // A code from plain JavaScript that is not in the table: a failure, never a crash while reporting one.
  const spec: { exit: string } | undefined = ERROR_CODES[code];
  switch (spec?.exit) {
    case 'usage':
      return EXIT.usage;
    case 'failed':
      return EXIT.failed;
    case 'unavailable':
      return EXIT.unavailable;
    case 'signal':
      return signal === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint;
    default:
      return EXIT.failed;
  }
}

export class MigrateError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: ExitCode;
  readonly details: Record<string, unknown> | undefined;
  readonly #hint: string | undefined;
  #audience: Audience = 'cli';
  readonly signal: string | undefined;

  /** The exit code comes from the catalogue (error-codes.ts): a code means one exit code everywhere. */
  constructor(code: ErrorCode, message: string, options: MigrateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MigrateError';
    this.code = code;
    this.exitCode = exitCodeOf(code, options.signal);
    this.#hint = options.hint;
    this.details = options.details;
    this.signal = options.signal;
  }

  /** The fix, naming what the reader can turn: flags and variables, or options once addressedTo('library'). */
  get hint(): string | undefined {
    return this.#hint === undefined ? undefined : renderForAudience(this.#hint, this.#audience);
  }

  /** The hint as written, its `{{knobs}}` unrendered: for an error that wraps this one and keeps both readings. */
  get hintTemplate(): string | undefined {
    return this.#hint;
  }

  /** Words the hint for `audience` (the CLI's by default). Returns the error itself. */
  addressedTo(audience: Audience): this {
    this.#audience = audience;
    return this;
  }

  /** Where docs/errors.md explains this code. */
  get docs(): string {
    return docsAnchor(this.code);
  }
}

/** A MigrateError: the factory the code uses (the exit code follows from `code`). */
export function migrateError(code: ErrorCode, message: string, options?: MigrateErrorOptions): MigrateError {
  return new MigrateError(code, message, options);
}

/** Bad usage, settings or files (the catalogue gives these codes exit 2; nothing was run). */
export function usageError(code: ErrorCode, message: string, options?: MigrateErrorOptions): MigrateError {
  return new MigrateError(code, message, options);
}

/** Work stopped by SIGINT or SIGTERM: code `interrupted`, exit 130 or 143. */
export function interruptedError(
  signal: string,
  message: string,
  options?: Omit<MigrateErrorOptions, 'signal'>,
): MigrateError {
  return new MigrateError('interrupted', message, { ...options, signal });
}

/** Several problems found while validating input, reported together. */
export class ValidationError extends MigrateError {
  readonly problems: readonly string[];
  constructor(code: ErrorCode, message: string, problems: readonly string[], options?: MigrateErrorOptions) {
    super(code, message, options);
    this.problems = problems;
  }
}

export function isMigrateError(error: unknown): error is MigrateError {
  return error instanceof MigrateError;
}
