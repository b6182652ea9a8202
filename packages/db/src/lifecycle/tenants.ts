import { getDatabase } from '../database/database.js';
import { ConfirmationRequiredError, TenantNotFoundError } from '../errors/index.js';
import { assertValidSlug, schemaNameFor } from '../sql/identifier.js';
import type { TenantCacheOptions } from '../cache/index.js';
import { grantTenantRoleSql } from '../roles/tenant-role.js';
import { clearTenantCacheKeys, removeTenantObjects, type TenantTraces } from './removal.js';
import { buildTenant } from './build.js';
import { claimPendingTenant } from './pending.js';
import {
  commit,
  expectOk,
  grantOptions,
  registry,
  toRecord,
  TENANT_COLUMNS,
  type CreateTenantInput,
  type CreateTenantOptions,
  type CreateTenantResult,
  type LifecycleOptions,
  type OrganizationRow,
  type TenantRecord,
  type TenantStatus,
} from './registry.js';

/** Lifecycle of a tenant: its row in `public.organizations`, its schema, its role, all or nothing. */

export type {
  TenantStatus,
  TenantRecord,
  TenantSeed,
  CreateTenantInput,
  CreateTenantResult,
  LifecycleOptions,
  CreateTenantOptions,
} from './registry.js';

/**
 * Creates a tenant: its `organizations` row, its schema with every tenant migration applied, its role and
 * grants (unless tenant roles are off), and checks that it is queryable, all in ONE transaction: on any
 * failure nothing is left behind (no row, no schema, no role). Two concurrent creates of one slug: one wins,
 * the other gets `TenantExistsError`. A bad slug throws `InvalidSlugError` before any SQL; a database where
 * `setup:database` was never run throws `ConfigError`.
 *
 * When pending tenants are waiting (tenant:pending, `createPendingTenants`), one is claimed instead, in one
 * transaction: registry row, schema and role renamed to the new slug, so the tenant exists in milliseconds;
 * concurrent creates never claim the same one, and with none left the tenant is built as above. `input.seed`
 * runs in the creation transaction as the tenant either way (a failing seed leaves nothing).
 *
 * @example
 * const { tenant, durationMs } = await createTenant({ slug: 'acme', name: 'Acme Inc.' });
 */
export async function createTenant(input: CreateTenantInput, options: CreateTenantOptions = {}): Promise<CreateTenantResult> {
  assertValidSlug(input.slug);
  const db = options.db ?? getDatabase();
  if (options.usePending !== false) {
    const claimed = await claimPendingTenant(db, input, { tenantDir: options.tenantDir, sets: options.sets });
    if (claimed) return claimed;
  }
  return buildTenant(db, input, { tenantDir: options.tenantDir, sets: options.sets });
}

/**
 * Every tenant in the registry, ordered by slug; `status` filters. Pending tenants (tenant:pending) are not
 * tenants yet and are left out; `pending: true` lists only them, under their placeholder slugs.
 */
export async function listTenants(
  options: LifecycleOptions & { status?: TenantStatus; pending?: boolean } = {},
): Promise<TenantRecord[]> {
  const db = options.db ?? getDatabase();
  const pending = options.pending === true ? 'pending' : 'not pending';
  const { rows } = await registry(
    options.status === undefined
      ? db.sql.query<OrganizationRow>(`select ${TENANT_COLUMNS} from public.organizations where ${pending} order by slug`)
      : db.sql.query<OrganizationRow>(
          `select ${TENANT_COLUMNS} from public.organizations
           where status = $1::organization_status and ${pending} order by slug`,
          [options.status],
        ),
  );
  return rows.map(toRecord);
}

/** The tenant with this slug, or null (also for a pending tenant's placeholder slug). */
export async function getTenant(slug: string, options: LifecycleOptions = {}): Promise<TenantRecord | null> {
  assertValidSlug(slug);
  const db = options.db ?? getDatabase();
  const { rows } = await registry(
    db.sql.query<OrganizationRow>(`select ${TENANT_COLUMNS} from public.organizations where slug = $1 and not pending`, [slug]),
  );
  return rows[0] ? toRecord(rows[0]) : null;
}

/** Marks the tenant suspended (its data stays); throws `TenantNotFoundError` if there is no such tenant. */
export function suspendTenant(slug: string, options: LifecycleOptions = {}): Promise<TenantRecord> {
  return setStatus(slug, 'suspended', options);
}

/** Marks the tenant active; throws `TenantNotFoundError` if there is no such tenant. */
export function activateTenant(slug: string, options: LifecycleOptions = {}): Promise<TenantRecord> {
  return setStatus(slug, 'active', options);
}

/** Options of dropTenant(). */
export interface DropTenantOptions extends LifecycleOptions {
  /** Must be `true`: the drop is irreversible. */
  confirm: boolean;
  /**
   * The shared cache to remove the tenant's keys from (`cgk:{slug}:*`): default Redis at `REDIS_URL` (none
   * without it: an in-process cache dies with its process); `false` leaves the cache alone.
   */
  cache?: TenantCacheOptions | false;
}

/** What dropTenant() removed. */
export interface DropTenantResult {
  /** The registry row (its users, sessions, api keys and billing rows went with it). */
  registryRow: boolean;
  schema: boolean;
  role: boolean;
  cacheKeysRemoved: number;
}

/**
 * Deletes a tenant completely: its registry row (with its platform rows: users, sessions, api keys,
 * billing), its schema with all its data, its migration summary rows and its role in one transaction, then
 * its cache keys. Whatever of these a former drop left (a role, cache keys) it removes too, so running it
 * again finishes an interrupted drop. Refuses with `ConfirmationRequiredError` unless `confirm: true`;
 * throws `TenantNotFoundError` when there is no trace of the tenant at all; `CacheError` when the cache
 * cannot be reached (the database part is done then: run it again later).
 */
export async function dropTenant(slug: string, options: DropTenantOptions): Promise<DropTenantResult> {
  assertValidSlug(slug);
  if (options?.confirm !== true) {
    throw new ConfirmationRequiredError(
      `drop tenant "${slug}" and all its data`,
      `Pass { confirm: true } (CLI: npx @cgk/cli tenant:drop ${slug} --yes).`,
    );
  }
  const db = options.db ?? getDatabase();
  const driver = await db.driver();
  const { tx, results } = await driver.begin([{ text: 'delete from public.organizations where slug = $1', values: [slug] }]);
  let traces: TenantTraces;
  let registryRow: boolean;
  try {
    registryRow = expectOk(results[0], slug).rowCount > 0;
    traces = await removeTenantObjects(tx, slug);
    await commit(tx, slug, 'tenant removal');
    // Login mode: this process's pooled connections of the dropped role go too (the server ended them).
    if (db.tenantRoleMode === 'login') driver.retireRole?.(await db.tenantRoleName(slug));
  } catch (error) {
    await tx.rollback();
    throw error;
  }
  const cacheKeysRemoved = await clearTenantCacheKeys(slug, options.cache);
  if (!registryRow && !traces.schema && !traces.role && !traces.summary && cacheKeysRemoved === 0) {
    throw new TenantNotFoundError(slug);
  }
  return { registryRow, schema: traces.schema, role: traces.role, cacheKeysRemoved };
}

async function setStatus(slug: string, status: TenantStatus, options: LifecycleOptions): Promise<TenantRecord> {
  assertValidSlug(slug);
  const db = options.db ?? getDatabase();
  const { rows } = await registry(
    db.sql.query<OrganizationRow>(
      `update public.organizations set status = $1::organization_status
       where slug = $2 and not pending returning ${TENANT_COLUMNS}`,
      [status, slug],
    ),
  );
  if (!rows[0]) throw new TenantNotFoundError(slug);
  return toRecord(rows[0]);
}

/**
 * Creates the missing role of one tenant (`slug`) or of every tenant in the registry, and (re)applies the
 * grants: for tenants made before tenant roles were on, or by hand. Idempotent. Resolves to the slugs
 * repaired. Throws `TenantNotFoundError` for a slug without a schema.
 */
export async function repairTenantRoles(options: LifecycleOptions & { slug?: string } = {}): Promise<string[]> {
  const db = options.db ?? getDatabase();
  const slugs = options.slug !== undefined ? [assertValidSlug(options.slug)] : (await listTenants({ db })).map((t) => t.slug);
  const driver = await db.driver();
  for (const slug of slugs) {
    const { rows } = await db.sql<{ found: boolean }>`select to_regnamespace(${schemaNameFor(slug)}) is not null as found`;
    if (!rows[0]?.found) throw new TenantNotFoundError(slug);
    await driver.exec(grantTenantRoleSql(slug, { existingTables: true, ...(await grantOptions(db, driver, slug)) }));
  }
  return slugs;
}
