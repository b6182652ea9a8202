/**
 * @cgk/db: the public API. Everything a service may use is exported here and nowhere else.
 */
export {
  sql,
  Database,
  getDatabase,
  configureDatabase,
  closeDatabase,
  tenantRolesFromEnv,
  type DatabaseOptions,
} from './database/database.js';
export { tenantRoleModeFromEnv, type TenantRoleMode } from './roles/mode.js';
export { identifier, type SqlIdentifier, type Sql, type Row } from './sql/tag.js';
export { withTenant } from './database/database.js';
export { currentTenant } from './scope/context.js';
export {
  getTenantFromRequest,
  DEFAULT_TENANT_HEADER,
  type TenantRequest,
  type TenantRequestOptions,
} from './request/tenant-from-request.js';
export { assertValidSlug, isValidSlug, schemaNameFor, quoteIdentifier, MAX_SLUG_LENGTH } from './sql/identifier.js';
export { resolveDriverConfig, type DriverConfig } from './drivers/driver-config.js';
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
  TransactionControlError,
  NoTenantScopeError,
  OrmTransactionError,
  ConfigError,
  ConnectionError,
  PoolExhaustedError,
  ConfirmationRequiredError,
  QueryError,
  CacheError,
  EncryptionError,
  MigrationError,
  MigrationChecksumError,
  MigrationFilesError,
  MigrationFleetError,
  redactSecrets,
  type CgkErrorCode,
  type CacheErrorReason,
  type MigrationErrorDetails,
  type PoolExhaustion,
} from './errors/index.js';
export {
  createTenantCache,
  tenantCache,
  closeCache,
  DEFAULT_CACHE_TIMEOUT_MS,
  type TenantCache,
  type TenantCacheOptions,
  type RedisClient,
} from './cache/index.js';
export {
  encryptSecret,
  decryptSecret,
  isEncryptedSecret,
  needsReencryption,
  reencryptSecret,
  shopifyTokenBinding,
  type SecretBinding,
  checkEncryptionKeys,
  type EncryptionKeyStatus,
} from './secrets/encryption.js';
export { reencryptOrganizationSecrets, type ReencryptReport } from './secrets/reencrypt.js';
export {
  createTenant,
  listTenants,
  getTenant,
  suspendTenant,
  activateTenant,
  dropTenant,
  repairTenantRoles,
  type TenantStatus,
  type TenantRecord,
  type CreateTenantInput,
  type CreateTenantResult,
  type CreateTenantOptions,
  type LifecycleOptions,
} from './lifecycle/tenants.js';
export { setupDatabase, PLATFORM_TABLES, type SetupReport } from './lifecycle/setup.js';
export { describeCitus, type CitusReport, type CitusNode } from './citus/describe.js';
export { diagnose, type DoctorReport, type DoctorCheck, type DoctorStatus, type DiagnoseOptions } from './doctor/index.js';
export {
  migratePublic,
  migrateTenant,
  migrateTenants,
  migrationStatus,
  throwIfFailed,
  type MigrationResult,
  type MigrationResultSet,
  type MigrateTenantsResult,
  type TenantProgress,
  type MigrationStatusReport,
  loadMigrations,
  clearMigrationCache,
  applyTenantMigrations,
  migrateTenantInTransaction,
  NO_TRANSACTION_MARKER,
  type Migration,
  type MigrateOptions,
  type MigrationResultStatus,
  type TenantSource,
  type TenantRunStatus,
  type TenantRunResult,
  type SummaryDisagreement,
  type MigrateTenantsOptions,
  type SchemaMigrationStatus,
  type FleetMigrationStatus,
  type TenantPendingStatus,
  type AppliedMigration,
  type MigrationStatusOptions,
} from './migrations/index.js';
