/**
 * Input that psql understands and PostgreSQL does not: a backslash meta-command (`\set`, `\i`, `\connect`) or
 * the rows of `COPY ... FROM stdin`, which psql sends from the script itself. Both arrive in migrations made
 * from pg_dump's plain output or from psql scripts, and PostgreSQL only says "syntax error at or near ...".
 */

/** A sentence naming the psql-only input on `line` (1-based) of `text`, or undefined when it is plain SQL. */
export function psqlOnlyInput(text: string, line: number): string | undefined {
  const lines = text.split('\n');
  const at = lines[line - 1]?.trimStart() ?? '';
  if (at.startsWith('\\') && !at.startsWith('\\.')) {
    return `Line ${line} is a psql meta-command (${at.split(/\s/)[0]}): tidemark sends SQL to the server, not psql scripts; remove it.`;
  }
  const before = lines.slice(0, line - 1).join('\n');
  if (/\bcopy\b[^;]*\bfrom\s+stdin\b/i.test(before)) {
    return 'COPY ... FROM stdin takes its rows from psql, which a migration does not have: write them as INSERT ... VALUES (pg_dump --inserts does).';
  }
  return undefined;
}
