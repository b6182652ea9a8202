import { registerConsole } from './console.js';
import { registerDoctor } from './doctor.js';
import { registerMigrate } from './migrate.js';
import { registerMigration } from './migration.js';
import type { Register } from './register.js';
import { registerSetup } from './setup.js';
import { registerTenant } from './tenant.js';
import { registerTenantExec } from './tenant-exec.js';
import { registerTenantLifecycle } from './tenant-lifecycle.js';
import { registerTenantStats } from './tenant-stats.js';
import { registerTenantTransfer } from './tenant-transfer.js';

/** Every command file's registration, in the order `cgk --help` lists them. */
export const COMMANDS: readonly Register[] = [
  registerSetup,
  registerTenant,
  registerTenantExec,
  registerTenantLifecycle,
  registerTenantTransfer,
  registerTenantStats,
  registerMigrate,
  registerMigration,
  registerDoctor,
  registerConsole,
];
