/**
 * BACKUP_UPLOAD_COMMAND: run after validation with the backup's path as one argv element. The command text is
 * split into words here (quotes and backslashes as in sh, nothing expanded) and run without a shell, so a path
 * or a setting can never inject a command. A word `{file}` marks where the path goes (`aws s3 cp {file}
 * s3://bucket/`); without one, the path is the last argument.
 */
import { MigrateError, usageError } from '../errors.js';
import { describeExit, runProgram, SpawnError } from './process.js';

export const FILE_PLACEHOLDER = '{file}';

/** Splits a command line into words: '...' literal, "..." with \" \\ \$ \` escapes, \x outside quotes. */
export function splitCommand(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      else word += ch;
    } else if (quote === '"') {
      if (ch === '"') quote = undefined;
      else if (ch === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) word += text[++i];
      else word += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quote !== undefined) {
    throw usageError('bad-upload-command', `BACKUP_UPLOAD_COMMAND has an unclosed ${quote} quote.`, {
      hint: 'Close the quote; the command is split into words like sh does, without expanding anything.',
    });
  }
  if (inWord) words.push(word);
  return words;
}

export interface UploadOptions {
  readonly command: string;
  readonly file: string;
  /** The upload tool's environment (its cloud credentials); the parent's when omitted. */
  readonly env?: NodeJS.ProcessEnv | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onSpawn?: ((pid: number) => void) | undefined;
}

export interface UploadResult {
  readonly argv: readonly string[];
  readonly durationMs: number;
}

/** Runs the upload command; throws `backup-upload-failed` (exit 1) with its stderr when it fails. */
export async function runUpload(options: UploadOptions): Promise<UploadResult> {
  const words = splitCommand(options.command);
  if (words.length === 0) throw usageError('bad-upload-command', 'BACKUP_UPLOAD_COMMAND is empty.');
  const argv = words.includes(FILE_PLACEHOLDER)
    ? words.map((w) => (w === FILE_PLACEHOLDER ? options.file : w))
    : [...words, options.file];
  const started = Date.now();
  const [program, ...args] = argv as [string, ...string[]];
  let result;
  try {
    result = await runProgram(program, args, { env: options.env, signal: options.signal, onSpawn: options.onSpawn });
  } catch (error) {
    if (error instanceof SpawnError) {
      throw new MigrateError(
        'backup-upload-failed',
        `The upload command ${program} could not start (${error.errno}).`,
        {
          hint: 'Check BACKUP_UPLOAD_COMMAND: its first word must be a program on PATH or a path. The backup file is kept.',
          cause: error,
        },
      );
    }
    throw error;
  }
  if (result.code !== 0) {
    throw new MigrateError(
      'backup-upload-failed',
      `The upload command failed (${describeExit(result)})${result.stderr ? `: ${result.stderr}` : '.'}`,
      {
        hint: `The validated backup is kept at ${options.file}; fix the upload (or unset BACKUP_UPLOAD_COMMAND) and run again.`,
        details: { program, exitCode: result.code, stderr: result.stderr, file: options.file },
      },
    );
  }
  return { argv, durationMs: Date.now() - started };
}
