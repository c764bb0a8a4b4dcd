/** The CI reporters, pure: findings in, GitHub workflow commands or a GitLab Code Quality document out. */
import { describe, expect, it } from 'vitest';
import {
  githubAnnotations,
  gitlabCodeQuality,
  lintItems,
  reportFormat,
  verifyItems,
  type ReportItem,
} from '../../src/cli/reporters.js';
import type { Finding as LintFinding } from '../../src/sql/lint/types.js';
import type { Finding as VerifyFinding } from '../../src/core/verify.js';
import { MigrateError } from '../../src/errors.js';

const lintFinding: LintFinding = {
  file: 'migrations/002_index.sql',
  line: 3,
  column: 5,
  rule: 'require-concurrent-index-creation',
  severity: 'error',
  message: 'CREATE INDEX blocks writes to public.users while it builds.',
  help: 'Use CREATE INDEX CONCURRENTLY in a -- migrate:no-transaction file.',
  lock: 'SHARE',
  table: 'public.users',
};

const verifyFinding: VerifyFinding = {
  severity: 'warning',
  code: 'pending',
  version: '002',
  file: 'migrations/002_index.sql',
  message: '002_index is not applied yet. Run: migrate up',
};

describe('lintItems and verifyItems', () => {
  it('keep file, position, severity, rule and help, and leave acknowledged lint findings out', () => {
    const acknowledged = { ...lintFinding, line: 9, acknowledged: { reason: 'tiny table', line: 1 } };
    expect(lintItems([lintFinding, acknowledged])).toEqual([
      {
        file: 'migrations/002_index.sql',
        line: 3,
        column: 5,
        severity: 'error',
        check: 'require-concurrent-index-creation',
        message: lintFinding.message,
        help: lintFinding.help,
      },
    ]);
    expect(verifyItems([verifyFinding])).toEqual([
      { file: 'migrations/002_index.sql', severity: 'warning', check: 'pending', message: verifyFinding.message },
    ]);
  });
});

describe('githubAnnotations', () => {
  it('writes one ::error/::warning command per finding with file, line, col and title', () => {
    const lines = githubAnnotations([...lintItems([lintFinding]), ...verifyItems([verifyFinding])], 'tidemark lint');
    expect(lines).toEqual([
      `::error file=migrations/002_index.sql,line=3,col=5,title=tidemark lint%3A require-concurrent-index-creation::${lintFinding.message}%0Ahelp: ${lintFinding.help}`,
      `::warning file=migrations/002_index.sql,title=tidemark lint%3A pending::${verifyFinding.message}`,
    ]);
  });

  it('escapes %, CR and LF in the message, and also : and , in properties, so nothing ends the command early', () => {
    const item: ReportItem = {
      file: 'db/a,b:c%.sql',
      line: 1,
      column: 2,
      severity: 'error',
      check: 'x',
      message: '100% done\r\nnext: line, more',
    };
    const [line] = githubAnnotations([item], 'tidemark');
    expect(line).toBe(
      '::error file=db/a%2Cb%3Ac%25.sql,line=1,col=2,title=tidemark%3A x::100%25 done%0D%0Anext: line, more',
    );
    // Exactly one "::" separates the properties from the message, and the command is one line.
    expect(line!.split('\n')).toHaveLength(1);
    expect(line!.slice(2).indexOf('::')).toBe(line!.slice(2).lastIndexOf('::'));
  });

  it('leaves file, line and col out when a finding has no file (a migration whose file is gone)', () => {
    const [line] = githubAnnotations(
      [{ file: null, severity: 'error', check: 'file-missing', message: 'gone' }],
      'tidemark verify',
    );
    expect(line).toBe('::error title=tidemark verify%3A file-missing::gone');
  });

  it('writes nothing for no findings', () => {
    expect(githubAnnotations([], 'tidemark')).toEqual([]);
  });
});

describe('gitlabCodeQuality', () => {
  it('has the fields GitLab reads: description, check_name, fingerprint, severity, location.path and lines.begin', () => {
    const [issue, pending] = gitlabCodeQuality(
      [...lintItems([lintFinding]), ...verifyItems([verifyFinding])],
      'tidemark',
      'migrations',
    );
    expect(issue).toEqual({
      description: `${lintFinding.message} Help: ${lintFinding.help}`,
      check_name: 'tidemark/require-concurrent-index-creation',
      fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/),
      severity: 'major',
      location: { path: 'migrations/002_index.sql', lines: { begin: 3 } },
    });
    expect(pending).toMatchObject({
      severity: 'minor',
      location: { path: 'migrations/002_index.sql', lines: { begin: 1 } },
    });
  });

  it('keeps a fingerprint when the finding moves to another line, and tells repeats and other files apart', () => {
    const moved = gitlabCodeQuality(lintItems([{ ...lintFinding, line: 40 }]), 'tidemark', 'migrations')[0]!;
    const [first, second] = gitlabCodeQuality(
      lintItems([lintFinding, { ...lintFinding, line: 7 }]),
      'tidemark',
      'migrations',
    );
    const other = gitlabCodeQuality(
      lintItems([{ ...lintFinding, file: 'migrations/003_x.sql' }]),
      'tidemark',
      'migrations',
    )[0]!;
    expect(moved.fingerprint).toBe(first!.fingerprint);
    expect(second!.fingerprint).not.toBe(first!.fingerprint);
    expect(other.fingerprint).not.toBe(first!.fingerprint);
  });

  it('puts a finding without a file on the fallback path (GitLab requires one)', () => {
    const [issue] = gitlabCodeQuality(
      [{ file: null, severity: 'error', check: 'file-missing', message: 'gone' }],
      'tidemark',
      'db/migrations',
    );
    expect(issue!.location).toEqual({ path: 'db/migrations', lines: { begin: 1 } });
  });
});

describe('reportFormat', () => {
  it('is text by default, json with --json or --format json, and refuses --json with another format (exit 2)', () => {
    expect(reportFormat({}, false)).toBe('text');
    expect(reportFormat({}, true)).toBe('json');
    expect(reportFormat({ format: 'json' }, true)).toBe('json');
    expect(reportFormat({ format: 'gitlab' }, false)).toBe('gitlab');
    let error: unknown;
    try {
      reportFormat({ format: 'github' }, true);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MigrateError);
    expect((error as MigrateError).exitCode).toBe(2);
  });
});
