/**
 * The CI examples in examples/ci/ are YAML that GitHub and GitLab must accept, and every `migrate` command
 * they run must exist in our CLI with the options and values they pass: a renamed flag breaks this test, not
 * a user's pipeline. The command lines are checked against the real commander program (as completion reads it).
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { describeProgram, type OptionSpec } from '../src/cli/completion.js';
import { BIN_NAMES } from '../src/cli/names.js';
import { useTestDatabase } from './helpers/db.js';
import { CLI, makeProject, ROOT, writeFiles } from './helpers/project.js';
import { quietProgram } from './helpers/program.js';

const db = useTestDatabase('ci_examples');

const FILES = {
  'migrations/001_users.sql': 'create table users (id bigint primary key, email text);\n',
  'rollback/001_users_rollback.sql': 'drop table users;\n',
  'migrations/002_users_email.sql':
    '-- migrate:no-transaction\ncreate index concurrently users_email_idx on users (email);\n',
  'rollback/002_users_email_rollback.sql': '-- migrate:no-transaction\ndrop index concurrently users_email_idx;\n',
};

/**
 * Runs a job's shell lines as the CI runner would (bash, stop at the first failure), with `npx migrate` as
 * the built CLI and `npm ci` a no-op (the clone is already installed).
 */
function runJob(
  script: string,
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const prelude = [
    'set -e',
    `npx() { if [ "$1" = migrate ]; then shift; node ${JSON.stringify(CLI)} "$@"; else echo "unexpected: npx $*" >&2; return 1; fi; }`,
    'npm() { :; }',
  ].join('\n');
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', ['-c', `${prelude}\n${script}`], {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', CI: 'true', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

const spec = describeProgram(quietProgram(), BIN_NAMES);

/** Parsed YAML: read loosely, each test checks the shape it reads. */
type Yaml = any; // eslint-disable-line @typescript-eslint/no-explicit-any

function load(file: string): Yaml {
  const doc = parseDocument(readFileSync(join(ROOT, 'examples', 'ci', file), 'utf8'));
  expect(doc.errors.map((e) => e.message)).toEqual([]);
  return doc.toJS();
}

interface Invocation {
  readonly line: string;
  readonly command: string | undefined;
  readonly flags: ReadonlyMap<string, string | undefined>;
  /** The file its stdout is redirected to, when it is. */
  readonly redirect: string | undefined;
}

/** Each `migrate ...` / `npx migrate ...` in a shell script, cut at a pipe, redirect or list operator. */
function invocations(script: string): Invocation[] {
  const found: Invocation[] = [];
  for (const raw of script.split('\n')) {
    const match = /(?:^|[\s;&|(])(?:npx\s+)?(?:migrate|tidemark)\s+(.*)$/.exec(raw.replace(/#.*$/, ''));
    if (!match) continue;
    const rest = match[1]!;
    const redirect = /(?<!2)>\s*(\S+)/.exec(rest)?.[1];
    const words = rest
      .split(/\s*(?:\|\||&&|[|;>])/)[0]!
      .trim()
      .split(/\s+/)
      .filter((w) => w !== '' && !w.startsWith('$') && !w.startsWith('"$'));
    found.push({ line: raw.trim(), ...resolve(words), redirect });
  }
  return found;
}

/** Reads words as commander would: global options, then the command, its options and arguments. */
function resolve(words: readonly string[]): { command: string | undefined; flags: Map<string, string | undefined> } {
  const flags = new Map<string, string | undefined>();
  let command: string | undefined;
  const lookup = (options: readonly OptionSpec[], flag: string) =>
    options.find((o) => o.long === flag || o.short === flag);
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word.startsWith('-')) {
      const [flag, inline] = word.split('=', 2) as [string, string | undefined];
      const options =
        command === undefined
          ? [...spec.globalOptions, ...spec.programOptions]
          : [...(spec.commands.find((c) => c.name === command)?.options ?? []), ...spec.globalOptions];
      const option = lookup(options, flag);
      if (!option) throw new Error(`${command ?? 'migrate'}: unknown option ${flag}`);
      let value = inline;
      if (value === undefined && option.value === 'required') value = words[++i];
      if (option.valueKind.kind === 'choices' && value !== undefined && !option.valueKind.choices.includes(value)) {
        throw new Error(`${flag}: ${value} is not one of ${option.valueKind.choices.join(', ')}`);
      }
      flags.set(option.long ?? flag, value);
    } else if (command === undefined) {
      if (!spec.commands.some((c) => c.name === word)) throw new Error(`unknown command ${word}`);
      command = word;
    }
  }
  return { command, flags };
}

function githubScripts(workflow: Yaml): { job: string; run: string }[] {
  return Object.entries(workflow.jobs as Record<string, { steps: { run?: string }[] }>).flatMap(([job, j]) =>
    j.steps.filter((s) => typeof s.run === 'string').map((s) => ({ job, run: s.run! })),
  );
}

function gitlabJobs(pipeline: Yaml): [string, Yaml][] {
  return Object.entries(pipeline as Record<string, Yaml>).filter(
    ([, v]) => v && typeof v === 'object' && Array.isArray(v.script),
  );
}

function gitlabScript(job: Yaml): string {
  return [...(job.before_script ?? []), ...job.script].join('\n');
}

function commandsOf(list: readonly Invocation[]): Set<string> {
  return new Set(list.map((i) => i.command).filter((c): c is string => c !== undefined));
}

describe('reading command lines', () => {
  it('resolves commands, options and values, and rejects what the CLI would refuse', () => {
    const [one] = invocations('  npx migrate --env-file ci.env lint --offline --format github $added > out.txt');
    expect(one).toMatchObject({ command: 'lint', redirect: 'out.txt' });
    expect([...one!.flags]).toEqual([
      ['--env-file', 'ci.env'],
      ['--offline', undefined],
      ['--format', 'github'],
    ]);
    expect(() => invocations('npx migrate upp')).toThrow(/unknown command upp/);
    expect(() => invocations('migrate lint --formatt github')).toThrow(/unknown option --formatt/);
    expect(() => invocations('migrate verify --format sarif')).toThrow(/sarif is not one of/);
    expect(() => invocations('migrate up --exit-code')).toThrow(/up: unknown option --exit-code/);
  });
});

describe('examples/ci/github-actions.yml', () => {
  const workflow = load('github-actions.yml');
  const runs = githubScripts(workflow);
  const all = runs.flatMap((r) => invocations(r.run));

  it('runs lint, verify and up against a PostgreSQL service container, with annotations for findings', () => {
    const check = workflow.jobs.check;
    expect(check.services.postgres.image).toMatch(/^postgres:\d+/);
    expect(check.env.DATABASE_URL).toMatch(/^postgres:\/\/.*@localhost:5432\//);
    const inCheck = runs.filter((r) => r.job === 'check').flatMap((r) => invocations(r.run));
    expect([...commandsOf(inCheck)]).toEqual(expect.arrayContaining(['doctor', 'lint', 'up', 'verify']));
    for (const i of inCheck.filter((x) => x.command === 'lint' || x.command === 'verify'))
      expect(i.flags.get('--format'), i.line).toBe('github');
  });

  it('its check job passes when run against a real PostgreSQL (steps without a condition)', async () => {
    await db.reset();
    const dir = makeProject(FILES);
    const steps = (workflow.jobs.check.steps as { run?: string; if?: string }[]).filter(
      (step) => step.run !== undefined && step.if === undefined,
    );
    const env = { ...workflow.jobs.check.env, DATABASE_URL: db.url };
    const result = await runJob(steps.map((step) => step.run).join('\n'), dir, env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/Verified 2 migrations: 0 errors, 0 warnings/);
    expect((await db.query('select version from schema_migrations order by version')).map((r) => r.version)).toEqual([
      '001',
      '002',
    ]);
  });

  it('gates the application deploy on status --exit-code, and runs only commands and options the CLI has', () => {
    expect(all.some((i) => i.command === 'status' && i.flags.has('--exit-code'))).toBe(true);
    expect(all.length).toBeGreaterThan(5);
    for (const i of all) expect(i.command, i.line).toBeDefined();
    expect(workflow.jobs.deploy.env.DATABASE_URL).toBe('${{ secrets.DATABASE_URL }}');
  });
});

describe('examples/ci/gitlab-ci.yml', () => {
  const pipeline = load('gitlab-ci.yml');
  const jobs = gitlabJobs(pipeline);
  const all = jobs.flatMap(([, job]) => invocations(gitlabScript(job)));

  it('runs lint, verify and up against a PostgreSQL service, and uploads their Code Quality reports', () => {
    const [, check] = jobs.find(([name]) => name === 'migrations:check')!;
    expect(check.services.map((s: Yaml) => (typeof s === 'string' ? s : s.name))).toContainEqual(
      expect.stringMatching(/^postgres:\d+/),
    );
    expect(check.variables.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgres:5432\//);
    const inCheck = invocations(gitlabScript(check));
    expect([...commandsOf(inCheck)]).toEqual(expect.arrayContaining(['doctor', 'lint', 'up', 'verify']));
    const reports = inCheck.filter((i) => i.command === 'lint' || i.command === 'verify');
    for (const i of reports) {
      expect(i.flags.get('--format'), i.line).toBe('gitlab');
      expect(check.artifacts.reports.codequality, i.line).toContain(i.redirect);
    }
    expect(check.artifacts.when).toBe('always');
  });

  it('its check job passes against a real PostgreSQL and writes Code Quality files GitLab can read', async () => {
    await db.reset();
    const dir = makeProject(FILES);
    const [, check] = jobs.find(([name]) => name === 'migrations:check')!;
    const result = await runJob(gitlabScript(check), dir, { ...check.variables, DATABASE_URL: db.url });
    expect(result.code, result.stderr).toBe(0);
    for (const file of check.artifacts.reports.codequality as string[]) {
      expect(JSON.parse(readFileSync(join(dir, file), 'utf8')), file).toEqual([]);
    }
    expect((await db.query('select count(*)::int as n from schema_migrations'))[0]!.n).toBe(2);
  });

  it('gates the application deploy on status --exit-code, and runs only commands and options the CLI has', () => {
    expect(all.some((i) => i.command === 'status' && i.flags.has('--exit-code'))).toBe(true);
    for (const [name, job] of jobs) expect(job.stage, name).toBeOneOf(pipeline.stages);
    for (const i of all) expect(i.command, i.line).toBeDefined();
  });
});

/**
 * A repository whose `main` holds migrations (one that lint flags: it must not be reported again) and whose
 * checked-out branch adds a risky one; `origin` is the repository itself, so `origin/main` exists as it does
 * on a CI runner.
 */
function pullRequestRepo(): string {
  const dir = makeProject({ ...FILES, 'migrations/000_old.sql': 'drop table if exists old_stuff;\n' });
  const git = (...args: string[]) => {
    const r = spawnSync('git', args, {
      cwd: dir,
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@example.com',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@example.com',
      },
    });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  };
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', 'the migrations so far');
  git('checkout', '-q', '-b', 'feature');
  writeFiles(dir, {
    'migrations/003_users_name.sql':
      '\nalter table users add column name text;\ncreate index users_name_idx on users (name);\n',
  });
  git('add', '-A');
  git('commit', '-q', '-m', 'feature');
  git('remote', 'add', 'origin', dir);
  git('fetch', '-q', 'origin');
  return dir;
}

describe('the lint steps of the examples on a pull/merge request', () => {
  it('GitHub: annotates only the migrations the change adds, and fails the step on an error', async () => {
    const workflow = load('github-actions.yml');
    const step = (workflow.jobs.check.steps as { run?: string; if?: string }[]).find((s) =>
      s.if?.includes('pull_request'),
    )!;
    const dir = pullRequestRepo();
    const result = await runJob(step.run!, dir, { GITHUB_BASE_REF: 'main' });
    expect(result.code).toBe(1);
    const annotations = result.stdout.trimEnd().split('\n');
    expect(annotations.length).toBeGreaterThan(0);
    for (const a of annotations) expect(a).toMatch(/^::(error|warning) file=migrations\/003_users_name\.sql,line=\d+/);
    expect(annotations).toContainEqual(
      expect.stringMatching(
        /^::error file=migrations\/003_users_name\.sql,line=3,col=1,title=tidemark lint%3A require-concurrent-index-creation/,
      ),
    );
  });

  it("GitLab: writes the added migrations' findings to the Code Quality file, and fails the job on an error", async () => {
    const pipeline = load('gitlab-ci.yml');
    const check = pipeline['migrations:check'];
    const lintLines = (check.script as string[]).filter((line) => !/npx migrate (doctor|up|verify)/.test(line));
    const dir = pullRequestRepo();
    const result = await runJob(lintLines.join('\n'), dir, { CI_MERGE_REQUEST_TARGET_BRANCH_NAME: 'main' });
    expect(result.code).toBe(1);
    const report = JSON.parse(readFileSync(join(dir, 'gl-lint.json'), 'utf8')) as {
      check_name: string;
      location: { path: string };
    }[];
    expect(new Set(report.map((i) => i.location.path))).toEqual(new Set(['migrations/003_users_name.sql']));
    expect(report.map((i) => i.check_name)).toContain('tidemark-lint/require-concurrent-index-creation');
  });
});
