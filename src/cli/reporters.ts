/**
 * Machine reports of findings for CI: GitHub workflow annotations and GitLab Code Quality JSON. Pure functions
 * of the same findings the text and `--json` views show (squawk keeps its reporters the same way), so each is
 * unit-tested without a database or a process. `lint` and `verify` pick one with `--format`.
 */
import { createHash } from 'node:crypto';
import type { Finding as LintFinding } from '../sql/lint/types.js';
import type { Finding as VerifyFinding } from '../core/verify.js';
import { usageError } from '../errors.js';

export const FORMATS = ['text', 'json', 'github', 'gitlab'] as const;
export type ReportFormat = (typeof FORMATS)[number];

/** One finding, whichever command found it. */
export interface ReportItem {
  /** Path relative to the working directory (the repository root in CI); null when there is no file. */
  readonly file: string | null;
  readonly line?: number | undefined;
  readonly column?: number | undefined;
  readonly severity: 'error' | 'warning';
  /** The rule id (lint) or finding code (verify): stable, kebab-case. */
  readonly check: string;
  readonly message: string;
  /** The safe alternative, when the finding has one. */
  readonly help?: string | undefined;
}

/** Lint findings as report items. Acknowledged findings are left out: the file's author already accepted them. */
export function lintItems(findings: readonly LintFinding[]): ReportItem[] {
  return findings
    .filter((f) => !f.acknowledged)
    .map((f) => ({
      file: f.file,
      line: f.line,
      column: f.column,
      severity: f.severity,
      check: f.rule,
      message: f.message,
      help: f.help,
    }));
}

/** Verify findings as report items; they belong to a file but not to a line of it. */
export function verifyItems(findings: readonly VerifyFinding[]): ReportItem[] {
  return findings.map((f) => ({ file: f.file, severity: f.severity, check: f.code, message: f.message }));
}

// GitHub's workflow command syntax: the message escapes %, CR and LF; property values also escape : and ,
// (https://docs.github.com/en/actions/reference/workflow-commands-for-github-actions). Without it a message
// with a newline ends the command early, and a path with a comma splits into a bogus property.
function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/**
 * One `::error` / `::warning` workflow command per item, lines without a trailing newline. GitHub shows each
 * on the file and line in the pull request's diff and in the run summary.
 */
export function githubAnnotations(items: readonly ReportItem[], tool: string): string[] {
  return items.map((item) => {
    const props: string[] = [];
    if (item.file !== null) props.push(`file=${escapeProperty(item.file)}`);
    if (item.file !== null && item.line !== undefined) props.push(`line=${item.line}`);
    if (item.file !== null && item.line !== undefined && item.column !== undefined) props.push(`col=${item.column}`);
    props.push(`title=${escapeProperty(`${tool}: ${item.check}`)}`);
    const message = item.help ? `${item.message}\nhelp: ${item.help}` : item.message;
    return `::${item.severity} ${props.join(',')}::${escapeData(message)}`;
  });
}

/** GitLab's Code Quality severities (info, minor, major, critical, blocker). */
export type CodeQualitySeverity = 'info' | 'minor' | 'major' | 'critical' | 'blocker';

export interface CodeQualityIssue {
  readonly description: string;
  readonly check_name: string;
  readonly fingerprint: string;
  readonly severity: CodeQualitySeverity;
  readonly location: { readonly path: string; readonly lines: { readonly begin: number } };
}

/**
 * A GitLab Code Quality report (the `artifacts:reports:codequality` file): a JSON array, one issue per item.
 * The fingerprint is what GitLab compares between the base and head of a merge request, so it leaves the line
 * out (a finding moved by an edit above it is the same finding) and counts repeats of the same finding in a
 * file (two identical findings must stay two issues). `fallbackPath` stands for items without a file (a
 * migration whose file is gone): GitLab requires a path.
 */
export function gitlabCodeQuality(
  items: readonly ReportItem[],
  tool: string,
  fallbackPath: string,
): CodeQualityIssue[] {
  const seen = new Map<string, number>();
  return items.map((item) => {
    const path = item.file ?? fallbackPath;
    const key = [tool, item.check, path, item.message].join('\u0000');
    const occurrence = (seen.get(key) ?? 0) + 1;
    seen.set(key, occurrence);
    return {
      description: item.help ? `${item.message} Help: ${item.help}` : item.message,
      check_name: `${tool}/${item.check}`,
      fingerprint: createHash('sha256').update(`${key}\u0000${occurrence}`).digest('hex'),
      severity: item.severity === 'error' ? 'major' : 'minor',
      location: { path, lines: { begin: item.line ?? 1 } },
    };
  });
}

/** The format a command reports in: `--format`, or json for the global `--json`; both at odds is a usage error. */
export function reportFormat(
  flags: { readonly format?: ReportFormat | undefined },
  json: boolean | undefined,
): ReportFormat {
  if (json && flags.format !== undefined && flags.format !== 'json') {
    throw usageError('format-conflict', `--json and --format ${flags.format} ask for two different outputs.`, {
      hint: 'Keep one: --json (same as --format json), or --format github|gitlab|text.',
    });
  }
  return json ? 'json' : (flags.format ?? 'text');
}
