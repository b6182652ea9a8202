import { registerConsole } from './console.js';
import { registerDoctor } from './doctor.js';
import { registerMigrate } from './migrate.js';
import type { Register } from './register.js';
import { registerSetup } from './setup.js';
import { registerTenant } from './tenant.js';

/** Every command file's registration, in the order `cgk --help` lists them. */
export const COMMANDS: readonly Register[] = [registerSetup, registerTenant, registerMigrate, registerDoctor, registerConsole];
