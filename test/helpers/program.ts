/**
 * The CLI's commander program with streams that go nowhere and no exit: for tests that read its shape (shell
 * completion, the CI examples' command lines) rather than run a command.
 */
import { tmpdir } from 'node:os';
import { PassThrough } from 'node:stream';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.js';

/** `only`: the one command to define, as a run of that command does (main.ts commandOf); all when absent. */
export function quietProgram(only?: string): Command {
  const io = {
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    stdin: new PassThrough(),
    env: {},
    cwd: tmpdir(),
    signal: new AbortController().signal,
  };
  return buildProgram(io, () => {}, only);
}
