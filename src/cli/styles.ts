/**
 * The six styles the output uses, as ANSI codes (the 16-colour set every terminal has), or none.
 *
 * Not chalk: importing chalk runs its colour detection (supports-color: the tty and os modules, a walk over the
 * environment) on every start, though tidemark always decides the colour itself (Output: a sized terminal, not
 * CI, NO_COLOR unset, no --no-color). That was ~0.5 ms of every pod's no-op `up`, for six escape sequences.
 * ora, loaded only for a terminal's spinner, still brings chalk with it.
 */
export interface Styles {
  /** 1: colour; 0: the text as given. */
  readonly level: 0 | 1;
  dim(text: string): string;
  bold(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

const PLAIN = (text: string): string => text;

/**
 * A style that opens with `\x1b[{open}m` and closes with `\x1b[{close}m`. A close code inside the text (a
 * nested style that shares it: bold in dim) re-opens this style after it, and every line is styled on its
 * own, so a prefix another tool puts before a line (CI log timestamps) is never coloured.
 */
function style(open: number, close: number): (text: string) => string {
  const on = `\u001b[${open}m`;
  const off = `\u001b[${close}m`;
  return (text) => {
    if (text === '') return text;
    let body = text.includes(off) ? text.replaceAll(off, off + on) : text;
    if (body.includes('\n')) body = body.replace(/\r?\n/g, (eol) => off + eol + on);
    return on + body + off;
  };
}

const COLOUR: Styles = {
  level: 1,
  dim: style(2, 22),
  bold: style(1, 22),
  red: style(31, 39),
  green: style(32, 39),
  yellow: style(33, 39),
  cyan: style(36, 39),
};

const NONE: Styles = { level: 0, dim: PLAIN, bold: PLAIN, red: PLAIN, green: PLAIN, yellow: PLAIN, cyan: PLAIN };

export function styles(colour: boolean): Styles {
  return colour ? COLOUR : NONE;
}
