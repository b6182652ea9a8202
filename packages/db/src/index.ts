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
export { identifier, type SqlIdentifier, type Sql, type Row, type SqlQueryConfig } from './sql/tag.js';
export { withTenant } from './database/database.js';
export { currentTenant } from './scope/context.js';
export {
  getTenantFromRequest,
  DEFAULT_TENANT_HEADER,
  DEFAULT_RESERVED_SUBDOMAINS,
  type TenantHeaders,
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
  SqlCallError,
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
  type DropTenantOptions,
  type DropTenantResult,
  repairTenantRoles,
  type TenantStatus,
  type TenantRecord,
  type CreateTenantInput,
  type CreateTenantResult,
  type CreateTenantOptions,
  type LifecycleOptions,
  type TenantSeed,
} from './lifecycle/tenants.js';
export {
  createPendingTenants,
  countPendingTenants,
  type PendingTenantsOptions,
} from './lifecycle/pending.js';
export { cloneTenant, type CloneTenantOptions } from './lifecycle/clone.js';
export { renameTenant, type RenameTenantOptions, type RenameTenantResult } from './lifecycle/rename.js';
export { setupDatabase, PLATFORM_TABLES, type SetupReport } from './lifecycle/setup.js';
export {
  exportTenant,
  importTenant,
  verifyTenantExport,
  moveTenant,
  ExportFileError,
  ExportIncompatibleError,
  TransferUnsupportedError,
  type ExportTenantOptions,
  type ExportTenantResult,
  type ImportTenantOptions,
  type ImportTenantResult,
  type MoveTenantOptions,
  type MoveTenantResult,
  type ExportFileProblem,
  type ExportHeader,
  type ExportManifest,
  type ExportTable,
  type TableManifest,
} from './lifecycle/transfer/index.js';
export { describeCitus, type CitusReport, type CitusNode } from './citus/describe.js';
export {
  moveTenantToNode,
  parseNodeTarget,
  type MoveTenantToNodeOptions,
  type NodeTarget,
  type TenantNodeMove,
} from './citus/move.js';
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
  type MigrationSetSpec,
  type MigrationSets,
  type FleetStop,
  createMigrationFile,
  type NewMigrationFile,
} from './migrations/index.js';
export { configuredMigrationSets, findConfigFile, type ConfigSource } from './config/migration-sets.js';
export {
  forEachTenant,
  fleetTenants,
  sqlTask,
  loadTenantModule,
  getFleetRun,
  FleetRunError,
  TenantModuleError,
  TenantExecError,
  type SqlTask,
  type SqlTaskResult,
  type FleetRunRecord,
  type FleetRunInfo,
  type FleetSelection,
  type FleetTenant,
  type ForEachTenantOptions,
  type TenantResult,
  type TenantTask,
} from './fleet/index.js';
export {
  setTenantLimits,
  getTenantLimits,
  configureTenantLimits,
  tenantLimitDefaults,
  type TenantLimitsInput,
  type TenantLimitsReport,
} from './lifecycle/limits.js';
export type { EffectiveLimits, StoredLimits } from './stats/governor.js';
export type { TenantLimitDefaults, LimitInput } from './stats/units.js';
export { TenantBusyError, StatementTimeoutError, InvalidLimitError } from './stats/errors.js';
export {
  tenantStats,
  type TenantStats,
  type TenantStatsOptions,
  type TenantStatsOrder,
  type TenantStatsReport,
  type LibraryTenantStats,
} from './stats/report.js';
export type { ServerCapabilities, ServerTenantStats } from './stats/server.js';
export {
  countTenantsByStatus,
  listTenantsPage,
  describeTenant,
  snapshotTenantStats,
  readOnlySession,
  type TenantPage,
  type TenantPageOptions,
  type TenantPageRow,
  type TenantSort,
  type TenantDetail,
  type TenantTable,
  type TenantAppliedMigration,
  type SchemaStats,
  type TenantStatsSnapshot,
} from './inspect/index.js';
export {
  recordOperatorAction,
  listOperatorActions,
  type OperatorAction,
  type OperatorActionInput,
} from './lifecycle/operator-actions.js';
