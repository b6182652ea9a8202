import type { Context } from '../context.js';
import { lib } from '../lib.js';
import { duration } from '../output.js';

/** `tenant:move <slug> --node <host:port>`'s options. */
export interface MoveToNodeOptions {
  node: string;
  mode?: 'auto' | 'block_writes' | 'force_logical';
}

/**
 * The action of `tenant:move <slug> --node <host:port>`: moves the tenant's distributed schema to that Citus
 * node (`moveTenantToNode`) and prints where it went. The one `tenant:move` command (tenant-transfer.ts)
 * dispatches here when `--node` is given.
 */
export async function moveTenantToNodeAction(ctx: Context, slug: string, opts: MoveToNodeOptions): Promise<void> {
  const { assertValidSlug, moveTenantToNode, parseNodeTarget } = lib();
  assertValidSlug(slug);
  const target = parseNodeTarget(opts.node); // before the database is opened: a typo costs nothing
  const moved = await moveTenantToNode(ctx.database({ setUp: true }), slug, target, {
    ...(opts.mode === undefined ? {} : { transferMode: opts.mode }),
  });
  const from = `${moved.from.host}:${moved.from.port}`;
  const to = `${moved.to.host}:${moved.to.port}`;
  ctx.out.result({ move: moved }, () =>
    moved.moved
      ? `Moved tenant ${slug} from ${from} to ${to} in ${duration(moved.ms)}`
      : `Tenant ${slug} is already on ${to}: nothing moved`,
  );
}
