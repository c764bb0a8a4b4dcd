/** Every lint rule, in the order findings of one statement are reported. */
import type { Rule } from '../types.js';
import { rule as attachPartitionWithoutCheck } from './attach-partition-without-check.js';
import { rule as banLockTable } from './ban-lock-table.js';
import { rule as changingTablePersistence } from './changing-table-persistence.js';
import { rule as changingTablespace } from './changing-tablespace.js';
import { rule as notInTransaction } from './not-in-transaction.js';
import { rule as requireConcurrentDetachPartition } from './require-concurrent-detach-partition.js';
import { rule as requireConcurrentRefresh } from './require-concurrent-refresh.js';
import { rule as sessionSetInTransaction } from './session-set-in-transaction.js';
import { rule as addingExclusionConstraint } from './adding-exclusion-constraint.js';
import { rule as addingFieldWithDefault } from './adding-field-with-default.js';
import { rule as addingForeignKeyConstraint } from './adding-foreign-key-constraint.js';
import { rule as addingNotNullableField } from './adding-not-nullable-field.js';
import { rule as addingRequiredField } from './adding-required-field.js';
import { rule as addingStoredGeneratedColumn } from './adding-stored-generated-column.js';
import { rule as backfillInDdlTransaction } from './backfill-in-ddl-transaction.js';
import { rule as banConcurrentIndexCreationInTransaction } from './ban-concurrent-index-creation-in-transaction.js';
import { rule as banDeleteWithoutWhere } from './ban-delete-without-where.js';
import { rule as banDropColumn } from './ban-drop-column.js';
import { rule as banDropDatabase } from './ban-drop-database.js';
import { rule as banDropSchema } from './ban-drop-schema.js';
import { rule as banDropTable } from './ban-drop-table.js';
import { rule as banTruncate } from './ban-truncate.js';
import { rule as banUpdateWithoutWhere } from './ban-update-without-where.js';
import { rule as changingColumnType } from './changing-column-type.js';
import { rule as constraintMissingNotValid } from './constraint-missing-not-valid.js';
import { rule as disallowedUniqueConstraint } from './disallowed-unique-constraint.js';
import { rule as enumValueUsedInSameTransaction } from './enum-value-used-in-same-transaction.js';
import { rule as lockTimeoutDisabled } from './lock-timeout-disabled.js';
import { rule as preferBigintOverInt } from './prefer-bigint-over-int.js';
import { rule as preferIdentity } from './prefer-identity.js';
import { rule as preferTextField } from './prefer-text-field.js';
import { rule as preferTimestamptz } from './prefer-timestamptz.js';
import { rule as renamingColumn } from './renaming-column.js';
import { rule as renamingTable } from './renaming-table.js';
import { rule as requireConcurrentIndexCreation } from './require-concurrent-index-creation.js';
import { rule as requireConcurrentIndexDeletion } from './require-concurrent-index-deletion.js';
import { rule as requireConcurrentReindex } from './require-concurrent-reindex.js';
import { rule as transactionNesting } from './transaction-nesting.js';

// Sorted by id: the order findings of one statement are reported in.
export const RULES: readonly Rule[] = [
  attachPartitionWithoutCheck,
  banLockTable,
  changingTablePersistence,
  changingTablespace,
  notInTransaction,
  requireConcurrentDetachPartition,
  requireConcurrentRefresh,
  sessionSetInTransaction,
  addingExclusionConstraint,
  addingFieldWithDefault,
  addingForeignKeyConstraint,
  addingNotNullableField,
  addingRequiredField,
  addingStoredGeneratedColumn,
  backfillInDdlTransaction,
  banConcurrentIndexCreationInTransaction,
  banDeleteWithoutWhere,
  banDropColumn,
  banDropDatabase,
  banDropSchema,
  banDropTable,
  banTruncate,
  banUpdateWithoutWhere,
  changingColumnType,
  constraintMissingNotValid,
  disallowedUniqueConstraint,
  enumValueUsedInSameTransaction,
  lockTimeoutDisabled,
  preferBigintOverInt,
  preferIdentity,
  preferTextField,
  preferTimestamptz,
  renamingColumn,
  renamingTable,
  requireConcurrentIndexCreation,
  requireConcurrentIndexDeletion,
  requireConcurrentReindex,
  transactionNesting,
].sort((a, b) => (a.id < b.id ? -1 : 1));

export const RULES_BY_ID: ReadonlyMap<string, Rule> = new Map(RULES.map((rule) => [rule.id, rule]));
