import { randomUUID } from 'node:crypto';
import type { Database } from '../database/database.js';
import type { Transaction } from '../drivers/types.js';
import { TenantExistsError } from '../errors/index.js';
import { migrateTenantInTransaction } from '../migrations/runner.js';
import { grantTenantRoleSql, revokeBookkeepingSql } from '../roles/tenant-role.js';
import { encryptSecret, shopifyTokenBinding } from '../secrets/encryption.js';
import { assertValidSlug, schemaNameFor } from '../sql/identifier.js';
import {
  commit,
  expectOk,
  grantOptions,
  isSqlState,
  toRecord,
  verifyQueryable,
  TENANT_COLUMNS,
  type CreateTenantInput,
  type CreateTenantOptions,
  type CreateTenantResult,
  type OrganizationRow,
} from './registry.js';
import { runSeed } from './seed.js';

/** A tenant built from nothing: registry row, schema, every migration, role; the cold path of createTenant. */

/** How buildTenant() builds. */
export interface BuildOptions {
  tenantDir?: string | URL | undefined;
  sets?: CreateTenantOptions['sets'];
  /** A pending tenant (tenant:pending): registry row marked pending, no seed. */
  pending?: boolean;
  /** More work in the creation transaction, after the seed (clone copies rows here). */
  within?: (tx: Transaction) => Promise<void>;
}

/**
 * Builds a tenant in ONE transaction: its `organizations` row, its schema with every tenant migration, its
 * role and grants (unless tenant roles are off), the queryable check, the seed as the tenant, then
 * `options.within`. On any failure nothing is left behind. A taken slug is `TenantExistsError`.
 */
export async function buildTenant(
  db: Database,
  input: CreateTenantInput,
  options: BuildOptions = {},
): Promise<CreateTenantResult> {
  const slug = assertValidSlug(input.slug);
  const schema = schemaNameFor(slug);
  // The id is chosen here so the token can be encrypted bound to its row (secrets/encryption.ts).
  const id = randomUUID();
  const token = input.shopifyAccessToken === undefined ? null : encryptSecret(input.shopifyAccessToken, shopifyTokenBinding(id));
  const started = performance.now();
  const driver = await db.driver();
  const grant = db.tenantRoles ? await grantOptions(db, driver, slug) : undefined;
  // `pending` is named only for a pending tenant: a database not migrated to 008 still creates tenants.
  const [column, value] = options.pending ? [', pending', ', true'] : ['', ''];
  const { tx, results } = await driver.begin([
    {
      text: `insert into public.organizations
             (slug, name, status, settings, shopify_store_domain, shopify_access_token, stripe_account_id, id${column})
           values ($1, $2, $3::organization_status, $4::jsonb, $5, $6, $7, $8${value}) returning ${TENANT_COLUMNS}`,
      values: [
        slug,
        input.name ?? slug,
        input.status ?? (options.pending ? 'onboarding' : 'active'),
        JSON.stringify(input.settings ?? {}),
        input.shopifyStoreDomain ?? null,
        token,
        input.stripeAccountId ?? null,
        id,
      ],
    },
  ]);
  try {
    const inserted = expectOk(results[0], slug);
    // The role's default privileges go in before the migrations, so every table they create is granted as it
    // is created: no `grant on all tables`, whose catalog scan grows with the number of tenants on the server.
    const role = grant ? `;\n${grantTenantRoleSql(slug, grant)}` : '';
    await tx.exec(`create schema ${schema}${role}`).catch((error: unknown) => {
      throw isSqlState(error, '42P06') ? new TenantExistsError(slug) : error;
    });
    const applied = await migrateTenantInTransaction(tx, slug, { tenantDir: options.tenantDir, sets: options.sets });
    if (db.tenantRoles) await tx.exec(revokeBookkeepingSql(slug));
    await verifyQueryable(tx, schema, applied);
    if (input.seed && !options.pending) await runSeed(tx, slug, input.seed, db.tenantRoles);
    await options.within?.(tx);
    await commit(tx, slug, 'tenant creation');
    return {
      tenant: toRecord(inserted.rows[0] as unknown as OrganizationRow),
      migrationsApplied: applied,
      durationMs: performance.now() - started,
      claimed: false,
    };
  } catch (error) {
    await tx.rollback();
    throw error;
  }
}
