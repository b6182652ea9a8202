import { getDatabase } from '../database/database.js';
import { ConfirmationRequiredError, TenantNotFoundError } from '../errors/index.js';
import { assertValidSlug, schemaNameFor } from '../sql/identifier.js';
import { dropTenantRoleSql, grantTenantRoleSql } from '../roles/tenant-role.js';
import { buildTenant } from './build.js';
import { claimPendingTenant } from './pending.js';
import {
  commit,
  expectOk,
  grantOptions,
  isSqlState,
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

/**
 * Deletes a tenant for good: its schema with all its data, its role and its registry row, in one
 * transaction. Refuses with `ConfirmationRequiredError` unless `confirm: true`; throws `TenantNotFoundError`
 * when neither the row nor the schema exists.
 */
export async function dropTenant(slug: string, options: LifecycleOptions & { confirm: boolean }): Promise<void> {
  assertValidSlug(slug);
  if (options?.confirm !== true) {
    throw new ConfirmationRequiredError(
      `drop tenant "${slug}" and all its data`,
      `Pass { confirm: true } (CLI: npx @cgk/cli tenant:drop ${slug} --yes).`,
    );
  }
  const schema = schemaNameFor(slug);
  const db = options.db ?? getDatabase();
  const driver = await db.driver();
  const { tx, results } = await driver.begin([
    { text: 'delete from public.organizations where slug = $1', values: [slug] },
    { text: 'select to_regnamespace($1) is not null as found', values: [schema] },
  ]);
  try {
    const deleted = expectOk(results[0], slug);
    const found = expectOk(results[1], slug).rows[0]?.found === true;
    if (deleted.rowCount === 0 && !found) throw new TenantNotFoundError(slug);
    await tx.exec(`drop schema if exists ${schema} cascade`);
    // The migration summary is created by the runner on first use; a database without it has nothing to clean.
    await tx
      .query({ text: 'delete from public.tenant_migration_state where schema_name = $1', values: [schema] })
      .catch((error: unknown) => {
        if (!isSqlState(error, '42P01')) throw error;
      });
    await tx.exec(dropTenantRoleSql(slug));
    await commit(tx, slug, 'tenant removal');
    // Login mode: this process's pooled connections of the dropped role go too (the server ended them).
    if (db.tenantRoleMode === 'login') driver.retireRole?.(await db.tenantRoleName(slug));
  } catch (error) {
    await tx.rollback();
    throw error;
  }
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
