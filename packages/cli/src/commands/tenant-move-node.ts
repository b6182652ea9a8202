import type { Command } from 'commander';
import type { Context } from '../context.js';
import { lib } from '../lib.js';
import type { Register } from './register.js';
import { EXIT_OK, duration } from '../output.js';

/** `tenant:move <slug> --node <host:port>`'s options. */
export interface MoveToNodeOptions {
  node: string;
  mode?: 'auto' | 'block_writes' | 'force_logical';
}

/**
 * The action of `tenant:move <slug> --node <host:port>`: moves the tenant's distributed schema to that Citus
 * node (`moveTenantToNode`) and prints where it went. Exported on its own so that one `tenant:move` command can
 * dispatch to it when `--node` is given.
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

/** Adds `tenant:move --node` to `program` (the Citus variant of moving a tenant). */
export function addMoveToNode(program: Command, ctx: Context, done: (code: number) => void): Command {
  return program
    .command('tenant:move')
    .argument('<slug>', 'the tenant')
    .requiredOption('--node <host:port>', 'the Citus node to move it to, as pg_dist_node names it')
    .option(
      '--mode <mode>',
      "Citus's shard_transfer_mode: block_writes (default), auto or force_logical (these two need wal_level=logical)",
    )
    .summary("move a tenant's schema to another Citus node")
    .description(
      "On Citus: moves the tenant's distributed schema, whole, to another node of the cluster (citus_schema_move). " +
        'Writes to the tenant wait during the copy (block_writes; with --mode auto, only for the switch-over); ' +
        'no scope writes to the old place. This process routes the tenant to its new node at once, others on their ' +
        'next scope of it.',
    )
    .addHelpText('after', '\nExample:\n  $ npx @cgk/cli tenant:move acme --node 10.0.0.12:5432')
    .action(async (slug: string, opts: MoveToNodeOptions) => {
      await moveTenantToNodeAction(ctx, slug, opts);
      done(EXIT_OK);
    });
}

/** `tenant:move <slug> --node <host:port>`. */
export const registerTenantMoveNode: Register = (program, ctx, done) => {
  addMoveToNode(program, ctx, done);
};
