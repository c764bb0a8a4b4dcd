/**
 * The SQL words of a statement's parse-tree kind, for people: `CreateStmt` is `CREATE TABLE` in a lock report or
 * a refusal. The kinds stay as they are where programs read them (`kind` in the --json lock report).
 */

const WORDS: Readonly<Record<string, string>> = {
  CreateStmt: 'CREATE TABLE',
  CreateTableAsStmt: 'CREATE TABLE AS / MATERIALIZED VIEW',
  IndexStmt: 'CREATE INDEX',
  AlterTableStmt: 'ALTER TABLE',
  RenameStmt: 'ALTER ... RENAME',
  DropStmt: 'DROP',
  TruncateStmt: 'TRUNCATE',
  CreateEnumStmt: 'CREATE TYPE ... AS ENUM',
  AlterEnumStmt: 'ALTER TYPE ... VALUE',
  CompositeTypeStmt: 'CREATE TYPE',
  CreateDomainStmt: 'CREATE DOMAIN',
  AlterDomainStmt: 'ALTER DOMAIN',
  CreateSeqStmt: 'CREATE SEQUENCE',
  AlterSeqStmt: 'ALTER SEQUENCE',
  ViewStmt: 'CREATE VIEW',
  RefreshMatViewStmt: 'REFRESH MATERIALIZED VIEW',
  CreateFunctionStmt: 'CREATE FUNCTION',
  CreateTrigStmt: 'CREATE TRIGGER',
  CreateSchemaStmt: 'CREATE SCHEMA',
  CreateExtensionStmt: 'CREATE EXTENSION',
  CreatePolicyStmt: 'CREATE POLICY',
  CommentStmt: 'COMMENT',
  GrantStmt: 'GRANT / REVOKE',
  AlterOwnerStmt: 'ALTER ... OWNER',
  ReindexStmt: 'REINDEX',
  ClusterStmt: 'CLUSTER',
  VacuumStmt: 'VACUUM / ANALYZE',
  LockStmt: 'LOCK',
  DoStmt: 'DO',
  InsertStmt: 'INSERT',
  UpdateStmt: 'UPDATE',
  DeleteStmt: 'DELETE',
  MergeStmt: 'MERGE',
  SelectStmt: 'SELECT',
  CopyStmt: 'COPY',
  CallStmt: 'CALL',
  VariableSetStmt: 'SET',
  TransactionStmt: 'BEGIN / COMMIT',
};

/** `CREATE TABLE` for `CreateStmt`; a kind without words here is shown as it is. */
export function statementWords(kind: string): string {
  return WORDS[kind] ?? kind;
}
