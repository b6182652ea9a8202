import pg from 'pg';
import { parsePoolSettings, type PoolSettings } from '../pool-settings.js';
import { normalizeDriverError } from '../errors.js';
import { poolError } from '../pool-exhausted.js';
import { nodePostgresQuery, toResult } from '../results.js';
import { TenantBudget } from './tenant-budget.js';
import { TenantPools } from './tenant-pools.js';
import { openSharedPool, type SharedPool } from './shared-pool.js';
import { begin, clientSession, RELEASED, type NodePostgresClient } from '../session.js';
import type { Driver, QueryResult, Session, Statement } from '../types.js';

/** Options for the node-postgres driver. */
export interface PgDriverOptions {
  connectionString: string;
  /** Login isolation mode: scopes run on per-tenant pools logged in as the tenant role (tenant-pools.ts). */
  login?: PgLoginOptions;
}

/** How the pg driver reaches tenant roles in login mode. */
export interface PgLoginOptions {
  /** The passwords of a tenant role to try, in order (derived, see tenant-credentials.ts). */
  passwords(role: string): string[];
  /** Tenants that keep connections (LRU); default the URL's `tenant_pool_tenants`, at most the total cap. */
  maxTenants?: number;
  /** Server connections across all tenant pools; default the URL's `tenant_pool_max` (default `pool_max`). */
  maxConnections?: number;
}

/**
 * The node-postgres driver, for any `postgres://` server (local, CI, self-hosted, Neon over TCP, PgBouncer).
 * Connections run in pg's pipeline mode: queued statements go out without waiting for the previous answer,
 * so `begin()` sends BEGIN and its prelude in one round trip. Each statement carries its own Sync, so one
 * failing statement does not swallow the answers of the others.
 */
export function createPgDriver(options: PgDriverOptions): Driver {
  const settings = parsePoolSettings(options.connectionString);
  const target = settings.redacted;
  // With tenant affinity (default) or pg-pool (`pool_affinity=0`); either replaces a connection the server drops.
  const pool = openSharedPool(settings);
  let ended = false;
  const shape = { target, max: settings.max, connectTimeoutMs: settings.connectTimeoutMs };
  const fail = (error: unknown): never => {
    throw poolError(error, pool, shape) ?? normalizeDriverError(error, target);
  };

  const run = async (client: SharedPool, statement: Statement): Promise<QueryResult> => {
    const query = nodePostgresQuery(statement, pg.types) as string | pg.QueryConfig;
    const result = await client.query(query, statement.values as unknown[] | undefined);
    return toResult(result);
  };
  const normalize = (error: unknown) => normalizeDriverError(error, target);
  const budget = new TenantBudget<pg.ClientBase>(settings.maxTenants);
  const acquire = async (tenant?: string): Promise<Session> => {
    const { client, release } = await pool.checkout(tenant).catch(fail);
    // A connection that has served its share of tenants is closed when this checkout ends, not handed back.
    const retire = budget.serve(client, tenant);
    const checkedOut = releasedBy(client, retire ? () => release(true) : release);
    return clientSession(checkedOut, normalize, () => normalize(new Error(RELEASED)), pg.types);
  };
  const tenantPools = options.login && openTenantPools(settings, options.login);
  const acquireAs = async (role: string): Promise<Session> => {
    if (!tenantPools) throw new Error(`This pg driver was not opened for login mode (asked for role ${role})`);
    const client = await tenantPools.acquire(role).catch((error: unknown) => {
      throw normalize(error);
    });
    const checkedOut = releasedBy(client, (destroy) => tenantPools.release(client, destroy));
    return clientSession(checkedOut, normalize, () => normalize(new Error(RELEASED)), pg.types);
  };

  return {
    name: 'pg',
    maxConnections: settings.max,
    async query(statement) {
      return run(pool, statement).catch(fail);
    },
    async exec(script) {
      await pool.query(script).catch(fail);
    },
    async begin(prelude, options) {
      const session = options?.role === undefined ? await acquire(options?.tenant) : await acquireAs(options.role);
      return begin(session, prelude, { pipelined: true, aborted: (cause) => cause });
    },
    acquire: () => acquire(),
    ...(tenantPools ? { tenantPoolStats: () => tenantPools.stats(), retireRole: (role) => tenantPools.retire(role) } : {}),
    async end() {
      if (ended) return;
      ended = true;
      await Promise.all([pool.end(), tenantPools?.end()]);
    },
  };
}

/** `client` as a session's connection whose checkout ends with `release` instead of its own. */
function releasedBy(client: pg.ClientBase, release: (destroy?: boolean) => void): NodePostgresClient {
  return {
    query: (query, values) => client.query(query as string | pg.QueryConfig, values),
    release,
    on: (event, listener) => client.on(event, listener),
    removeListener: (event, listener) => client.removeListener(event, listener),
  };
}

function openTenantPools(settings: PoolSettings, login: PgLoginOptions): TenantPools {
  const maxConnections = Math.max(1, login.maxConnections ?? settings.tenantPoolMax);
  return new TenantPools({
    connectionString: settings.connectionString,
    target: settings.redacted,
    maxConnections,
    maxTenants: Math.max(1, login.maxTenants ?? Math.min(settings.tenantPoolTenants, maxConnections)),
    connectTimeoutMs: settings.connectTimeoutMs,
    idleTimeoutMs: settings.idleTimeoutMs,
    maxUses: settings.maxUses,
    maxLifetimeSeconds: settings.maxLifetimeSeconds,
    statementTimeoutMs: settings.statementTimeoutMs,
    passwords: login.passwords,
  });
}
