/**
 * Every error this library throws on purpose is a `CgkError`: a stable `code` to branch on, a message that
 * says what happened, and a `hint` that says what to do. Messages never contain a password: anything that
 * may hold a connection string passes through `redactSecrets()` first.
 */
export type { CgkErrorCode } from './codes.js';
export { CgkError, redactSecrets, type CgkErrorOptions } from './base.js';
export {
  InvalidSlugError,
  InvalidIdentifierError,
  TenantNotFoundError,
  TenantExistsError,
  TenantScopeConflictError,
  ScopeEndedError,
  TransactionAbortedError,
  TransactionControlError,
  DatabaseClosedError,
  NoTenantScopeError,
  OrmTransactionError,
} from './scope.js';
export {
  ConfigError,
  ConnectionError,
  PoolExhaustedError,
  ConfirmationRequiredError,
  QueryError,
  type PoolExhaustion,
  type QueryErrorDetails,
} from './connection.js';
export { CacheError, EncryptionError, type CacheErrorReason } from './cache.js';
export { SqlCallError } from './sql.js';
export {
  MigrationChecksumError,
  MigrationError,
  MigrationFilesError,
  MigrationFleetError,
  type MigrationErrorDetails,
} from './migration.js';
