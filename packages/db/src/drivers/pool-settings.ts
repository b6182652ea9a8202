import { ConfigError, redactSecrets } from '../errors/index.js';

/** Pool and timeout settings read from the connection string's query parameters. */
export interface PoolSettings {
  /** The connection string without the parameters this library consumed. */
  connectionString: string;
  /** `pool_max` (alias `connection_limit`): most connections held open; default 10. */
  max: number;
  /** `connect_timeout` (seconds, as libpq): how long to wait for a connection; default 10. */
  connectTimeoutMs: number;
  /** `idle_timeout` (seconds): how long an unused connection stays open; default 30. */
  idleTimeoutMs: number;
  /**
   * `pool_max_tenants`: distinct tenants a pooled connection serves (withTenant scopes) before it is closed
   * and replaced; 0 = no limit. Bounds the server memory of a connection (see drivers/pg/tenant-budget.ts).
   */
  maxTenants: number;
  /**
   * `pool_affinity` (0 or 1): the pg driver keeps each tenant's scopes on connections that already served it
   * (drivers/pg/affinity-pool.ts). Default off (pg-pool, any free connection to any tenant): it pays while the
   * active tenants fit in `max` x `maxTenants` and lengthens the p99 beyond that (docs/SCALING.md).
   */
  affinity: boolean;
  /** `pool_max_uses`: checkouts after which a pooled connection is closed and replaced; 0 = never. */
  maxUses: number;
  /** `pool_max_lifetime` (seconds): age after which a pooled connection is closed and replaced; 0 = never. */
  maxLifetimeSeconds: number;
  /** `tenant_pool_max` (login isolation mode): connections across all tenant pools; default `max`. */
  tenantPoolMax: number;
  /** `tenant_pool_tenants` (login isolation mode): tenants that keep connections (LRU); default `tenantPoolMax`. */
  tenantPoolTenants: number;
  /** `statement_timeout` (milliseconds, as PostgreSQL): server-side limit per statement; default none. */
  statementTimeoutMs: number | undefined;
  /** The URL with its password replaced by `***`, safe to print. */
  redacted: string;
}

const CONSUMED = [
  'pool_max',
  'connection_limit',
  'connect_timeout',
  'idle_timeout',
  'statement_timeout',
  'pool_max_uses',
  'pool_max_lifetime',
  'pool_max_tenants',
  'pool_affinity',
  'tenant_pool_max',
  'tenant_pool_tenants',
];

/** Default `pool_max_tenants`: see docs/SCALING.md for how it was chosen. */
export const DEFAULT_POOL_MAX_TENANTS = 150;

/**
 * Parses `DATABASE_URL`-style strings. Other query parameters (`sslmode`, `application_name`, `options`, ...)
 * stay in `connectionString` for the driver, which honours them. Throws `ConfigError` on a malformed URL or
 * a non-numeric setting, without echoing the password.
 */
export function parsePoolSettings(connectionString: string): PoolSettings {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    throw new ConfigError(
      `DATABASE_URL is not a valid URL: ${redactSecrets(connectionString)}`,
      'Expected postgres://user:password@host:5432/database',
    );
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(
      `DATABASE_URL must start with postgres:// or postgresql://, not ${url.protocol}//`,
      'Copy the connection string from your provider (Neon: Dashboard → Connect).',
    );
  }
  const number = (name: string, fallback: number | undefined): number | undefined => {
    const raw = url.searchParams.get(name);
    if (raw === null) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0)
      throw new ConfigError(`DATABASE_URL parameter ${name}=${raw} is not a non-negative number`);
    return value;
  };
  const max = number('pool_max', undefined) ?? number('connection_limit', 10) ?? 10;
  const tenantPoolMax = Math.max(1, Math.floor(number('tenant_pool_max', max) ?? max));
  const settings = {
    max: Math.max(1, Math.floor(max)),
    tenantPoolMax,
    tenantPoolTenants: Math.max(1, Math.floor(number('tenant_pool_tenants', tenantPoolMax) ?? tenantPoolMax)),
    connectTimeoutMs: (number('connect_timeout', 10) ?? 10) * 1000,
    idleTimeoutMs: (number('idle_timeout', 30) ?? 30) * 1000,
    maxTenants: Math.floor(number('pool_max_tenants', DEFAULT_POOL_MAX_TENANTS) ?? DEFAULT_POOL_MAX_TENANTS),
    affinity: flag(url, 'pool_affinity', false),
    maxUses: Math.floor(number('pool_max_uses', 0) ?? 0),
    maxLifetimeSeconds: Math.floor(number('pool_max_lifetime', 0) ?? 0),
    statementTimeoutMs: number('statement_timeout', undefined),
  };
  for (const name of CONSUMED) url.searchParams.delete(name);
  return { ...settings, connectionString: url.toString(), redacted: redactSecrets(url.toString()) };
}

/** A 0/1 (or false/true) parameter; `fallback` when absent. */
function flag(url: URL, name: string, fallback: boolean): boolean {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  throw new ConfigError(`DATABASE_URL parameter ${name}=${raw} is not 0 or 1`, `Write ${name}=1 (on) or ${name}=0 (off).`);
}
