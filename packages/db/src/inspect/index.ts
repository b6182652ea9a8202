/** Read-only views of the fleet for operators (the console and scripts): one page of tenants, one tenant, activity. */
export {
  countTenantsByStatus,
  listTenantsPage,
  type TenantPage,
  type TenantPageOptions,
  type TenantPageRow,
  type TenantSort,
} from './tenants-page.js';
export {
  describeTenant,
  redactSettings,
  type TenantAppliedMigration,
  type TenantDetail,
  type TenantTable,
} from './tenant-detail.js';
export { snapshotTenantStats, type SchemaStats, type TenantStatsSnapshot } from './tenant-stats.js';
export { readOnlySession } from './read-only.js';
