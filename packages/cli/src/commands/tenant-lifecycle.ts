import { InvalidArgumentError } from 'commander';
import { lib } from '../lib.js';
import { EXIT_OK, duration, plural } from '../output.js';
import type { Register } from './register.js';

const MAX_PENDING = 1000;

function parseCount(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > MAX_PENDING) throw new InvalidArgumentError(`expected a whole number from 0 to ${MAX_PENDING}`);
  return n;
}

/** `tenant:pending`, `tenant:clone`, `tenant:rename`: tenants in advance, copies and new names. */
export const registerTenantLifecycle: Register = (program, ctx, done) => {
  const { out } = ctx;

  program
    .command('tenant:pending')
    .option('--count <n>', `build this many pending tenants (0-${MAX_PENDING})`, parseCount)
    .summary('build tenants in advance, so that tenant:create takes milliseconds')
    .description(
      'Builds pending tenants: complete, migrated tenants under placeholder slugs (pending_<hex>), hidden from ' +
        'tenant:list, that tenant:create (and createTenant) claims and renames in one transaction instead of ' +
        'building a tenant. migrate migrates them like every tenant; doctor counts them. Without --count, ' +
        'prints how many are waiting.',
    )
    .addHelpText('after', '\nExamples:\n  $ npx @cgk/cli tenant:pending --count 20\n  $ npx @cgk/cli tenant:pending')
    .action(async (opts: { count?: number }) => {
      const { countPendingTenants, createPendingTenants } = lib();
      const db = ctx.database({ setUp: true });
      const started = performance.now();
      const built = opts.count === undefined ? [] : await createPendingTenants(opts.count, { db });
      const waiting = await countPendingTenants({ db });
      out.result({ built: built.length, pending: waiting }, () =>
        opts.count === undefined
          ? `${plural(waiting, 'pending tenant')} waiting to be claimed`
          : `Built ${plural(built.length, 'pending tenant')} in ${duration(performance.now() - started)}; ` +
            `${waiting} waiting to be claimed`,
      );
      done(EXIT_OK);
    });

  program
    .command('tenant:clone')
    .argument('<from>', 'the tenant to clone')
    .argument('<to>', 'the new tenant: lowercase letters, digits and "_", starting with a letter')
    .option('--with-data', "copy the source's rows too (sequences continued)")
    .option('--name <name>', "display name (default: the source's)")
    .summary('create a tenant with the tables (and optionally the rows) of another')
    .description(
      'Creates the tenant <to> with the same migrations and tables as <from> (its own schema, tables, ' +
        'sequences and role: nothing shared), and with --with-data a consistent copy of its rows. All or nothing. ' +
        'The source must be at the current migrations.',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ npx @cgk/cli tenant:clone template acme\n  $ npx @cgk/cli tenant:clone acme acme_staging --with-data',
    )
    .action(async (from: string, to: string, opts: { withData?: boolean; name?: string }) => {
      const { assertValidSlug, cloneTenant } = lib();
      assertValidSlug(from);
      assertValidSlug(to);
      const db = ctx.database({ setUp: true });
      const result = await cloneTenant(from, to, {
        db,
        withData: opts.withData === true,
        ...(opts.name ? { name: opts.name } : {}),
      });
      out.result(
        { tenant: result.tenant, from, withData: opts.withData === true, durationMs: result.durationMs },
        () =>
          `Cloned tenant ${from} to ${to} (schema ${result.tenant.schema}, ${opts.withData ? 'with' : 'without'} its rows) ` +
          `in ${duration(result.durationMs)}`,
      );
      done(EXIT_OK);
    });

  program
    .command('tenant:rename')
    .argument('<old>', 'the tenant')
    .argument('<new>', 'its new slug')
    .summary('rename a tenant: its schema, role, registry row and cache namespace')
    .description(
      'Renames the tenant <old> to <new> in one transaction: registry row, schema tenant_<new>, role (login ' +
        "mode: with the new name's password). Its data, id and grants stay. Scopes of <old> then fail with " +
        'CGK_TENANT_NOT_FOUND. The cache entries of both names are cleared (REDIS_URL; they are rebuilt on demand).',
    )
    .addHelpText('after', '\nExample:\n  $ npx @cgk/cli tenant:rename acme acme_inc')
    .action(async (from: string, to: string) => {
      const { assertValidSlug, renameTenant } = lib();
      assertValidSlug(from);
      assertValidSlug(to);
      const result = await renameTenant(from, to, { db: ctx.database({ setUp: true }) });
      for (const warning of result.warnings) out.note(warning);
      out.result(
        { tenant: result.tenant, from, cacheEntriesCleared: result.cacheEntriesCleared ?? null },
        () => `Renamed tenant ${from} to ${to} (schema ${result.tenant.schema}) in ${duration(result.durationMs)}`,
      );
      done(EXIT_OK);
    });
};
