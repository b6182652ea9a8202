/**
 * The migration runner's public surface: files (loadMigrations), one schema (migratePublic, migrateTenant,
 * migrateTenantInTransaction), the fleet (migrateTenants) and the status report (migrationStatus).
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
  migrateTenantInTransaction,
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
export type { MigrationSetSpec, MigrationSets } from './types.js';
export { createMigrationFile, type NewMigrationFile } from './new-file.js';
export {
  migrateTenants,
  type TenantSource,
  type TenantProgress,
  type TenantRunStatus,
  type TenantRunResult,
  type SummaryDisagreement,
  type MigrateTenantsOptions,
  type MigrateTenantsResult,
  type FleetStop,
} from './fleet.js';
export {
  migrationStatus,
  type AppliedMigration,
  type SchemaMigrationStatus,
  type TenantPendingStatus,
  type FleetMigrationStatus,
  type MigrationStatusReport,
  type MigrationStatusOptions,
} from './status.js';
