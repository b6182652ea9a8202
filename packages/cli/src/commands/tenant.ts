import { Option } from 'commander';
import type { Database, TenantRecord, TenantStatus } from '@cgk/db';
import { lib } from '../lib.js';
import type { Register } from './register.js';
import { EXIT_OK, duration, plural, table } from '../output.js';

const STATUSES: TenantStatus[] = ['active', 'suspended', 'onboarding'];

/** `tenant:create`, `tenant:list`, `tenant:suspend`, `tenant:activate`, `tenant:drop`. */
export const registerTenant: Register = (program, ctx, done) => {
  const { out } = ctx;

  program
    .command('tenant:create')
    .argument('<slug>', 'lowercase letters, digits and "_", starting with a letter (the schema is tenant_<slug>)')
    .option('--name <name>', 'display name (default: the slug)')
    .option('--seed <file>', 'SQL file run in the creation transaction as the tenant (its rows); if it fails, nothing is created')
    .summary('create a tenant: its registry row, its schema and its tables')
    .description(
      'Creates the tenant <slug>: a row in public.organizations, the schema tenant_<slug>, and every tenant ' +
        'migration in it, atomically. Run setup:database first.',
    )
    .addHelpText('after', '\nExample:\n  $ npx @cgk/cli tenant:create acme --name "Acme Inc."')
    .action(async (slug: string, opts: { name?: string; seed?: string }) => {
      const { assertValidSlug, createTenant } = lib();
      assertValidSlug(slug); // before the database is opened: a typo costs nothing
      const seed = opts.seed === undefined ? {} : { seed: { script: await readSeed(opts.seed) } };
      const result = await createTenant(
        { slug, ...(opts.name === undefined ? {} : { name: opts.name }), ...seed },
        { db: ctx.database({ setUp: true }) },
      );
      const t = result.tenant;
      out.result(
        { tenant: t, migrationsApplied: result.migrationsApplied, durationMs: result.durationMs, claimed: result.claimed },
        () =>
          `Created tenant ${t.slug} ("${t.name}", ${t.status}): schema ${t.schema} ` +
          `${result.claimed ? 'from a pending tenant' : `with ${plural(result.migrationsApplied, 'migration')}`} ` +
          `in ${duration(result.durationMs)}`,
      );
      done(EXIT_OK);
    });

  program
    .command('tenant:list')
    .addOption(new Option('--status <status>', 'only tenants with this status').choices(STATUSES))
    .option('--pending', 'list the pending tenants (tenant:pending) instead, under their placeholder slugs')
    .summary('list the tenants')
    .description('Lists the tenants of public.organizations, oldest first.')
    .addHelpText('after', '\nExamples:\n  $ npx @cgk/cli tenant:list\n  $ npx @cgk/cli tenant:list --status active --json')
    .action(async (opts: { status?: TenantStatus; pending?: boolean }) => {
      const tenants = await lib().listTenants({
        db: ctx.database({ setUp: true }),
        ...(opts.status ? { status: opts.status } : {}),
        ...(opts.pending ? { pending: true } : {}),
      });
      out.result({ tenants }, () => {
        if (tenants.length === 0) {
          if (opts.pending) return 'No pending tenants. Build some: npx @cgk/cli tenant:pending --count <n>';
          return opts.status ? `No ${opts.status} tenants.` : 'No tenants yet. Create one: npx @cgk/cli tenant:create <slug>';
        }
        return [
          ...table(
            ['SLUG', 'STATUS', 'SCHEMA', 'CREATED', 'NAME'],
            tenants.map((t) => [t.slug, t.status, t.schema, t.createdAt.toISOString().slice(0, 19).replace('T', ' '), t.name]),
          ),
          plural(tenants.length, 'tenant'),
        ];
      });
      done(EXIT_OK);
    });

  const statusChange = (name: string, summary: string, fn: (slug: string, options: { db: Database }) => Promise<TenantRecord>) =>
    program
      .command(name)
      .argument('<slug>', 'the tenant')
      .summary(summary)
      .description(`${summary[0]?.toUpperCase()}${summary.slice(1)} (sets its status in public.organizations; its data is kept).`)
      .addHelpText('after', `\nExample:\n  $ npx @cgk/cli ${name} acme`)
      .action(async (slug: string) => {
        lib().assertValidSlug(slug);
        const tenant = await fn(slug, { db: ctx.database({ setUp: true }) });
        out.result({ tenant }, () => `Tenant ${tenant.slug} is now ${tenant.status}`);
        done(EXIT_OK);
      });
  statusChange('tenant:suspend', 'suspend a tenant', (slug, options) => lib().suspendTenant(slug, options));
  statusChange('tenant:activate', 'activate a tenant', (slug, options) => lib().activateTenant(slug, options));

  program
    .command('tenant:repair')
    .argument('[slug]', 'the tenant (default: every tenant)')
    .summary("create a tenant's missing database role and reapply its grants")
    .description(
      'Creates the PostgreSQL role of a tenant (or of every tenant) if it is missing and reapplies its ' +
        'grants on the tenant schema: for tenants created before tenant roles were on (CGK_TENANT_ROLES), or ' +
        'restored from a dump. In login mode (CGK_TENANT_ROLES=login) it also gives each role LOGIN and the ' +
        'verifier of its password derived from CGK_TENANT_ROLE_SECRET: how a database moves to login mode and ' +
        'how the secret is rotated. Idempotent.',
    )
    .addHelpText('after', '\nExamples:\n  $ npx @cgk/cli tenant:repair acme\n  $ npx @cgk/cli tenant:repair')
    .action(async (slug: string | undefined) => {
      const { assertValidSlug, repairTenantRoles } = lib();
      if (slug !== undefined) assertValidSlug(slug);
      const repaired = await repairTenantRoles({ db: ctx.database({ setUp: true }), ...(slug === undefined ? {} : { slug }) });
      out.result({ repaired }, () =>
        repaired.length === 0
          ? 'No tenants to repair.'
          : `Repaired the role and grants of ${plural(repaired.length, 'tenant')}: ${repaired.join(', ')}`,
      );
      done(EXIT_OK);
    });

  program
    .command('tenant:drop')
    .argument('<slug>', 'the tenant')
    .option('--yes', 'confirm: drop the schema and every row of the tenant, irreversibly')
    .summary('delete a tenant and all its data (needs --yes)')
    .description(
      'Drops the schema tenant_<slug> with all its data, its role, its registry rows (public.organizations and its ' +
        'users, sessions, API keys, billing) and its cache keys (Redis at REDIS_URL). Run again, it removes what an ' +
        'interrupted drop left. Irreversible: refused without --yes.',
    )
    .addHelpText('after', '\nExample:\n  $ npx @cgk/cli tenant:drop acme --yes')
    .action(async (slug: string, opts: { yes?: boolean }) => {
      const { assertValidSlug, ConfirmationRequiredError, dropTenant } = lib();
      assertValidSlug(slug);
      if (!opts.yes) {
        throw new ConfirmationRequiredError(
          `drop tenant "${slug}" and all its data`,
          `This cannot be undone. Re-run with --yes: npx @cgk/cli tenant:drop ${slug} --yes`,
        );
      }
      const removed = await dropTenant(slug, { confirm: true, db: ctx.database({ setUp: true }) });
      out.result(
        { dropped: slug, ...removed },
        () =>
          `Dropped tenant ${slug} (schema tenant_${slug} and all its data, its role, ` +
          `${plural(removed.cacheKeysRemoved, 'cache key')})`,
      );
      done(EXIT_OK);
    });
};

/** The --seed file's text; a file that cannot be read is a `ConfigError` naming it, before the database is opened. */
async function readSeed(path: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new (lib().ConfigError)(
      `Cannot read the seed file ${path}: ${(error as Error).message}`,
      'Pass the path of an SQL file.',
    );
  }
}
