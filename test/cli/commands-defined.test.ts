/**
 * A run defines only the command it runs (main.ts commandOf): a pod's `migrate up` does not build the other
 * sixteen commands. It must parse every command line exactly as the full program does.
 */
import { CommanderError, type Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { commandOf } from '../../src/cli/main.js';
import { quietProgram } from '../helpers/program.js';

describe('the command a command line runs', () => {
  it.each([
    [['up'], 'up'],
    [['status', '--json'], 'status'],
    [['--json', 'down', '--all'], 'down'],
    [['--database-url', 'postgres://h/db', '--migrations-dir', 'db/m', 'up'], 'up'],
    [['--env-file=prod.env', '-y', '--verbose', '--no-color', '--embedded', 'test-rollback'], 'test-rollback'],
    [['schema', 'dump'], 'schema'],
  ])('%j runs %s', (argv, command) => {
    expect(commandOf(argv)).toBe(command);
  });

  it.each([
    [[]],
    [['--help']],
    [['-h', 'up']],
    [['help', 'up']],
    [['--version']],
    [['completion', 'bash']], // prints every command, so it needs them all
    [['--wait-for-db', 'up']], // an optional value: commander decides whether `up` is it
    [['--wait-for-db=30', 'up']],
    [['upp']], // a typo: the full program's "did you mean" needs every name
    [['--database-url']],
  ])('%j defines every command', (argv) => {
    expect(commandOf(argv)).toBeUndefined();
  });
});

/** What commander does with `argv`: the help or error text it writes, its exit code, the options it parsed. */
function outcome(program: Command, argv: string[]): { text: string; code: number | undefined; opts: unknown } {
  let text = '';
  program.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  for (const sub of program.commands) {
    sub.configureOutput(program.configureOutput());
    // Stop before the handler: the options it would get are the outcome.
    sub.action(() => {});
    for (const nested of sub.commands) nested.configureOutput(program.configureOutput()).action(() => {});
  }
  let code: number | undefined;
  try {
    program.parse(argv, { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    code = error.exitCode;
  }
  const ran = program.commands.find((c) => argv.includes(c.name()));
  return { text, code, opts: ran?.optsWithGlobals() };
}

describe('one command defined parses as all of them', () => {
  const names = quietProgram()
    .commands.map((c) => c.name())
    .filter((name) => commandOf([name]) !== undefined);

  it('leaves out only completion, which needs them all', () => {
    expect(names).toHaveLength(quietProgram().commands.length - 1);
    expect(names).not.toContain('completion');
  });

  it.each(names)('%s: its help, a bad option and its options parse alike', (name) => {
    for (const argv of [
      [name, '--help'],
      [name, '--no-such-option'],
      ['--json', '--migrations-dir', 'db/m', name, '-y'],
      [name, '--verbose', '--database-url=postgres://h/db'],
      ['--rollback-dir', name, name], // a folder named like a command is the option's value
    ]) {
      expect(commandOf(argv), argv.join(' ')).toBe(name);
      const alone = outcome(quietProgram(commandOf(argv)), argv);
      expect(alone, argv.join(' ')).toEqual(outcome(quietProgram(), argv));
      // Something was compared: a help or an error text, or the options of the command that ran.
      expect(alone.text !== '' || alone.opts !== undefined, argv.join(' ')).toBe(true);
    }
  });

  it('the full program is what --help lists', () => {
    const listed = outcome(quietProgram(), ['--help']).text;
    for (const name of names) expect(listed).toContain(name);
  });
});
