/**
 * Shell completion scripts for bash, zsh and fish, generated from the commander program itself: a command or
 * option added to the CLI is completed without anyone editing a script, so the scripts never go stale.
 * `describeProgram` reads the program into plain data; the three generators are pure functions of that data.
 */
import type { Command, Option } from 'commander';
import type { SHELLS } from './names.js';

export type Shell = (typeof SHELLS)[number];

/** What a value of an option or argument is, for the shell to offer. */
export type ValueKind =
  | { readonly kind: 'choices'; readonly choices: readonly string[] }
  | { readonly kind: 'file' }
  | { readonly kind: 'dir' }
  | { readonly kind: 'any' };

export interface OptionSpec {
  /** `--to`, `--no-backup`. */
  readonly long: string | undefined;
  /** `-y`. */
  readonly short: string | undefined;
  readonly description: string;
  /** 'none' for a switch, 'required' for `--to <v>`, 'optional' for `--wait [s]`. */
  readonly value: 'none' | 'required' | 'optional';
  readonly valueKind: ValueKind;
}

export interface ArgumentSpec {
  readonly name: string;
  readonly variadic: boolean;
  readonly valueKind: ValueKind;
}

export interface CommandSpec {
  readonly name: string;
  readonly description: string;
  readonly options: readonly OptionSpec[];
  readonly arguments: readonly ArgumentSpec[];
  readonly subcommands: readonly CommandSpec[];
}

export interface ProgramSpec {
  /** The names the program is installed under (`migrate`, `tidemark`). */
  readonly names: readonly string[];
  /** Options every command takes (before or after its name). */
  readonly globalOptions: readonly OptionSpec[];
  /** Options only the program itself takes: --version, --help. */
  readonly programOptions: readonly OptionSpec[];
  readonly commands: readonly CommandSpec[];
}

const HELP: OptionSpec = {
  long: '--help',
  short: '-h',
  description: 'show help',
  value: 'none',
  valueKind: { kind: 'any' },
};

/** A value's kind from commander's declared choices, else from its name: `--env-file <file>`, `--seeds-dir <dir>`. */
function kindOf(choices: readonly string[] | undefined, name: string): ValueKind {
  if (choices && choices.length > 0) return { kind: 'choices', choices };
  if (/(^|-)dir$/i.test(name)) return { kind: 'dir' };
  if (/(^|-)files?$/i.test(name)) return { kind: 'file' };
  return { kind: 'any' };
}

function optionSpec(o: Option): OptionSpec {
  const name = (o.long ?? o.short ?? '').replace(/^-+/, '');
  return {
    long: o.long,
    short: o.short,
    description: firstClause(o.description),
    value: o.required ? 'required' : o.optional ? 'optional' : 'none',
    valueKind: o.required || o.optional ? kindOf(o.argChoices, name) : { kind: 'any' },
  };
}

function commandSpec(c: Command): CommandSpec {
  return {
    name: c.name(),
    description: firstClause(c.description()),
    options: [...c.options.filter((o) => !o.hidden).map(optionSpec), HELP],
    arguments: c.registeredArguments.map((a) => ({
      name: a.name(),
      variadic: a.variadic,
      valueKind: kindOf(a.argChoices, a.name()),
    })),
    subcommands: c.commands.map(commandSpec),
  };
}

/** The program as data: its commands (with their subcommands), their options and arguments, and the global options. */
export function describeProgram(program: Command, names: readonly string[]): ProgramSpec {
  const visible = program.options.filter((o) => !o.hidden);
  const isVersion = (o: Option) => o.long === '--version';
  return {
    names,
    globalOptions: visible.filter((o) => !isVersion(o)).map(optionSpec),
    programOptions: [...visible.filter(isVersion).map(optionSpec), HELP],
    commands: program.commands.map(commandSpec),
  };
}

/** A description for a menu: without parenthesised asides, at most one line of ~70 characters. */
function firstClause(text: string): string {
  const plain = text
    .replace(/\s*\([^()]*\)/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  if (plain.length <= 72) return plain;
  const cut = plain.slice(0, 70);
  return `${cut.slice(0, cut.lastIndexOf(' ')).replace(/[,;:]$/, '')}...`;
}

function flagsOf(options: readonly OptionSpec[]): string[] {
  return options.flatMap((o) => [o.short, o.long].filter((f): f is string => f !== undefined));
}

/** A word list for `compgen -W` / fish `-a`: our words are flag and command names, safe inside single quotes. */
function words(list: readonly string[]): string {
  return list.join(' ');
}

/** Quotes text for a POSIX shell (bash, zsh): single quotes, an embedded quote as '\''. */
function shQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Makes bash treat the words as paths (a slash after a folder, names quoted) where a path is completed. */
const FILENAMES = 'compopt -o filenames 2>/dev/null; ';

function bashFunctionName(spec: ProgramSpec): string {
  return `_${spec.names[0]}_completion`;
}

/**
 * bash: a function for `complete -F`. It finds the command word (skipping global options and their values),
 * then offers the value of the option before the cursor, the options of the command, its subcommands or its
 * arguments. Needs nothing but bash itself (no bash-completion package).
 */
export function bashScript(spec: ProgramSpec): string {
  const fn = bashFunctionName(spec);
  const valued = spec.globalOptions
    .filter((o) => o.value === 'required')
    .flatMap((o) => [o.short, o.long].filter(Boolean) as string[]);
  const valueCase = (options: readonly OptionSpec[], indent: string): string[] => {
    const lines: string[] = [];
    for (const o of options) {
      if (o.value === 'none') continue;
      const flags = [o.short, o.long].filter(Boolean).join('|');
      const k = o.valueKind;
      const body =
        k.kind === 'choices'
          ? `COMPREPLY=($(compgen -W ${shQuote(words(k.choices))} -- "$cur")); return 0`
          : k.kind === 'dir'
            ? `${FILENAMES}COMPREPLY=($(compgen -d -- "$cur")); return 0`
            : k.kind === 'file'
              ? `${FILENAMES}COMPREPLY=($(compgen -f -- "$cur")); return 0`
              : o.value === 'required'
                ? 'return 0'
                : '';
      if (body) lines.push(`${indent}${flags}) ${body} ;;`);
    }
    return lines;
  };
  const argumentWords = (c: CommandSpec): string => {
    if (c.subcommands.length > 0)
      return `COMPREPLY=($(compgen -W ${shQuote(words(c.subcommands.map((s) => s.name)))} -- "$cur"))`;
    const arg = c.arguments[0];
    if (!arg) return 'COMPREPLY=()';
    const k = arg.valueKind;
    if (k.kind === 'choices') return `COMPREPLY=($(compgen -W ${shQuote(words(k.choices))} -- "$cur"))`;
    if (k.kind === 'dir') return `${FILENAMES}COMPREPLY=($(compgen -d -- "$cur"))`;
    if (k.kind === 'file') return `${FILENAMES}COMPREPLY=($(compgen -f -- "$cur"))`;
    return 'COMPREPLY=()';
  };
  const lines: string[] = [
    `# bash completion for ${spec.names.join(' / ')} (tidemark), generated by \`${spec.names[0]} completion bash\`.`,
    `# Load it in ~/.bashrc:  source <(${spec.names[0]} completion bash)`,
    `${fn}() {`,
    '  local cur prev cmd="" sub="" i w',
    '  cur="${COMP_WORDS[COMP_CWORD]}"',
    '  prev=""',
    '  ((COMP_CWORD > 0)) && prev="${COMP_WORDS[COMP_CWORD-1]}"',
    '  for ((i = 1; i < COMP_CWORD; i++)); do',
    '    w="${COMP_WORDS[i]}"',
    '    case "$w" in',
    ...(valued.length > 0 ? [`      ${valued.join('|')}) ((i++)); continue ;;`] : []),
    '      -*) continue ;;',
    '    esac',
    '    if [[ -z "$cmd" ]]; then cmd="$w"; elif [[ -z "$sub" ]]; then sub="$w"; fi',
    '  done',
    '  case "$prev" in',
    ...valueCase(spec.globalOptions, '    '),
    '  esac',
    '  case "$cmd" in',
  ];
  for (const c of spec.commands) {
    lines.push(`    ${c.name})`);
    const cases = valueCase(c.options, '        ');
    if (cases.length > 0) lines.push('      case "$prev" in', ...cases, '      esac');
    if (c.subcommands.length > 0) {
      lines.push('      case "$sub" in');
      for (const s of c.subcommands) {
        lines.push(`        ${s.name})`);
        const subCases = valueCase(s.options, '            ');
        if (subCases.length > 0) lines.push('          case "$prev" in', ...subCases, '          esac');
        lines.push(
          `          if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W ${shQuote(words([...flagsOf(s.options), ...flagsOf(spec.globalOptions)]))} -- "$cur")); else ${argumentWords(s)}; fi`,
          '          return 0 ;;',
        );
      }
      lines.push('      esac');
    }
    lines.push(
      `      if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W ${shQuote(words([...flagsOf(c.options), ...flagsOf(spec.globalOptions)]))} -- "$cur")); else ${argumentWords(c)}; fi`,
      '      return 0 ;;',
    );
  }
  lines.push(
    '  esac',
    `  if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W ${shQuote(words(flagsOf([...spec.globalOptions, ...spec.programOptions])))} -- "$cur")); return 0; fi`,
    `  COMPREPLY=($(compgen -W ${shQuote(words(spec.commands.map((c) => c.name)))} -- "$cur"))`,
    '}',
    `complete -F ${fn} ${spec.names.join(' ')}`,
    '',
  );
  return lines.join('\n');
}

/** Text inside zsh's `[description]` of an `_arguments` spec: brackets, colons and backslashes escaped. */
function zshDescription(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/([[\]:])/g, '\\$1');
}

function zshAction(k: ValueKind): string {
  if (k.kind === 'choices') return `(${k.choices.join(' ')})`;
  if (k.kind === 'dir') return '_files -/';
  if (k.kind === 'file') return '_files';
  return ' ';
}

function zshOptionSpecs(options: readonly OptionSpec[]): string[] {
  const specs: string[] = [];
  for (const o of options) {
    for (const flag of [o.short, o.long]) {
      if (flag === undefined) continue;
      const desc = `[${zshDescription(o.description)}]`;
      const value =
        o.value === 'required'
          ? `:value:${zshAction(o.valueKind)}`
          : o.value === 'optional'
            ? `::value:${zshAction(o.valueKind)}`
            : '';
      specs.push(shQuote(`${flag}${desc}${value}`));
    }
  }
  return specs;
}

function zshArgumentSpecs(c: CommandSpec): string[] {
  return c.arguments.map((a, i) => shQuote(`${a.variadic ? '*' : `${i + 1}`}:${a.name}:${zshAction(a.valueKind)}`));
}

/**
 * zsh: a `#compdef` function. Works from a file on $fpath (named `_migrate`) and when sourced after
 * `compinit` (`source <(migrate completion zsh)`), where `compdef` registers it.
 */
export function zshScript(spec: ProgramSpec): string {
  const fn = `_${spec.names[0]}`;
  const globals = zshOptionSpecs(spec.globalOptions);
  const programOnly = zshOptionSpecs(spec.programOptions);
  const describe = (list: readonly CommandSpec[]) => list.map((c) => `    ${shQuote(`${c.name}:${c.description}`)}`);
  const lines: string[] = [
    `#compdef ${spec.names.join(' ')}`,
    `# zsh completion for ${spec.names.join(' / ')} (tidemark), generated by \`${spec.names[0]} completion zsh\`.`,
    `# Load it after compinit in ~/.zshrc:  source <(${spec.names[0]} completion zsh)`,
    `# or save it as _${spec.names[0]} in a folder on $fpath.`,
    `${fn}() {`,
    '  local curcontext="$curcontext" state line ret=1',
    '  typeset -A opt_args',
    '  local -a globals commands',
    `  globals=(${globals.join(' ')})`,
    '  commands=(',
    ...describe(spec.commands),
    '  )',
    `  _arguments -C $globals ${programOnly.join(' ')} '1: :->command' '*:: :->args' && ret=0`,
    '  case $state in',
    `    command) _describe -t commands '${spec.names[0]} command' commands && ret=0 ;;`,
    '    args)',
    '      case $words[1] in',
  ];
  for (const c of spec.commands) {
    const own = [...zshOptionSpecs(c.options), '$globals'];
    if (c.subcommands.length > 0) {
      lines.push(
        `        ${c.name})`,
        '          local -a subcommands',
        '          subcommands=(',
        ...describe(c.subcommands).map((l) => `    ${l}`),
        '          )',
        `          _arguments -C ${own.join(' ')} '1: :->sub' '*:: :->subargs' && ret=0`,
        '          case $state in',
        `            sub) _describe -t commands '${c.name} command' subcommands && ret=0 ;;`,
        '            subargs)',
        '              case $words[1] in',
      );
      for (const s of c.subcommands)
        lines.push(
          `                ${s.name}) _arguments ${[...zshOptionSpecs(s.options), '$globals', ...zshArgumentSpecs(s)].join(' ')} && ret=0 ;;`,
        );
      lines.push('              esac ;;', '          esac ;;');
    } else {
      lines.push(`        ${c.name}) _arguments ${[...own, ...zshArgumentSpecs(c)].join(' ')} && ret=0 ;;`);
    }
  }
  lines.push(
    '      esac ;;',
    '  esac',
    '  return ret',
    '}',
    `if [[ "\${funcstack[1]}" == "${fn}" ]]; then`,
    `  ${fn} "$@"`,
    'else',
    `  compdef ${fn} ${spec.names.join(' ')}`,
    'fi',
    '',
  );
  return lines.join('\n');
}

/** Text for a fish single-quoted word: backslashes and quotes escaped. */
function fishQuote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function fishOption(o: OptionSpec, condition: string, name: string): string | undefined {
  const parts = [`complete -c ${name}`];
  if (condition) parts.push(`-n ${fishQuote(condition)}`);
  if (o.long?.startsWith('--')) parts.push(`-l ${o.long.slice(2)}`);
  if (o.short?.startsWith('-')) parts.push(`-s ${o.short.slice(1)}`);
  if (parts.length === (condition ? 2 : 1)) return undefined;
  if (o.value !== 'none') {
    const k = o.valueKind;
    if (k.kind === 'choices') parts.push(`-x -a ${fishQuote(k.choices.join(' '))}`);
    else if (k.kind === 'dir') parts.push(`-x -a '(__fish_complete_directories)'`);
    else if (k.kind === 'file') parts.push('-r -F');
    else parts.push(o.value === 'required' ? '-x' : '');
  }
  parts.push(`-d ${fishQuote(o.description)}`);
  return parts.filter(Boolean).join(' ');
}

/**
 * fish: `complete` lines for the first name; the other names wrap it. File names are offered only where a
 * command takes a file.
 */
export function fishScript(spec: ProgramSpec): string {
  const name = spec.names[0]!;
  const lines: string[] = [
    `# fish completion for ${spec.names.join(' / ')} (tidemark), generated by \`${name} completion fish\`.`,
    `# Save it:  ${name} completion fish > ~/.config/fish/completions/${name}.fish`,
    `complete -c ${name} -f`,
  ];
  for (const other of spec.names.slice(1)) lines.push(`complete -c ${other} -w ${name}`);
  for (const o of spec.globalOptions) {
    const line = fishOption(o, '', name);
    if (line) lines.push(line);
  }
  for (const o of spec.programOptions) {
    const line = fishOption(o, '__fish_use_subcommand', name);
    if (line) lines.push(line);
  }
  for (const c of spec.commands) {
    lines.push(`complete -c ${name} -n '__fish_use_subcommand' -a ${c.name} -d ${fishQuote(c.description)}`);
    const inCommand = `__fish_seen_subcommand_from ${c.name}`;
    for (const o of c.options) {
      const line = fishOption(o, inCommand, name);
      if (line) lines.push(line);
    }
    if (c.subcommands.length > 0) {
      const subs = c.subcommands.map((s) => s.name).join(' ');
      for (const s of c.subcommands) {
        lines.push(
          `complete -c ${name} -n ${fishQuote(`${inCommand}; and not __fish_seen_subcommand_from ${subs}`)} -a ${s.name} -d ${fishQuote(s.description)}`,
        );
        for (const o of s.options) {
          const line = fishOption(o, `${inCommand}; and __fish_seen_subcommand_from ${s.name}`, name);
          if (line) lines.push(line);
        }
      }
    }
    const arg = c.arguments[0];
    if (arg?.valueKind.kind === 'choices')
      lines.push(`complete -c ${name} -n ${fishQuote(inCommand)} -a ${fishQuote(arg.valueKind.choices.join(' '))}`);
    else if (arg?.valueKind.kind === 'file') lines.push(`complete -c ${name} -n ${fishQuote(inCommand)} -F`);
  }
  lines.push('');
  return lines.join('\n');
}

export function completionScript(shell: Shell, spec: ProgramSpec): string {
  if (shell === 'bash') return bashScript(spec);
  if (shell === 'zsh') return zshScript(spec);
  return fishScript(spec);
}
