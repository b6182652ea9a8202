import { routingSetting } from '../drivers/citus-router.js';
import { parsePoolSettings } from '../drivers/pool-settings.js';
import type { Driver } from '../drivers/types.js';
import type { TenantRoleMode } from '../roles/mode.js';

/**
 * How many connections a worker has room for, and how many one application process can open on it: what
 * `doctor` compares (docs/SCALING.md, "Connections to the workers").
 */

/** A worker's connection slots as it reports them itself. */
export interface WorkerConnections {
  host: string;
  port: number;
  /** `max_connections`. */
  max: number;
  /** `superuser_reserved_connections`: slots an ordinary role cannot take. */
  reserved: number;
  /** Client backends connected now (every database, every user). */
  inUse: number;
}

// Asked of every worker through the coordinator, as the current user (one connection per worker, closed after).
const WORKERS_SQL = `select nodename as host, nodeport as port, success, result from run_command_on_workers($$
  select current_setting('max_connections') || ',' || current_setting('superuser_reserved_connections') || ',' ||
    (select count(*) from pg_stat_activity where backend_type = 'client backend')$$)`;

/**
 * Each active worker's connection slots: `max_connections`, reserved, in use. A worker that does not answer
 * is left out of the list and named in `unreachable`.
 */
export async function describeWorkerConnections(
  driver: Pick<Driver, 'query'>,
): Promise<{ workers: WorkerConnections[]; unreachable: string[] }> {
  const { rows } = await driver.query({ text: WORKERS_SQL });
  const workers: WorkerConnections[] = [];
  const unreachable: string[] = [];
  for (const row of rows) {
    const [max, reserved, inUse] = String(row.result).split(',').map(Number);
    if (row.success !== true || !Number.isFinite(inUse)) unreachable.push(`${row.host}:${row.port}`);
    else workers.push({ host: String(row.host), port: Number(row.port), max: max!, reserved: reserved!, inUse: inUse! });
  }
  return { workers, unreachable };
}

/** What one application process can open on one worker, by where it comes from. */
export interface WorkerDemand {
  /** Routed scopes: the node's own pool (`pool_max`), plus the tenant pools (`tenant_pool_max`) in login mode. */
  routed: number;
  /** Through the coordinator: each pooled coordinator connection keeps one cached connection to the worker. */
  viaCoordinator: number;
  /** Whether scopes are routed (`citus_routing` not off). */
  routing: boolean;
}

/**
 * The worker connections one process with this connection string and mode can hold on a worker holding
 * `tenants` tenant schemas. Routed: bounded by the pools. Not routed, in set-role mode: each coordinator
 * connection may cache one worker connection per tenant role it served, so up to `pool_max` x tenants.
 */
export function workerDemand(url: string, mode: TenantRoleMode, tenants: number): WorkerDemand {
  const { routing, url: target } = routingSetting(url);
  const settings = parsePoolSettings(target);
  const login = mode === 'login' ? settings.tenantPoolMax : 0;
  if (routing) return { routed: settings.max + login, viaCoordinator: settings.max, routing };
  // Set-role: a coordinator connection switches roles, keeping a worker connection per role; login: one role each.
  const perConnection = mode === 'set-role' ? Math.max(1, tenants) : 1;
  return { routed: 0, viaCoordinator: settings.max * perConnection + login, routing };
}
