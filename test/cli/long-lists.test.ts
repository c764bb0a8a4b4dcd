/**
 * Long lists in a human error: a folder pointed at the wrong place gives a problem per file, and a failure
 * early in a long run leaves hundreds of migrations not run. The terminal shows the first few and says how
 * many more; --verbose and --json carry every one.
 */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';
import { makeProject, runCli } from '../helpers/project.js';

const db = useTestDatabase('long_lists', { resetEach: true });

function cli(dir: string, args: string[]) {
  return runCli(args, { cwd: dir, env: { DATABASE_URL: db.url, BACKUP_BEFORE_MIGRATE: 'false' } });
}

/** `count` rollback files with no migration: one problem each. */
function orphanRollbacks(count: number): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 1; i <= count; i += 1) files[`rollback/${String(i).padStart(3, '0')}_t_rollback.sql`] = 'select 1;\n';
  return files;
}

describe('long lists in errors', () => {
  it('shows the first 20 problems of many, how many more, and still the hint', async () => {
    const dir = makeProject(orphanRollbacks(25));
    const result = await cli(dir, ['up']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Found 25 problems in the migration files/);
    expect(result.stderr).toMatch(/020_t_rollback\.sql: a rollback with no migration of version 020/);
    expect(result.stderr).not.toMatch(/021_t_rollback/);
    expect(result.stderr).toMatch(/and 5 more problems \(--verbose or --json lists them all\)/);
    expect(result.stderr).toMatch(/→ Fix the files above/);
  });

  it('lists every problem with --verbose and in --json', async () => {
    const dir = makeProject(orphanRollbacks(25));
    const verbose = await cli(dir, ['up', '--verbose']);
    expect(verbose.code).toBe(2);
    expect(verbose.stderr).toMatch(/025_t_rollback\.sql: a rollback with no migration of version 025/);
    expect(verbose.stderr).not.toMatch(/more problems/);
    const json = await cli(dir, ['up', '--json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout).error.problems).toHaveLength(25);
  });

  it('shows 20 problems or fewer in full', async () => {
    const dir = makeProject(orphanRollbacks(20));
    const result = await cli(dir, ['up']);
    expect(result.stderr).toMatch(/020_t_rollback\.sql/);
    expect(result.stderr).not.toMatch(/more problems/);
  });

  it('names the first 10 migrations not run after a failure, and how many more', async () => {
    const files: Record<string, string> = { 'migrations/001_broken.sql': 'select nme from nowhere;\n' };
    for (let i = 2; i <= 15; i += 1)
      files[`migrations/${String(i).padStart(3, '0')}_t${i}.sql`] = `create table t${i} (id int);\n`;
    const dir = makeProject(files);
    const result = await cli(dir, ['up']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /Not run: 002_t2, 003_t3, .*, 011_t11, and 4 more migrations \(--verbose or --json lists them all\)/,
    );
    const verbose = await cli(dir, ['up', '--verbose']);
    expect(verbose.stderr).toMatch(/Not run: 002_t2, .*, 015_t15\n/);
  });
});
