import { getDatabase, type Database } from '../database/database.js';
import type { Transaction } from '../drivers/types.js';
import { CgkError, TenantNotFoundError } from '../errors/index.js';
import { loadMigrations, prefixDigests } from '../migrations/files.js';
import { DEFAULT_TENANT_DIR } from '../migrations/types.js';
import { assertValidSlug, schemaNameFor } from '../sql/identifier.js';
import { buildTenant } from './build.js';
import { copyRows, sameTables } from './copy.js';
import { claimPendingTenant } from './pending.js';
import { registry, type CreateTenantOptions, type CreateTenantResult } from './registry.js';

/** Cloning a tenant: a new tenant with the source's migrations and tables, and optionally its rows. */

/** Options of cloneTenant(). */
export interface CloneTenantOptions extends CreateTenantOptions {
  /** Copy the source's rows too (sequences continued); default false: the same tables, empty. */
  withData?: boolean;
  /** Display name of the clone; default the source's. */
  name?: string;
}

/**
 * Creates tenant `to` as a clone of tenant `from`, in ONE transaction: a tenant built exactly as createTenant
 * builds one (a pending tenant claimed when there is one, else registry row, schema, every migration, its own
 * role), whose tables are checked to be the source's, then, with `withData`, filled with the source's rows
 * (one consistent snapshot) and its sequences continued. The clone shares nothing with the source: its own
 * schema, tables, sequences and role, owned and granted like any tenant's; the source's role gets no right on
 * it. The registry row takes the source's name (or `options.name`) and settings, not its Shopify or Stripe
 * ids (those name one store). All or nothing. Throws `TenantNotFoundError` (no tenant `from`),
 * `TenantExistsError` (`to` taken), `CgkError` `CGK_CLONE_SOURCE` (the source is not at the current
 * migrations, or has tables they did not make), `InvalidSlugError` before any SQL.
 */
export async function cloneTenant(from: string, to: string, options: CloneTenantOptions = {}): Promise<CreateTenantResult> {
  assertValidSlug(from);
  assertValidSlug(to);
  const db = options.db ?? getDatabase();
  const source = await sourceOf(db, from, options.tenantDir);
  const input = { slug: to, name: options.name ?? source.name, settings: source.settings };
  const within = async (tx: Transaction) => {
    const tables = await sameTables(tx, from, to);
    if (options.withData) await copyRows(tx, from, to, tables);
  };
  if (options.usePending !== false) {
    const claimed = await claimPendingTenant(db, input, { tenantDir: options.tenantDir, sets: options.sets, within });
    if (claimed) return claimed;
  }
  return buildTenant(db, input, { tenantDir: options.tenantDir, sets: options.sets, within });
}

/** The source's registry fields, after checking it is at the current migrations (what the clone will get). */
async function sourceOf(db: Database, from: string, tenantDir: string | URL | undefined) {
  const { rows } = await registry(
    db.sql<{ name: string; settings: Record<string, unknown>; version: number | null; digest: string | null }>`
      select o.name, o.settings, s.version, s.checksum_digest as digest
      from public.organizations o
      left join public.tenant_migration_state s on s.schema_name = ${schemaNameFor(from)} and s.migration_set = 'platform'
      where o.slug = ${from} and not o.pending`,
  );
  const row = rows[0];
  if (!row) throw new TenantNotFoundError(from);
  const migrations = await loadMigrations(tenantDir ?? DEFAULT_TENANT_DIR);
  if (row.version !== migrations.length || row.digest !== prefixDigests(migrations)[migrations.length]) {
    throw new CgkError(
      'CGK_CLONE_SOURCE',
      `Tenant "${from}" is not at the current migrations (${String(row.version ?? 'none')} applied, ` +
        `${migrations.length} in the files): a clone would not have its tables`,
      { hint: 'Run: npx @cgk/cli migrate (then clone again).' },
    );
  }
  return row;
}
