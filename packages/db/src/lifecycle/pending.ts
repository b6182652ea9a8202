import { randomUUID } from 'node:crypto';
import { configuredMigrationSets } from '../config/migration-sets.js';
import { PLATFORM_SET } from '../migrations/tracking.js';
import { randomBytes } from 'node:crypto';
import { getDatabase, type Database } from '../database/database.js';
import type { Transaction } from '../drivers/types.js';
import { ConfigError, TenantExistsError } from '../errors/index.js';
import { loadMigrations, prefixDigests } from '../migrations/files.js';
import { migrateTenantInTransaction } from '../migrations/runner.js';
import { DEFAULT_TENANT_DIR } from '../migrations/types.js';
import { pipeline } from '../migrations/steps.js';
import { grantTenantRoleSql, tenantRoleExpression } from '../roles/tenant-role.js';
import { encryptSecret, shopifyTokenBinding } from '../secrets/encryption.js';
import { assertValidSlug, schemaNameFor } from '../sql/identifier.js';
import { buildTenant } from './build.js';
import { moveNamesSql } from './names.js';
import {
  commit,
  expectOk,
  grantOptions,
  isSqlState,
  loginVerifier,
  registry,
  toRecord,
  verifyQueryable,
  type CreateTenantInput,
  type CreateTenantOptions,
  type CreateTenantResult,
  type LifecycleOptions,
  type OrganizationRow,
} from './registry.js';
import { runSeed } from './seed.js';

/**
 * Pending tenants: tenants built in advance (registry row marked `pending`, schema migrated, role granted)
 * under a placeholder slug, so that createTenant() only has to claim one and rename it, which costs a few
 * catalog updates instead of the whole DDL of a tenant (docs/setup/DATABASE.md, "Pending tenants").
 */

/** Placeholder slugs: `pending_` and 16 hex digits (random: two processes filling the pool never collide). */
const PLACEHOLDER_PREFIX = 'pending_';
/** The most built by one call: each holds a schema of tables, a role and catalog rows on the server. */
const MAX_PENDING_BATCH = 1000;

/** Options of createPendingTenants(). */
export interface PendingTenantsOptions extends LifecycleOptions {
  /** Directory of tenant migrations; the package's own by default. */
  tenantDir?: string | URL;
  /** How many are built at once (default 2); each is one transaction. */
  concurrency?: number;
}

/**
 * Builds `count` pending tenants, each exactly as createTenant() builds a tenant (one transaction each: row,
 * schema, every migration, role) but marked pending, under a placeholder slug, with status `onboarding`.
 * They are migrated by `migrate` like every tenant, hidden from listTenants(), and claimed by createTenant().
 * Resolves to their placeholder slugs. A count that is not a whole number from 0 to 1000 throws `ConfigError`
 * before anything is built; a failing build throws its error, the ones already built stay.
 */
export async function createPendingTenants(count: number, options: PendingTenantsOptions = {}): Promise<string[]> {
  if (!Number.isInteger(count) || count < 0 || count > MAX_PENDING_BATCH) {
    throw new ConfigError(
      `The number of pending tenants to build must be a whole number from 0 to ${MAX_PENDING_BATCH}, not ${String(count)}`,
      'Example: npx @cgk/cli tenant:pending --count 20',
    );
  }
  const db = options.db ?? getDatabase();
  const made: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      made.push(await buildPending(db, options.tenantDir));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 2, count)) }, worker));
  return made;
}

async function buildPending(db: Database, tenantDir: string | URL | undefined): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const slug = `${PLACEHOLDER_PREFIX}${randomBytes(8).toString('hex')}`;
    try {
      await buildTenant(db, { slug, name: 'pending tenant' }, { pending: true, tenantDir });
      return slug;
    } catch (error) {
      // 2^64 names: a collision is a once-in-forever event, retried with another name.
      if (!(error instanceof TenantExistsError) || attempt >= 2) throw error;
    }
  }
}

/** How many pending tenants are waiting to be claimed. */
export async function countPendingTenants(options: LifecycleOptions = {}): Promise<number> {
  const db = options.db ?? getDatabase();
  const { rows } = await registry(db.sql<{ n: number }>`select count(*)::int as n from public.organizations where pending`);
  return rows[0]?.n ?? 0;
}

/** What the claim's first statement needs. */
function claimStatement(input: CreateTenantInput, slug: string) {
  // The claimed row takes a new id (a pending tenant has nothing that refers to its id), so that the token is
  // encrypted bound to the id it will have (secrets/encryption.ts).
  const id = randomUUID();
  const token = input.shopifyAccessToken === undefined ? null : encryptSecret(input.shopifyAccessToken, shopifyTokenBinding(id));
  return {
    // SKIP LOCKED: concurrent claims each take a different pending tenant, none waits for another's.
    text: `with picked as (
  select id, slug from public.organizations where pending order by created_at, id limit 1 for update skip locked
)
update public.organizations o
set slug = $1, name = $2, status = $3::organization_status, settings = $4::jsonb, shopify_store_domain = $5,
    shopify_access_token = $6, stripe_account_id = $7, pending = false, created_at = now(), id = $8
from picked where o.id = picked.id
returning picked.slug as placeholder, o.id, o.slug, o.name, o.status::text as status, o.created_at, o.updated_at`,
    values: [
      slug,
      input.name ?? slug,
      input.status ?? 'active',
      JSON.stringify(input.settings ?? {}),
      input.shopifyStoreDomain ?? null,
      token,
      input.stripeAccountId ?? null,
      id,
    ],
  };
}

/** Claim options: createTenant's, and more work in the claiming transaction (clone copies rows there). */
export interface ClaimOptions extends Pick<CreateTenantOptions, 'tenantDir' | 'sets'> {
  within?: (tx: Transaction) => Promise<void>;
}

/**
 * Claims one pending tenant for `input.slug` in ONE transaction: its registry row takes the new slug and
 * fields, its schema and role are renamed (login mode: the role's password reset to the new name's), it is
 * brought up to the current migrations if it was behind, checked, seeded as the tenant, then committed.
 * Resolves to undefined, having changed nothing, when there is no pending tenant to take (or the role name
 * is taken by a leftover role): the caller builds one instead. A taken slug is `TenantExistsError`.
 */
export async function claimPendingTenant(
  db: Database,
  input: CreateTenantInput,
  options: ClaimOptions = {},
): Promise<CreateTenantResult | undefined> {
  const slug = assertValidSlug(input.slug);
  const schema = schemaNameFor(slug);
  const started = performance.now();
  const driver = await db.driver();
  const verifier = db.tenantRoleMode === 'login' ? loginVerifier(db, slug) : undefined;
  verifier?.catch(() => {}); // awaited below; a failure must not be an unhandled rejection meanwhile
  const migrations = await loadMigrations(options.tenantDir ?? DEFAULT_TENANT_DIR);
  const { tx, results } = await driver.begin([claimStatement(input, slug)]);
  try {
    // A registry without the pending column (public migration 008 not applied yet) has no pool either.
    const first = results[0];
    if (first && !first.ok && isSqlState(first.error, '42703')) return await rolledBack(tx);
    const row = expectOk(first, slug).rows[0];
    if (!row) return await rolledBack(tx);
    const placeholder = String(row.placeholder);
    const [moved, state, tracked, role] = await pipeline(tx, [
      { exec: moveNamesSql(placeholder, slug, { verifier: await verifier }) },
      ...claimChecks(slug, schema),
    ]);
    if (moved && !moved.ok) {
      if (isSqlState(moved.error, '42P06')) throw new TenantExistsError(slug);
      if (isSqlState(moved.error, '42710')) return await rolledBack(tx);
      throw moved.error;
    }
    // Built while tenant roles were off: its role is made now, as tenant:repair would.
    if (db.tenantRoles && expectOk(role, slug).rows[0]?.found !== true) {
      await tx.exec(grantTenantRoleSql(slug, { existingTables: true, ...(await grantOptions(db, driver, slug)) }));
    }
    const latest = migrations.length;
    const { current, appSets } = upToDate(expectOk(state, slug).rows[0], migrations, options);
    // Built before the last deployment and not migrated since: brought up to date here, in the same transaction.
    const applied = current
      ? 0
      : await migrateTenantInTransaction(tx, slug, { tenantDir: options.tenantDir, sets: options.sets });
    if (!current || expectOk(tracked, slug).rows[0]?.n !== latest)
      await verifyQueryable(tx, schema, appSets ? undefined : latest);
    if (input.seed) await runSeed(tx, slug, input.seed, db.tenantRoles);
    await options.within?.(tx);
    await commit(tx, slug, 'tenant creation (claiming a pending tenant)');
    return {
      tenant: toRecord(row as unknown as OrganizationRow),
      migrationsApplied: applied,
      durationMs: performance.now() - started,
      claimed: true,
    };
  } catch (error) {
    await tx.rollback().catch(() => {});
    throw error;
  }
}

/** What a claim reads once the names moved: the platform summary row, the tracked count, whether the role exists. */
function claimChecks(slug: string, schema: string) {
  return [
    {
      text: `select version, checksum_digest from public.tenant_migration_state
             where schema_name = $1 and migration_set = '${PLATFORM_SET}'`,
      values: [schema],
    },
    { text: `select count(*)::int as n from ${schema}.schema_migrations where migration_set = '${PLATFORM_SET}'` },
    { text: `select exists (select 1 from pg_roles where rolname = ${tenantRoleExpression(slug)}) as found` },
  ];
}

/**
 * Whether a claimed tenant is at the current migrations, from its platform summary row. The application's sets
 * are not compared: with any configured, the claim always runs the runner (a no-op when they are applied too);
 * without, a pending tenant at the platform's latest needs nothing.
 */
function upToDate(
  summary: Record<string, unknown> | undefined,
  migrations: Awaited<ReturnType<typeof loadMigrations>>,
  options: ClaimOptions,
): { current: boolean; appSets: boolean } {
  const appSets = (options.sets?.tenant ?? configuredMigrationSets().tenant).length > 0;
  const latest = migrations.length;
  const current = !appSets && summary?.version === latest && summary.checksum_digest === prefixDigests(migrations)[latest];
  return { current, appSets };
}

async function rolledBack(tx: Transaction): Promise<undefined> {
  await tx.rollback();
  return undefined;
}
