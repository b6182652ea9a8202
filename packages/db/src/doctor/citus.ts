import { describeWorkerConnections, workerDemand, type WorkerConnections, type WorkerDemand } from '../citus/connections.js';
import type { Driver } from '../drivers/types.js';
import type { TenantRoleMode } from '../roles/mode.js';
import type { CitusNode, CitusReport } from '../citus/describe.js';
import type { DoctorCheck } from './types.js';

const HINTS = {
  triggers:
    'Tenant tables carry updated_at triggers, which Citus refuses without it: set citus.enable_unsafe_triggers = on' +
    ' in postgresql.conf on every node (or ALTER DATABASE <db> SET citus.enable_unsafe_triggers = on).',
  login: 'Run: npx @cgk/cli tenant:repair (gives them LOGIN), or set CGK_TENANT_ROLES=off.',
  sharding:
    'New tenant schemas stay on the coordinator: ALTER DATABASE <db> SET citus.enable_schema_based_sharding = on' +
    " (and SELECT citus_schema_distribute('tenant_<slug>') for existing ones).",
  workers: "No worker is registered in this database: SELECT citus_add_node('<host>', <port>) on the coordinator.",
  local: "Distribute them one by one: SELECT citus_schema_distribute('tenant_<slug>').",
};

/**
 * The `citus` check of `doctor`: fails when tenant creation would fail (unsafe triggers off) or scopes would
 * (tenant roles that cannot log in), warns when tenants would not be spread (sharding off, no worker, tenant
 * schemas left on the coordinator).
 */
export function citusCheck(report: CitusReport, tenantRoles: boolean): DoctorCheck {
  const name = 'citus';
  const nodes = report.nodes.filter((n) => n.active);
  const where = (n: CitusNode) => `${n.host}:${n.port}${n.role === 'coordinator' ? ' (coordinator)' : ''}`;
  const placement = nodes.map((n) => `${where(n)} ${n.tenants}`).join(', ');
  const detail =
    `Citus ${report.version}, ${nodes.length} active node${nodes.length === 1 ? '' : 's'} for tenants` +
    `${placement ? ` (tenants per node: ${placement})` : ''}; ${report.distributedTenants} distributed tenant schemas` +
    `, ${report.localTenants} on the coordinator; schema-based sharding ${report.schemaBasedSharding ? 'on' : 'off'}` +
    `, unsafe triggers ${report.unsafeTriggers ? 'on' : 'off'}; platform tables stay local on the coordinator` +
    (tenantRoles ? '; tenant roles LOGIN (workers are reached as the tenant role)' : '');
  if (!report.unsafeTriggers) return { name, status: 'fail', detail, hint: HINTS.triggers };
  if (tenantRoles && report.tenantRolesWithoutLogin > 0) {
    const cannot = `${report.tenantRolesWithoutLogin} tenant roles cannot log in, so their scopes fail on the workers`;
    return { name, status: 'fail', detail: `${detail}; ${cannot}`, hint: HINTS.login };
  }
  if (!report.schemaBasedSharding) return { name, status: 'warn', detail, hint: HINTS.sharding };
  if (nodes.every((n) => n.role === 'coordinator')) return { name, status: 'warn', detail, hint: HINTS.workers };
  if (report.localTenants > 0) return { name, status: 'warn', detail, hint: HINTS.local };
  return { name, status: 'ok', detail };
}

/**
 * The `citus connections` check of `doctor`: for each worker, its free slots (`max_connections` less the
 * reserved ones and those in use now) against what one application process can open there (`workerDemand`).
 * Warns when one more process would not fit, fails when scopes are not routed and tenant roles multiply
 * worker connections past a worker's slots.
 */
export function citusConnectionsCheck(
  workers: readonly WorkerConnections[],
  unreachable: readonly string[],
  demand: (worker: WorkerConnections) => WorkerDemand,
): DoctorCheck {
  const name = 'citus connections';
  const parts: string[] = [];
  let status: DoctorCheck['status'] = unreachable.length > 0 ? 'warn' : 'ok';
  let short = '';
  for (const worker of workers) {
    const need = demand(worker);
    const opens = need.routed + need.viaCoordinator;
    const free = worker.max - worker.reserved - worker.inUse;
    const processes = Math.floor((worker.max - worker.reserved) / Math.max(1, opens));
    const from = `${need.routing ? `${need.routed} routed + ` : ''}${need.viaCoordinator} via the coordinator`;
    parts.push(
      `${worker.host}:${worker.port} ${free} free of ${worker.max - worker.reserved} (${worker.inUse} in use), ` +
        `a process opens up to ${opens} (${from}), room for ${processes} such process${processes === 1 ? '' : 'es'}`,
    );
    if (opens > worker.max - worker.reserved) status = 'fail';
    else if (opens > free && status === 'ok') status = 'warn';
    if (opens > free) short ||= `${worker.host}:${worker.port}`;
  }
  if (unreachable.length > 0) parts.push(`no answer from ${unreachable.join(', ')}`);
  const detail = parts.join('; ') || 'no active worker';
  if (status === 'ok') return { name, status, detail };
  const routing = workers.length > 0 && demand(workers[0]!).routing;
  const hint = routing
    ? `Raise max_connections on ${short || 'the workers'}, or lower pool_max (and tenant_pool_max) in DATABASE_URL, or run` +
      ' fewer application processes (docs/SCALING.md, "Connections to the workers").'
    : 'Scopes go through the coordinator, so tenant roles multiply worker connections: remove citus_routing=off from' +
      ' DATABASE_URL (docs/SCALING.md, "Connections to the workers").';
  return { name, status, detail, hint };
}

/** Asks the workers for their slots and builds `citusConnectionsCheck` for `db`'s pools (failures become a `fail`). */
export async function citusConnections(
  db: { driver(): Promise<Driver>; config: { url?: string }; tenantRoleMode: TenantRoleMode },
  report: CitusReport,
): Promise<DoctorCheck> {
  const { workers, unreachable } = await describeWorkerConnections(await db.driver());
  const tenantsOn = (w: WorkerConnections) =>
    report.nodes.find((n) => n.host === w.host && n.port === w.port && n.role === 'worker')?.tenants ?? 0;
  const url = db.config.url ?? '';
  return citusConnectionsCheck(workers, unreachable, (w) => workerDemand(url, db.tenantRoleMode, tenantsOn(w)));
}
