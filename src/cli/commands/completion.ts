import { Argument, type Command } from 'commander';
import type { Shell } from '../completion.js';
import type { CommandContext } from '../context.js';
import type { Action, Handler } from '../main.js';
import { BIN_NAMES, SHELLS } from '../names.js';

export function define(program: Command, action: Action): void {
  // The script is generated from `program` when the command runs, so it includes every command defined.
  const handler = (ctx: CommandContext, _flags: unknown, shell: Shell) => completion(ctx, program, shell);
  program
    .command('completion')
    .description('print a shell completion script for bash, zsh or fish')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(SHELLS))
    .addHelpText(
      'after',
      `
Examples:
  $ source <(migrate completion bash)                   in ~/.bashrc
  $ source <(migrate completion zsh)                    in ~/.zshrc, after compinit
  $ migrate completion fish > ~/.config/fish/completions/migrate.fish`,
    )
    .action(action(handler as unknown as Handler));
}

export async function completion(ctx: CommandContext, program: Command, shell: Shell): Promise<number> {
  // Loaded on use: every pod start parses the CLI bundle, and only this command needs the generators.
  const { completionScript, describeProgram } = await import('../completion.js');
  const script = completionScript(shell, describeProgram(program, BIN_NAMES));
  if (ctx.output.mode === 'json') ctx.output.json({ shell, script });
  else ctx.io.stdout.write(script);
  return 0;
}
