/**
 * The CLI's entry and its one error boundary: every error is rendered once here, and this is the only
 * process.exit of the program. Commands are thin (src/cli/commands/<verb>.ts).
 */
import { writeSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { EXIT } from '../errors.js';
import { CommandContext, type GlobalFlags, type Io } from './context.js';
import { renderError } from './render.js';
import * as backfill from './commands/backfill.js';
import { parseWait } from './commands/shared.js';
import { DEFAULT_DB_WAIT_SECONDS } from '../db/wait.js';
import * as backup from './commands/backup.js';
import * as create from './commands/create.js';
import * as down from './commands/down.js';
import * as lint from './commands/lint.js';
import * as redo from './commands/redo.js';
import * as restore from './commands/restore.js';
import * as seed from './commands/seed.js';
import * as status from './commands/status.js';
import * as up from './commands/up.js';
import * as verify from './commands/verify.js';
import * as repair from './commands/repair.js';
import * as baseline from './commands/baseline.js';
import * as completion from './commands/completion.js';
import * as doctor from './commands/doctor.js';
import * as schema from './commands/schema.js';
import * as testRollback from './commands/test-rollback.js';

export type Handler = (ctx: CommandContext, flags: never, ...args: never[]) => Promise<number>;
/** Wraps a command's handler into a commander action that records its exit code. */
export type Action = (handler: Handler) => (...args: unknown[]) => Promise<void>;

/** Every command by the name it is run as, in the order --help lists them. */
const COMMANDS: Readonly<Record<string, { define(program: Command, action: Action): void }>> = {
  up,
  down,
  status,
  create,
  redo,
  seed,
  verify,
  repair,
  baseline,
  lint,
  backup,
  restore,
  doctor,
  completion,
  schema,
  'test-rollback': testRollback,
  backfill,
};

/** The global options that take a value (`--x value` or `--x=value`), and those that take none. */
const GLOBAL_WITH_VALUE = new Set([
  '--database-url',
  '--migrations-dir',
  '--rollback-dir',
  '--seeds-dir',
  '--env-file',
]);
const GLOBAL_FLAGS = new Set(['--json', '--no-color', '-y', '--yes', '--verbose', '--embedded']);

/**
 * The command `argv` runs, when that is certain from the global options before it; undefined otherwise (help,
 * --version, an unknown word, an option whose value is optional). A pod's `migrate up` then defines only `up`:
 * defining all seventeen commands and their options was ~1 ms of every no-op start. Anything unsure defines
 * them all, which parses every command line the same way.
 */
export function commandOf(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (GLOBAL_FLAGS.has(arg)) continue;
    if (GLOBAL_WITH_VALUE.has(arg)) {
      i += 1;
      continue;
    }
    const eq = arg.indexOf('=');
    if (eq > 0 && GLOBAL_WITH_VALUE.has(arg.slice(0, eq))) continue;
    // completion prints every command: it needs them all defined.
    return Object.hasOwn(COMMANDS, arg) && arg !== 'completion' ? arg : undefined;
  }
  return undefined;
}

/** package.json's version, put in by the build (scripts/build.mjs) and by vitest.config.ts. */
declare const __TIDEMARK_VERSION__: string;
export const VERSION: string = __TIDEMARK_VERSION__;

/**
 * The commander program with every command, or only `only` (commandOf); exported so completion and the
 * CI-example test read its shape.
 */
export function buildProgram(io: Io, setExit: (code: number) => void, only?: string): Command {
  const program = new Command('migrate');
  program
    .description('tidemark: the safest way to change a PostgreSQL schema')
    .version(VERSION, '-V, --version')
    .option('--database-url <url>', 'postgres:// URL (default: DATABASE_URL, DB_URL, or libpq PG* variables)')
    .option('--migrations-dir <dir>', 'migration files (default: MIGRATIONS_DIR or ./migrations)')
    .option('--rollback-dir <dir>', 'rollback files (default: ROLLBACK_DIR or ./rollback)')
    .option('--seeds-dir <dir>', 'seed files (default: SEEDS_DIR or ./seeds)')
    .option('--env-file <file>', 'settings file (default: ./.env.migrations when present)')
    .option('--json', 'print exactly one JSON document on stdout')
    .option('--no-color', 'no colour in the output (NO_COLOR is honoured too)')
    .option('-y, --yes', 'answer yes to confirmations')
    .option('--verbose', 'show stack traces and more detail')
    .addOption(new Option('--embedded', 'use a local PostgreSQL 15 (data in .tidemark/embedded)'))
    .addOption(
      new Option(
        '--wait-for-db [seconds]',
        `retry the first connection while the database comes up (default DB_WAIT_TIMEOUT; bare: ${DEFAULT_DB_WAIT_SECONDS} s)`,
      ).argParser(parseWait),
    )
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride();

  const action: Action =
    (handler) =>
    async (...args: unknown[]) => {
      const command = args.at(-1) as Command;
      const flags = args.at(-2) as Record<string, unknown>;
      const positional = args.slice(0, -2);
      const ctx = new CommandContext(command.optsWithGlobals() as GlobalFlags, io);
      try {
        setExit(
          await (handler as (c: CommandContext, f: unknown, ...a: unknown[]) => Promise<number>)(
            ctx,
            flags,
            ...positional,
          ),
        );
      } catch (error) {
        setExit(renderError(ctx.output, error));
      } finally {
        await ctx.close();
      }
    };
  if (only !== undefined) COMMANDS[only]!.define(program, action);
  else for (const name in COMMANDS) COMMANDS[name]!.define(program, action);
  for (const sub of program.commands) sub.exitOverride().configureOutput(program.configureOutput());
  return program;
}

/** Runs the CLI with the given arguments (without `node` and the script) and streams; returns the exit code. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram(
    io,
    (code) => {
      exitCode = code;
    },
    commandOf(argv),
  );
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with exit code 0; a bad flag or argument is a usage error.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    throw error;
  }
  return exitCode;
}

/**
 * A reader that went away (`migrate up | head -3`) must not stop a run half-way: after EPIPE the stream is
 * destroyed, later writes go nowhere, and the run finishes with its own exit code. Any other stream error is
 * still thrown.
 */
function endQuietlyOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') return;
    throw error;
  });
}

/**
 * The process's streams, environment and folder as a command's Io. Exported for the build's code-cache warm-up
 * (scripts/warm-code-cache.cjs), which runs commands with the very Io a pod start gives them.
 */
export function processIo(signal: AbortSignal): Io {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    // A getter: touching process.stdin builds a TTY or socket stream (and loads their modules), which only a
    // prompt needs; every no-op `up` of a pod start would pay for it.
    get stdin() {
      return process.stdin;
    },
    env: process.env,
    cwd: process.cwd(),
    signal,
  };
}

/** The process entry: signals become an abort, the exit code becomes the process's. */
export async function main(): Promise<never> {
  endQuietlyOnClosedPipe(process.stdout);
  endQuietlyOnClosedPipe(process.stderr);
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      // A second signal: leave now. Written synchronously, or process.exit would drop it. The server rolls back
      // the open transaction when the connection closes; only a no-transaction migration can be left dirty.
      try {
        writeSync(
          2,
          `Interrupted again by ${signal}: exiting without waiting for the rollback; check \`migrate status\` before the next run.\n`,
        );
      } catch {
        // stderr is closed: exit all the same.
      }
      process.exit(signal === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint);
    }
    controller.abort(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let code: number;
  try {
    code = await run(process.argv.slice(2), processIo(controller.signal));
  } catch (error) {
    process.stderr.write(
      `Unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    code = EXIT.failed;
  }
  // Whatever the command made of it, a run cut short by a signal exits with the signal's code.
  if (controller.signal.aborted) code = controller.signal.reason === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint;
  // Let piped stdout drain before exiting, or a large --json document could be cut short.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}
