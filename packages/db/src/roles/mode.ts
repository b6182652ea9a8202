import type { DriverName } from '../drivers/types.js';
import { ConfigError } from '../errors/index.js';

/**
 * The three isolation modes of tenant scopes (docs/ISOLATION.md says what each guarantees):
 * - `off`: `search_path` only;
 * - `set-role` (the default): the scope's transaction switches to the tenant's role (`SET LOCAL ROLE`); stops
 *   mistakes, not SQL that changes role back (`RESET ROLE`);
 * - `login`: the scope's connection is logged in AS the tenant's role, from a pool of that tenant; SQL inside
 *   the scope cannot leave the tenant.
 */
export type TenantRoleMode = 'off' | 'set-role' | 'login';

const WORDS: Record<string, TenantRoleMode> = {
  off: 'off',
  false: 'off',
  '0': 'off',
  no: 'off',
  on: 'set-role',
  true: 'set-role',
  '1': 'set-role',
  yes: 'set-role',
  'set-role': 'set-role',
  login: 'login',
};

/**
 * Reads `CGK_TENANT_ROLES`: unset = `set-role`; `off`/`false`/`0`/`no` = off; `on`/`true`/`1`/`yes`/`set-role` =
 * set-role; `login` = login. Anything else throws `ConfigError`: a typo must not silently pick a weaker mode.
 */
export function tenantRoleModeFromEnv(env: NodeJS.ProcessEnv = process.env): TenantRoleMode {
  const raw = env.CGK_TENANT_ROLES?.trim();
  if (!raw) return 'set-role';
  const mode = WORDS[raw.toLowerCase()];
  if (!mode) {
    throw new ConfigError(
      `CGK_TENANT_ROLES=${raw} is not an isolation mode`,
      'Use one of: off, set-role (default; also on), login (docs/ISOLATION.md).',
    );
  }
  return mode;
}

/** The mode a `tenantRoles` option names: true = set-role, false = off (as before modes existed). */
export function tenantRoleMode(option: boolean | TenantRoleMode | undefined, env?: NodeJS.ProcessEnv): TenantRoleMode {
  if (option === undefined) return tenantRoleModeFromEnv(env);
  if (option === true) return 'set-role';
  if (option === false) return 'off';
  if (option !== 'off' && option !== 'set-role' && option !== 'login') {
    throw new ConfigError(`tenantRoles: ${String(option)} is not an isolation mode`, "Use 'off', 'set-role' or 'login'.");
  }
  return option;
}

const WHY_NOT: Partial<Record<DriverName, string>> = {
  pglite: 'the embedded PostgreSQL has a single user (postgres, a superuser) and no second login',
  neon:
    "Neon's serverless driver would need a connection per tenant role over WebSocket; use the pg driver " +
    '(DATABASE_URL to the Neon host, pooled or direct) for login mode',
  vercel: '@vercel/postgres connects as one role; use the pg driver (CGK_DB_DRIVER=pg) for login mode',
};

/** Throws `ConfigError` when `driver` cannot serve login mode (every driver but pg). */
export function assertLoginModeSupported(driver: DriverName): void {
  const why = WHY_NOT[driver];
  if (why === undefined) return;
  throw new ConfigError(
    `Tenant roles in login mode are not supported on the ${driver} driver: ${why}`,
    'Use CGK_TENANT_ROLES=set-role (or tenantRoles: true) with this driver, or connect with the pg driver.',
  );
}
