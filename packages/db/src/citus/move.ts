import { isCitus } from '../drivers/citus-script.js';
import { placementOf } from '../drivers/citus-router.js';
import type { Driver } from '../drivers/types.js';
import { CgkError, TenantNotFoundError } from '../errors/index.js';
import { schemaNameFor } from '../sql/identifier.js';
import { placementQuery } from '../drivers/citus-placement.js';

/** Where to move a tenant: a node registered in the cluster, as `pg_dist_node` names it. */
export interface NodeTarget {
  host: string;
  port: number;
}

/** What `moveTenantToNode` did. */
export interface TenantNodeMove {
  slug: string;
  from: NodeTarget;
  to: NodeTarget;
  /** False when the tenant already lived on that node (nothing was done). */
  moved: boolean;
  ms: number;
}

/** Options of `moveTenantToNode`. */
export interface MoveTenantToNodeOptions {
  /**
   * Citus's `shard_transfer_mode`: `block_writes` (default: writes to the tenant wait for the whole copy, reads
   * go on; works on any cluster), `auto` or `force_logical` (logical replication: writes continue until the
   * short switch-over; needs `wal_level = logical` on the workers).
   */
  transferMode?: 'auto' | 'block_writes' | 'force_logical';
}

const MODES = new Set(['auto', 'block_writes', 'force_logical']);

/**
 * Parses `host:port` (`[v6]:port` too) as the CLI's `--node` gives it; throws `CGK_CITUS` for anything else.
 */
export function parseNodeTarget(text: string): NodeTarget {
  const match = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65535) {
    throw new CgkError('CGK_CITUS', `"${text}" is not a node address`, {
      hint: 'Give the node as host:port, as pg_dist_node names it (select nodename, nodeport from pg_dist_node).',
    });
  }
  return { host: (match[1] ?? match[2])!, port };
}

/**
 * Moves a tenant's distributed schema, whole, to another node of the Citus cluster (`citus_schema_move`), and
 * refreshes this process's routing of its scopes. Citus copies the schema's shards while writes to them wait
 * (`block_writes`, the default; by logical replication, only for the switch-over), then points every node's
 * metadata at the new place: a scope in any process that runs during the move either waits or, routed to the
 * old node afterwards, is taken to the new one by Citus; none writes to the old place. Scopes of this process wait for
 * the move instead of racing it. Bad input (a slug, a node that is not an active node of the cluster, a tenant
 * that is not distributed, a database that is not Citus) throws before anything moves: `CGK_CITUS`,
 * `CGK_INVALID_SLUG` or `CGK_TENANT_NOT_FOUND`.
 *
 * @example
 * await moveTenantToNode(db, 'acme', { host: '10.0.0.12', port: 5432 });
 */
export async function moveTenantToNode(
  db: { driver(): Promise<Driver> },
  slug: string,
  target: NodeTarget,
  options: MoveTenantToNodeOptions = {},
): Promise<TenantNodeMove> {
  const schema = schemaNameFor(slug);
  const mode = options.transferMode ?? 'block_writes';
  if (!MODES.has(mode)) throw new CgkError('CGK_CITUS', `Unknown transfer mode "${mode}"`, { hint: [...MODES].join(', ') });
  const driver = await db.driver();
  const from = await currentNode(driver, slug, schema);
  await assertNode(driver, target);
  const started = performance.now();
  if (from.host === target.host && from.port === target.port) return { slug, from, to: target, moved: false, ms: 0 };
  const move = () =>
    driver.query({
      text: 'select citus_schema_move($1::regnamespace, $2, $3, shard_transfer_mode => $4::citus.shard_transfer_mode)',
      values: [schema, target.host, target.port, mode],
    });
  const placement = placementOf(driver);
  await (placement ? placement.moving(schema, move) : move()).catch((error: unknown) => {
    throw moveFailure(error, slug, mode);
  });
  return { slug, from, to: target, moved: true, ms: Math.round(performance.now() - started) };
}

async function currentNode(driver: Driver, slug: string, schema: string): Promise<NodeTarget> {
  if (!(await isCitus(driver))) {
    throw new CgkError('CGK_CITUS', 'This database does not run Citus: there is no node to move a tenant to', {
      hint: 'tenant:move --node needs a Citus coordinator in DATABASE_URL (docs/SCALING.md).',
    });
  }
  const { rows } = await driver.query({
    text: `select to_regnamespace($1) is not null as found,
      exists (select 1 from pg_dist_schema where schemaid = to_regnamespace($1)) as distributed`,
    values: [schema],
  });
  if (rows[0]?.found !== true) throw new TenantNotFoundError(slug);
  const placed = (await driver.query(placementQuery(schema))).rows[0];
  if (rows[0]?.distributed !== true || !placed) {
    throw new CgkError('CGK_CITUS', `Tenant "${slug}" is not a distributed schema: it has no node to move from`, {
      hint: `Distribute it first: select citus_schema_distribute('${schema}') (docs/SCALING.md).`,
    });
  }
  return { host: String(placed.host), port: Number(placed.port) };
}

async function assertNode(driver: Driver, target: NodeTarget): Promise<void> {
  const { rows } = await driver.query({
    text: `select nodename, nodeport, isactive and noderole = 'primary' and (groupid <> 0 or shouldhaveshards) as usable
      from pg_dist_node order by nodeid`,
  });
  const node = rows.find((r) => r.nodename === target.host && Number(r.nodeport) === target.port);
  if (node?.usable === true) return;
  const nodes = rows
    .filter((r) => r.usable === true)
    .map((r) => `${r.nodename}:${r.nodeport}`)
    .join(', ');
  throw new CgkError(
    'CGK_CITUS',
    `${target.host}:${target.port} is not ${node ? 'an active node for tenants' : 'a node'} of the cluster`,
    {
      hint: `Nodes that can hold tenants: ${nodes || 'none'} (citus_add_node registers one).`,
    },
  );
}

/** A failed `citus_schema_move`, typed: the tenant stayed where it was (Citus rolls the move back). */
function moveFailure(error: unknown, slug: string, mode: string): CgkError {
  const message = error instanceof Error ? error.message : String(error);
  const wal = /wal_level/.test(message);
  return new CgkError('CGK_CITUS', `Tenant "${slug}" was not moved: ${message}`, {
    hint: wal
      ? `Transfer mode ${mode} uses logical replication, which needs wal_level = logical on the workers: set it ` +
        '(a restart), or move with --mode block_writes (writes to the tenant wait during the copy).'
      : 'Nothing changed: the tenant is still on its node. Check the nodes (npx @cgk/cli doctor) and try again.',
    cause: error,
  });
}
