/** Fleet runs: work done in every tenant's scope, recorded and resumable. Public through packages/db/src/index.ts. */
export { forEachTenant, fleetTenants } from './each-tenant.js';
export { sqlTask, type SqlTask, type SqlTaskResult } from './sql-task.js';
export { loadTenantModule } from './module.js';
export { getFleetRun, type FleetRunRecord } from './records.js';
export { FleetRunError, TenantModuleError, TenantExecError } from './errors.js';
export type { FleetRunInfo, FleetSelection, FleetTenant, ForEachTenantOptions, TenantResult, TenantTask } from './types.js';
