/**
 * The migration runner's public surface: files (loadMigrations), one schema (migratePublic, migrateTenant,
 * applyTenantMigrations), the fleet (migrateTenants, migrationStatus).
 */
export {
  loadMigrations,
  clearMigrationCache,
  migrationsDigest,
  NO_TRANSACTION_MARKER,
  type Migration,
} from './files.js';
export {
  migratePublic,
  migrateTenant,
  applyTenantMigrations,
  throwIfFailed,
  DEFAULT_PUBLIC_DIR,
  DEFAULT_TENANT_DIR,
  type MigrateOptions,
  type MigrationResult,
  type MigrationResultSet,
  type MigrationResultStatus,
  type DriverSource,
} from './runner.js';
export {
  migrateTenants,
  migrationStatus,
  type TenantSource,
  type TenantProgress,
  type TenantRunStatus,
  type TenantRunResult,
  type SummaryDisagreement,
  type MigrateTenantsOptions,
  type MigrateTenantsResult,
  type AppliedMigration,
  type SchemaMigrationStatus,
  type TenantPendingStatus,
  type FleetMigrationStatus,
  type MigrationStatusReport,
  type MigrationStatusOptions,
} from './fleet.js';
