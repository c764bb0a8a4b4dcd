/**
 * Understanding SQL: statement splitting, positions (file:line:col), lint and the lock report.
 * Importing this module is cheap: the PostgreSQL parser (libpg-query, WebAssembly) loads on the first call
 * that needs it (`loadParser`, `parse`, `splitStatements`, `lintFiles`, `lockReportForFiles`).
 */
export { loadParser, isParserLoaded, parserLoadMs, parse, parseSync, SqlSyntaxError } from './parser.js';
export type { ParseTree, RawStmt, PgNode } from './parser.js';
export { lineColumnAt, charIndexFromPgPosition, byteOffsetToCharIndex, TextIndex } from './position.js';
export type { LineColumn } from './position.js';
export { splitStatements, parseStatementsSync } from './split.js';
export type { Statement, ParsedStatement } from './split.js';
export { lintFiles, lintFile, LintRun, RULES, RULES_BY_ID, ENGINE_FINDINGS } from './lint/index.js';
export type { Finding, LintContext, LintInputFile, Rule, Severity } from './lint/index.js';
export { lockReport, lockReportForFiles, statementLockFacts, LOCK_MODES, pgLockName } from './locks.js';
export type { FileLocks, LockMode, RelationLock, StatementLocks } from './locks.js';
export { SchemaView } from './schema.js';
