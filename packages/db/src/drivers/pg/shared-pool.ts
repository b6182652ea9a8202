import pg from 'pg';
import { AffinityPool } from './affinity-pool.js';
import type { PoolSettings } from '../pool-settings.js';
import { pgSslSettings } from '../ssl.js';

/**
 * The connections of the pg driver's ordinary (not login) path: the tenant-affinity pool (drivers/pg/affinity-pool.ts,
 * `pool_affinity=1`) or pg-pool (`pool_affinity=0`, the default), behind one shape.
 */

/** A checked-out connection and how to give it back (`destroy`: closed, not reused). */
export interface Checkout {
  client: pg.ClientBase;
  release(destroy?: boolean): void;
}

/** What the pg driver uses of its pool. */
export interface SharedPool {
  /** Connections open or opening. */
  readonly totalCount: number;
  /** Callers waiting for a connection. */
  readonly waitingCount: number;
  /** A connection for a scope of `tenant` (chosen for it with affinity), or for no tenant. */
  checkout(tenant?: string): Promise<Checkout>;
  /** One statement on any free connection (queries and scripts outside scopes). */
  query(query: string | pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult>;
  end(): Promise<void>;
}

/** Opens the pool `settings` ask for; nothing connects until the first checkout. */
export function openSharedPool(settings: PoolSettings): SharedPool {
  return settings.affinity ? affinityPool(settings) : pgPool(settings);
}

function affinityPool(settings: PoolSettings): SharedPool {
  const pool = new AffinityPool({ ...settings, target: settings.redacted });
  const checkout = async (tenant?: string): Promise<Checkout> => {
    const client = await pool.acquire(tenant);
    return { client, release: (destroy = false) => pool.release(client, destroy) };
  };
  return {
    get totalCount() {
      return pool.totalCount;
    },
    get waitingCount() {
      return pool.waitingCount;
    },
    checkout,
    async query(query, values) {
      const { client, release } = await checkout();
      try {
        const result = await client.query(query, values);
        release();
        return result;
      } catch (error) {
        // A statement the server refused leaves the connection usable; anything else (a broken socket) does not.
        release(!(error instanceof pg.DatabaseError));
        throw error;
      }
    },
    end: () => pool.end(),
  };
}

function pgPool(settings: PoolSettings): SharedPool {
  const pool = new pg.Pool({
    ...pgSslSettings(settings.connectionString),
    // An idle pool does not keep the process alive: a script ends after its last query.
    allowExitOnIdle: true,
    max: settings.max,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    idleTimeoutMillis: settings.idleTimeoutMs,
    // pg-pool reads 0 as "never" for both.
    maxUses: settings.maxUses,
    maxLifetimeSeconds: settings.maxLifetimeSeconds,
    ...(settings.statementTimeoutMs === undefined ? {} : { statement_timeout: settings.statementTimeoutMs }),
    pipeline: true,
  } as pg.PoolConfig);
  // An idle connection that the server drops must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  return {
    get totalCount() {
      return pool.totalCount;
    },
    get waitingCount() {
      return pool.waitingCount;
    },
    async checkout() {
      const client = await pool.connect();
      return { client, release: (destroy = false) => client.release(destroy) };
    },
    query: (query, values) => pool.query(query, values),
    end: () => pool.end(),
  };
}
