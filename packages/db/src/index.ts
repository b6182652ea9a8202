/**
 * @cgk/db: the public API. Everything a service may use is exported here and nowhere else.
 */
export { sql, Database, getDatabase, configureDatabase, closeDatabase, type DatabaseOptions } from './client.js';
export { identifier, SqlIdentifier, type Sql, type Row } from './sql.js';
export { withTenant } from './tenant.js';
export { currentTenant } from './scope.js';
export { getTenantFromRequest, DEFAULT_TENANT_HEADER, type TenantRequest, type TenantRequestOptions } from './request.js';
export { assertValidSlug, isValidSlug, schemaNameFor, quoteIdentifier, MAX_SLUG_LENGTH } from './identifier.js';
export { resolveDriverConfig, type DriverConfig } from './drivers/select.js';
export type { DriverName, QueryResult, FieldDef } from './drivers/types.js';
export {
  CgkError,
  InvalidSlugError,
  InvalidIdentifierError,
  TenantNotFoundError,
  TenantExistsError,
  TenantScopeConflictError,
  ScopeEndedError,
  TransactionAbortedError,
  ConfigError,
  ConnectionError,
  ConfirmationRequiredError,
  QueryError,
  redactSecrets,
  type CgkErrorCode,
} from './errors.js';
