import { isCitus } from '../drivers/citus-script.js';
import type { Driver } from '../drivers/types.js';
import { DATABASE_TAG_EXPRESSION } from '../roles/tenant-role.js';

/**
 * What a Citus coordinator says about itself, for `setup:database` and `doctor`. Tenant schemas are
 * distributed by schema-based sharding (each one whole on one worker); the platform tables in `public` stay
 * plain tables on the coordinator (docs/SCALING.md says why).
 */

/** One node that can hold tenant schemas, and how many it holds. */
export interface CitusNode {
  host: string;
  port: number;
  /** `coordinator` only when the coordinator itself was made to hold shards. */
  role: 'worker' | 'coordinator';
  active: boolean;
  /** Distributed tenant schemas (`tenant_*`) placed on this node. */
  tenants: number;
}

/** The Citus side of a database (see `describeCitus`). */
export interface CitusReport {
  /** The citus extension's version in this database, e.g. `13.2-1`. */
  version: string;
  /** `citus.enable_schema_based_sharding` as a new session of this database sees it (the database's setting). */
  schemaBasedSharding: boolean;
  /** `citus.enable_unsafe_triggers`: the tenant tables' `updated_at` triggers are refused without it. */
  unsafeTriggers: boolean;
  /** Nodes that hold (or may hold) tenant schemas. */
  nodes: CitusNode[];
  /** Tenant schemas distributed by schema-based sharding. */
  distributedTenants: number;
  /** Tenant schemas left as plain schemas on the coordinator (created while sharding was off). */
  localTenants: number;
  /** Tenant roles of this database that cannot log in (they cannot reach the workers). */
  tenantRolesWithoutLogin: number;
}

const SETTINGS_SQL = `select (select extversion from pg_extension where extname = 'citus') as version,
  current_setting('citus.enable_schema_based_sharding', true) as sharding,
  current_setting('citus.enable_unsafe_triggers', true) as triggers,
  (select count(*) from pg_namespace n where n.nspname like 'tenant\\_%'
     and not exists (select 1 from pg_dist_schema s where s.schemaid = n.oid))::int as local_tenants,
  (select count(*) from pg_dist_schema s join pg_namespace n on n.oid = s.schemaid
     where n.nspname like 'tenant\\_%')::int as distributed_tenants,
  (select count(*) from pg_roles
     where rolname like 'ct\\_' || ${DATABASE_TAG_EXPRESSION} || '\\_%' and not rolcanlogin)::int as nologin_roles`;

// Placement from Citus's own catalog (not citus_shards, which asks every worker for sizes).
const NODES_SQL = `select n.nodename as host, n.nodeport as port, n.groupid = 0 as coordinator, n.isactive as active,
  count(distinct s.schemaid) filter (where ns.nspname like 'tenant\\_%')::int as tenants
from pg_dist_node n
left join pg_dist_placement pl on pl.groupid = n.groupid
left join pg_dist_shard sh on sh.shardid = pl.shardid
left join pg_dist_partition p on p.logicalrelid = sh.logicalrelid
left join pg_dist_schema s on s.colocationid = p.colocationid
left join pg_namespace ns on ns.oid = s.schemaid
where n.noderole = 'primary' and (n.groupid <> 0 or n.shouldhaveshards)
group by 1, 2, 3, 4 order by 2, 1`;

/**
 * Describes the Citus side of `db`, or resolves to undefined when the database does not run Citus. Reads
 * the coordinator's metadata only (no worker is contacted); creates nothing.
 *
 * @example
 * const citus = await describeCitus(db);
 * if (citus) console.log(citus.nodes.map((n) => `${n.host}:${n.port} ${n.tenants} tenants`).join(', '));
 */
export async function describeCitus(db: { driver(): Promise<Driver> }): Promise<CitusReport | undefined> {
  const driver = await db.driver();
  if (!(await isCitus(driver))) return undefined;
  const [settings, nodes] = await Promise.all([driver.query({ text: SETTINGS_SQL }), driver.query({ text: NODES_SQL })]);
  const row = settings.rows[0] ?? {};
  return {
    version: String(row.version ?? 'unknown'),
    schemaBasedSharding: row.sharding === 'on',
    unsafeTriggers: row.triggers === 'on',
    nodes: nodes.rows.map((n) => ({
      host: String(n.host),
      port: Number(n.port),
      role: n.coordinator === true ? 'coordinator' : 'worker',
      active: n.active === true,
      tenants: Number(n.tenants),
    })),
    distributedTenants: Number(row.distributed_tenants ?? 0),
    localTenants: Number(row.local_tenants ?? 0),
    tenantRolesWithoutLogin: Number(row.nologin_roles ?? 0),
  };
}
