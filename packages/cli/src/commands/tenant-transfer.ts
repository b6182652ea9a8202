import type { Context } from '../context.js';
import { lib } from '../lib.js';
import { EXIT_OK, duration, plural } from '../output.js';
import type { Register } from './register.js';
import { type MoveToNodeOptions, moveTenantToNodeAction } from './tenant-move-node.js';

/** `tenant:export`, `tenant:import`, `tenant:move --to`: a tenant's data as one file, and between databases. */

/** `tenant:export <slug> --out <file>`: resolves to the exit code. */
export async function exportAction(ctx: Context, slug: string, opts: { out: string }): Promise<number> {
  const { assertValidSlug, exportTenant } = lib();
  assertValidSlug(slug);
  const result = await exportTenant(slug, { db: ctx.database({ setUp: true }), out: opts.out });
  const m = result.manifest;
  ctx.out.result(
    { file: result.file, bytes: result.bytes, manifest: m, durationMs: Math.round(result.durationMs) },
    () =>
      `Exported tenant ${slug} to ${result.file}: ${plural(m.tables.length, 'table')}, ${plural(m.totalRows, 'row')}, ` +
      `${megabytes(result.bytes)} in ${duration(result.durationMs)}`,
  );
  return EXIT_OK;
}

/** `tenant:import <file> [--as <slug>]`: resolves to the exit code. */
export async function importAction(ctx: Context, file: string, opts: { as?: string }): Promise<number> {
  const { assertValidSlug, importTenant } = lib();
  if (opts.as !== undefined) assertValidSlug(opts.as);
  const result = await importTenant(file, {
    db: ctx.database({ setUp: true }),
    ...(opts.as === undefined ? {} : { as: opts.as }),
  });
  const t = result.tenant;
  const forward = result.migrationsForward > 0 ? `, then ${plural(result.migrationsForward, 'newer migration')}` : '';
  const copy = result.organizationIdKept ? '' : ' (a new organization id: its users, keys and billing stay with the original)';
  ctx.out.result(
    {
      tenant: t,
      rows: result.rows,
      migrationsForward: result.migrationsForward,
      organizationIdKept: result.organizationIdKept,
      durationMs: Math.round(result.durationMs),
    },
    () =>
      `Imported tenant ${t.slug} (${t.status}) from ${file}: ${plural(result.rows, 'row')}${forward}${copy} ` +
      `in ${duration(result.durationMs)}`,
  );
  return EXIT_OK;
}

/** `tenant:move <slug> --to <database url>`: resolves to the exit code. */
export async function moveToAction(ctx: Context, slug: string, opts: { to: string }): Promise<number> {
  const { assertValidSlug, moveTenant } = lib();
  assertValidSlug(slug);
  const result = await moveTenant(slug, { db: ctx.database({ setUp: true }), to: opts.to });
  ctx.out.result(
    {
      tenant: result.tenant,
      rows: result.rows,
      writesHeldMs: Math.round(result.writesHeldMs),
      durationMs: Math.round(result.durationMs),
    },
    () =>
      `Moved tenant ${slug} (${plural(result.rows, 'row')}) in ${duration(result.durationMs)}; ` +
      `its writes waited ${duration(result.writesHeldMs)}. ` +
      "The old copy is dropped: point the tenant's traffic at the new database.",
  );
  return EXIT_OK;
}

function megabytes(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} kB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export const registerTenantTransfer: Register = (program, ctx, done) => {
  program
    .command('tenant:export')
    .argument('<slug>', 'the tenant')
    .requiredOption('--out <file>', 'the file to write (written as <file>.partial, renamed when complete)')
    .summary("write a tenant's data to one file (registry row, migrations, every row, checksums)")
    .description(
      "Writes the tenant's registry row (secrets stay encrypted), the migrations applied to its schema, the rows of " +
        'every table of its schema and its users, sessions, API keys and billing rows to one compressed file with a ' +
        'manifest of row counts and checksums. Reads one consistent snapshot while traffic goes on; blocks no writer.',
    )
    .addHelpText('after', '\nExample:\n  $ npx @cgk/cli tenant:export acme --out acme.cgk')
    .action(async (slug: string, opts: { out: string }) => done(await exportAction(ctx, slug, opts)));

  program
    .command('tenant:import')
    .argument('<file>', 'a file written by tenant:export')
    .option('--as <slug>', 'the new tenant (default: the exported slug)')
    .summary('create a tenant from an export file, all or nothing')
    .description(
      'Verifies the whole file first (a file cut short or edited is refused before anything is written), then ' +
        'creates the tenant in one transaction: registry row, schema, rows, its own role, and the migrations newer ' +
        'than the export. This database needs the same tenant migrations as the export, or newer ones.',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ npx @cgk/cli tenant:import acme.cgk\n  $ npx @cgk/cli tenant:import acme.cgk --as acme_restored',
    )
    .action(async (file: string, opts: { as?: string }) => done(await importAction(ctx, file, opts)));

  program
    .command('tenant:move')
    .argument('<slug>', 'the tenant')
    .option('--to <database url>', 'the database to move it to (set up, same or newer migrations)')
    .option('--node <host:port>', 'on Citus: the node to move its schema to, as pg_dist_node names it')
    .option(
      '--mode <mode>',
      "with --node: Citus's shard_transfer_mode, block_writes (default), auto or force_logical " +
        '(these two need wal_level=logical)',
    )
    .summary('move a tenant to another database (--to) or, on Citus, to another node (--node)')
    .description(
      '--to: suspends the tenant, holds its writes (reads go on), exports it, imports and verifies it in the other ' +
        'database, then drops the old copy; writes that waited fail with CGK_TENANT_NOT_FOUND. On any failure before ' +
        'the switch the tenant stays where it was. --node (Citus): moves its distributed schema, whole, to another ' +
        'node of the cluster (citus_schema_move); writes wait during the copy (block_writes; with --mode auto, only ' +
        'for the switch-over), no scope writes to the old place, and this process routes the tenant to its new node.',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ npx @cgk/cli tenant:move acme --to postgres://app@db2.internal:5432/cgk\n' +
        '  $ npx @cgk/cli tenant:move acme --node 10.0.0.12:5432',
    )
    .action(async (slug: string, opts: { to?: string; node?: string; mode?: MoveToNodeOptions['mode'] }) => {
      if ((opts.to === undefined) === (opts.node === undefined)) {
        done(ctx.out.usage('tenant:move needs exactly one of --to <database url> and --node <host:port>'));
        return;
      }
      if (opts.node !== undefined) {
        await moveTenantToNodeAction(ctx, slug, { node: opts.node, ...(opts.mode === undefined ? {} : { mode: opts.mode }) });
        done(EXIT_OK);
        return;
      }
      done(await moveToAction(ctx, slug, { to: opts.to! }));
    });
};
