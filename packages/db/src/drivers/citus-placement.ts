import type { Driver, Statement } from './types.js';

/**
 * Where each distributed tenant schema lives on a Citus cluster, as the coordinator's metadata says, cached
 * per driver so that a tenant scope can be sent straight to the node holding its schema (citus-router.ts).
 *
 * The map is read whole once (one query on the coordinator), then kept: a schema it does not know (created
 * since) is asked for alone, and an entry is forgotten when a routed scope finds its schema is not on the node
 * it was sent to (the prelude's locality check, `localityCheck`) or when `moveTenantToNode` moved it. A stale
 * entry is never a correctness problem: Citus keeps its metadata on every node and takes a query on a schema
 * held elsewhere to the right node itself; it only costs that extra hop (and one worker-to-worker connection).
 */

/** One node of the cluster that can hold tenant schemas. */
export interface NodeAddress {
  host: string;
  port: number;
  /** Citus's group id: 0 is the coordinator. */
  group: number;
  /** One shard of the schema (all of them move together): what the locality check asks about. */
  shard: string;
}

// A schema's node: the placement of any shard of its colocation group (all of them live on one node).
const PLACEMENT_SQL = `select ns.nspname::text as schema, nd.nodename as host, nd.nodeport as port, nd.groupid as grp,
  h.shardid::text as shard
from pg_dist_schema s
join pg_namespace ns on ns.oid = s.schemaid
join lateral (select p.logicalrelid from pg_dist_partition p where p.colocationid = s.colocationid limit 1) t on true
join lateral (select sh.shardid from pg_dist_shard sh where sh.logicalrelid = t.logicalrelid limit 1) h on true
join pg_dist_placement pl on pl.shardid = h.shardid
join pg_dist_node nd on nd.groupid = pl.groupid and nd.noderole = 'primary' and nd.isactive`;

/** The query that reads the whole map, or one schema's entry. */
export function placementQuery(schema?: string): Statement {
  if (schema === undefined) return { text: `${PLACEMENT_SQL} where ns.nspname like 'tenant\\_%'` };
  return { text: `${PLACEMENT_SQL} where ns.nspname = $1`, values: [schema] };
}

/**
 * Sent with a routed scope's BEGIN, on the node it was routed to: whether that node (its group) holds the
 * placement of the schema's shard the map knows (shards keep their id when they move; a schema made again has
 * new ones). One index lookup; parameterless, so it rides in the prelude's message.
 */
export function localityCheck(node: NodeAddress): Statement {
  if (!/^\d+$/.test(node.shard)) throw new Error(`Not a shard id: ${node.shard}`);
  return {
    text: `select exists (select 1 from pg_dist_placement where shardid = ${node.shard}
  and groupid = (select groupid from pg_dist_local_group)) as local`,
  };
}

/** The tenant-to-node map of one coordinator (see the module comment). */
export class TenantPlacement {
  readonly #coordinator: Pick<Driver, 'query'>;
  readonly #nodes = new Map<string, NodeAddress>();
  #loaded: Promise<void> | undefined;
  readonly #asking = new Map<string, Promise<NodeAddress | undefined>>();
  /** Schemas being moved by this process: their scopes wait for the move to end (moveTenantToNode). */
  readonly #moving = new Map<string, Promise<unknown>>();

  constructor(coordinator: Pick<Driver, 'query'>) {
    this.#coordinator = coordinator;
  }

  /** The node that holds `schema`, or undefined when it is not a distributed schema (or has no tables yet). */
  async nodeOf(schema: string): Promise<NodeAddress | undefined> {
    const move = this.#moving.get(schema);
    if (move) await move.catch(() => undefined);
    this.#loaded ??= this.#load().catch((error: unknown) => {
      this.#loaded = undefined;
      throw error;
    });
    await this.#loaded;
    const known = this.#nodes.get(schema);
    if (known) return known;
    // Scopes of a schema the map does not know yet share one question.
    let asking = this.#asking.get(schema);
    if (!asking) {
      asking = this.#ask(schema).finally(() => this.#asking.delete(schema));
      this.#asking.set(schema, asking);
    }
    return asking;
  }

  async #ask(schema: string): Promise<NodeAddress | undefined> {
    const { rows } = await this.#coordinator.query(placementQuery(schema));
    const found = rows[0] ? toAddress(rows[0]) : undefined;
    if (found) this.#nodes.set(schema, found);
    return found;
  }

  /** Forgets where `schema` is: the next scope asks the coordinator. */
  forget(schema: string): void {
    this.#nodes.delete(schema);
  }

  /** Forgets the whole map: the next scope reads it again. */
  reset(): void {
    this.#nodes.clear();
    this.#loaded = undefined;
  }

  /** Runs `move` while scopes of `schema` in this process wait for it; the schema's entry is forgotten after. */
  async moving<T>(schema: string, move: () => Promise<T>): Promise<T> {
    const running = move();
    this.#moving.set(schema, running);
    try {
      return await running;
    } finally {
      this.#moving.delete(schema);
      this.forget(schema);
    }
  }

  /** How many schemas the cached map places on each node (`host:port`), for tests and `doctor`. */
  counts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const node of this.#nodes.values()) {
      const key = `${node.host}:${node.port}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return counts;
  }

  async #load(): Promise<void> {
    const { rows } = await this.#coordinator.query(placementQuery());
    for (const row of rows) this.#nodes.set(String(row.schema), toAddress(row));
  }
}

function toAddress(row: Record<string, unknown>): NodeAddress {
  return { host: String(row.host), port: Number(row.port), group: Number(row.grp), shard: String(row.shard) };
}
