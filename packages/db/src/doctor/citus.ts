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
