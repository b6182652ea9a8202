import { localityCheck, TenantPlacement, type NodeAddress } from './citus-placement.js';
import { knownCitus } from './citus-script.js';
import type { BeginOptions, Driver, Settled, Statement, Transaction } from './types.js';

/**
 * Tenant scopes routed to the Citus node that holds their schema (docs/SCALING.md, "Connections to the workers").
 *
 * Through the coordinator, a scope's queries reach its worker on a connection the coordinator opens as the
 * current user, which inside a scope is the tenant's role; each pooled coordinator connection then caches one
 * worker connection per tenant role it has served, so worker connections grow with pool size x tenants and
 * run out at a few dozen tenants. Citus 12+ keeps its metadata on every node, so a worker runs a query on a
 * distributed schema it holds itself (local execution, in the same backend): sending the scope's transaction
 * straight to that worker makes the tenant role a plain `SET LOCAL ROLE` there, with no connection of its own.
 *
 * So, once the coordinator is known to run Citus, a transaction that serves a tenant (`BeginOptions.tenant`,
 * only tenant scopes pass it) is opened on a pool of the schema's node: one pool per node, each of the URL's
 * `pool_max`, opened with the same URL (user, password, database, TLS) and the node's host and port from
 * `pg_dist_node`. Worker connections are then bounded by the application's pool, whatever the tenant count.
 * Everything else (platform queries, migrations, sessions) goes to the coordinator as before.
 *
 * The URL parameter `citus_routing=off` keeps every scope on the coordinator (the behaviour before routing).
 */

interface Router {
  placement: TenantPlacement;
  /** The node pools opened so far, by `host:port`. */
  nodes: Map<string, Driver>;
}

const routers = new WeakMap<Driver, Router>();

/** The tenant-to-node map of a routing driver, or undefined (not a routing driver, or routing off). */
export function placementOf(driver: Driver): TenantPlacement | undefined {
  return routers.get(driver)?.placement;
}

/** The node pools a routing driver has opened, by `host:port` (tests, `doctor`). */
export function nodeDriversOf(driver: Driver): ReadonlyMap<string, Driver> {
  return routers.get(driver)?.nodes ?? new Map();
}

/** Whether a connection string turns routing off (`citus_routing=off`), and the string without that parameter. */
export function routingSetting(url: string): { routing: boolean; url: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { routing: true, url }; // reported as malformed by the pool settings, where it is parsed for real
  }
  const value = parsed.searchParams.get('citus_routing');
  if (value === null) return { routing: true, url };
  parsed.searchParams.delete('citus_routing');
  return { routing: !['off', '0', 'false'].includes(value.toLowerCase()), url: parsed.toString() };
}

/** `url` with its host and port replaced by `node`'s (same user, password, database and parameters). */
export function nodeUrl(url: string, node: Pick<NodeAddress, 'host' | 'port'>): string {
  const parsed = new URL(url);
  parsed.hostname = node.host.includes(':') ? `[${node.host}]` : node.host;
  parsed.port = String(node.port);
  return parsed.toString();
}

/**
 * Opens the pg driver for `url` (through `open`) with tenant scopes routed to their Citus node (see the module
 * comment). On plain PostgreSQL, or with `citus_routing=off`, it is the coordinator's driver unchanged but for
 * one check per transaction that the answer to "is this Citus" is still unknown or no.
 */
export function routeScopesOnCitus(url: string, open: (url: string) => Driver): Driver {
  const { routing, url: target } = routingSetting(url);
  const coordinator = open(target);
  if (!routing) return coordinator;
  const router: Router = { placement: new TenantPlacement(coordinator), nodes: new Map() };
  let detecting: Promise<void> | undefined;
  const nodeDriver = (node: NodeAddress): Driver => {
    if (node.group === 0) return coordinator;
    const key = `${node.host}:${node.port}`;
    let driver = router.nodes.get(key);
    if (!driver) {
      driver = open(nodeUrl(target, node));
      router.nodes.set(key, driver);
    }
    return driver;
  };
  const driver: Driver = {
    name: coordinator.name,
    ...(coordinator.maxConnections === undefined ? {} : { maxConnections: coordinator.maxConnections }),
    query: (statement) => coordinator.query(statement),
    exec: (script) => coordinator.exec(script),
    async begin(prelude, options) {
      const schema = options?.tenant;
      if (schema === undefined) return coordinator.begin(prelude, options);
      // The coordinator's first transaction asks whether it runs Citus (citus-script.ts); scopes that begin
      // meanwhile wait for that answer rather than all going through the coordinator as their tenant roles.
      if (knownCitus(coordinator) === undefined) {
        if (!detecting) {
          const first = coordinator.begin(prelude, options);
          detecting = first.then(
            () => undefined,
            () => undefined,
          );
          return first;
        }
        await detecting;
      }
      if (knownCitus(coordinator) !== true) return coordinator.begin(prelude, options);
      const node = await router.placement.nodeOf(schema);
      if (!node || node.group === 0) return coordinator.begin(prelude, options);
      return beginOnNode(nodeDriver(node), prelude, options, { schema, node }, router.placement);
    },
    acquire: () => coordinator.acquire(),
    ...(coordinator.tenantPoolStats ? { tenantPoolStats: () => coordinator.tenantPoolStats!() } : {}),
    ...(coordinator.retireRole
      ? {
          retireRole(role: string) {
            coordinator.retireRole?.(role);
            for (const node of router.nodes.values()) node.retireRole?.(role);
          },
        }
      : {}),
    async end() {
      await Promise.all([coordinator.end(), ...[...router.nodes.values()].map((node) => node.end())]);
    },
  };
  routers.set(driver, router);
  return driver;
}

/**
 * The scope's transaction on its node, with the locality check riding along: a node that turns out not to
 * hold the schema (moved since the map was read) still runs the scope correctly (Citus forwards it), and the
 * entry is forgotten so the next scope asks the coordinator.
 */
async function beginOnNode(
  driver: Driver,
  prelude: readonly Statement[],
  options: BeginOptions | undefined,
  target: { schema: string; node: NodeAddress },
  placement: TenantPlacement,
): Promise<{ tx: Transaction; results: Settled[] }> {
  let begun: { tx: Transaction; results: Settled[] };
  try {
    // First, before the prelude switches the role, and so that a failing first statement does not hide its answer.
    begun = await driver.begin([localityCheck(target.node), ...prelude], options);
  } catch (error) {
    placement.forget(target.schema);
    throw error;
  }
  const check = begun.results.shift();
  if (!check?.ok || check.result.rows[0]?.local !== true) placement.forget(target.schema);
  return begun;
}
