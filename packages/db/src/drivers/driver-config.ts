import { resolve } from 'node:path';
import { ConfigError } from '../errors/index.js';
import type { PgLoginOptions } from './pg/driver.js';
import type { Driver, DriverName } from './types.js';

/** Which driver to open, and with what. */
export interface DriverConfig {
  driver: DriverName;
  /** Connection string, for every driver but pglite. */
  url?: string;
  /** Data directory, for pglite; omitted = in memory. */
  dataDir?: string;
  /** Why this driver was chosen, in words (reported by `doctor` and the CLI). */
  reason: string;
  /** pglite: called when another process holds the data directory and this one starts waiting. */
  onLockWait?: (holderPid: number) => void;
}

const DRIVER_NAMES: readonly DriverName[] = ['pg', 'pglite', 'vercel', 'neon'];

/** Where the embedded database lives unless CGK_PGLITE_DIR says otherwise. */
const DEFAULT_PGLITE_DIR = '.cgk/pglite';

/**
 * Chooses the driver from the environment, by one documented rule:
 * `CGK_DB_DRIVER` if set (pg | pglite | vercel | neon); otherwise no `DATABASE_URL` (nor Vercel's
 * `POSTGRES_URL`) means the embedded PostgreSQL under `.cgk/pglite`; a URL on Vercel (`VERCEL` set) means
 * @vercel/postgres; any other URL means node-postgres. Throws `ConfigError` for an unknown driver name or
 * a driver that needs a URL without one.
 */
export function resolveDriverConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): DriverConfig {
  const url = env.DATABASE_URL || env.POSTGRES_URL || undefined;
  const urlSource = env.DATABASE_URL ? 'DATABASE_URL' : 'POSTGRES_URL';
  const dataDir = resolve(cwd, env.CGK_PGLITE_DIR || DEFAULT_PGLITE_DIR);
  const requested = env.CGK_DB_DRIVER?.trim();
  if (requested) {
    if (!DRIVER_NAMES.includes(requested as DriverName)) {
      throw new ConfigError(
        `CGK_DB_DRIVER=${requested} is not a driver`,
        `Use one of: ${DRIVER_NAMES.join(', ')} (or unset it to choose automatically).`,
      );
    }
    const driver = requested as DriverName;
    if (driver === 'pglite') return { driver, dataDir, reason: 'CGK_DB_DRIVER=pglite' };
    if (!url) throw missingUrl(`CGK_DB_DRIVER=${driver} needs a connection string`);
    return { driver, url, reason: `CGK_DB_DRIVER=${driver}` };
  }
  if (!url) return { driver: 'pglite', dataDir, reason: 'DATABASE_URL is not set' };
  if (env.VERCEL) return { driver: 'vercel', url, reason: `${urlSource} on Vercel` };
  return { driver: 'pg', url, reason: `${urlSource} is set` };
}

/**
 * Opens the configured driver; heavy drivers (WebAssembly, WebSocket) are only loaded when chosen. `login`:
 * per-tenant pools for the login isolation mode (pg only; the Database refuses the mode on other drivers).
 */
export async function openDriver(config: DriverConfig, login?: PgLoginOptions): Promise<Driver> {
  switch (config.driver) {
    case 'pglite': {
      const [{ createPgliteDriver }, { sharedEmbeddedDriver }] = await Promise.all([
        import('./pglite/driver.js'),
        import('./pglite/handles.js'),
      ]);
      const open = () => createPgliteDriver({ dataDir: config.dataDir, onLockWait: config.onLockWait });
      // One embedded database per directory per process, however many Databases (or bundled copies) open it.
      return config.dataDir ? sharedEmbeddedDriver(config.dataDir, open) : open();
    }
    case 'pg': {
      const [{ createPgDriver }, { statementPerMessageOnCitus }, { routeScopesOnCitus }] = await Promise.all([
        import('./pg/driver.js'),
        import('./citus-script.js'),
        import('./citus-router.js'),
      ]);
      // On Citus, tenant scopes go to the node holding their schema (citus-router.ts); a pool per node.
      const open = (url: string) => statementPerMessageOnCitus(createPgDriver({ connectionString: url, login }));
      return routeScopesOnCitus(requireUrl(config), open);
    }
    case 'vercel':
    case 'neon': {
      const { createNeonDriver } = await import('./neon.js');
      return createNeonDriver({ connectionString: requireUrl(config), flavour: config.driver });
    }
  }
}

function requireUrl(config: DriverConfig): string {
  if (!config.url) throw missingUrl(`the ${config.driver} driver needs a connection string`);
  return config.url;
}

function missingUrl(message: string): ConfigError {
  return new ConfigError(
    `DATABASE_URL is not set: ${message}`,
    'Set DATABASE_URL=postgres://user:password@host:5432/db (in the environment or .env), ' +
      'or unset CGK_DB_DRIVER to use the embedded PostgreSQL.',
  );
}
