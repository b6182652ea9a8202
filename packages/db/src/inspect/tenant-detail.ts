import { getDatabase, type Database } from '../database/database.js';
import { TenantNotFoundError } from '../errors/index.js';
import { registry, type TenantStatus } from '../lifecycle/registry.js';
import type { TenantRoleMode } from '../roles/mode.js';
import { assertValidSlug, quoteIdentifier, schemaNameFor } from '../sql/identifier.js';

/** One table of a tenant's schema, as the catalog knows it. */
export interface TenantTable {
  name: string;
  /** The planner's estimate (`reltuples`); -1 when the table was never analysed. */
  rowEstimate: number;
  /** Table, indexes and TOAST, in bytes (exact: asks the storage). */
  sizeBytes: number;
}

/** A migration recorded in the tenant's `schema_migrations`. */
export interface TenantAppliedMigration {
  /** The migration set: `platform`, or the name of one of the application's sets. */
  set: string;
  version: number;
  name: string;
  checksum: string;
  appliedAt: Date;
  durationMs: number | null;
}

/** Everything an operator's view of one tenant shows. Secrets are never part of it. */
export interface TenantDetail {
  id: string;
  slug: string;
  name: string;
  status: TenantStatus;
  schema: string;
  schemaExists: boolean;
  createdAt: Date;
  updatedAt: Date;
  shopifyStoreDomain: string | null;
  /** Whether an (encrypted) Shopify access token is stored; the token itself is never read. */
  hasShopifyAccessToken: boolean;
  stripeAccountId: string | null;
  /** Settings with the values of keys that look secret (token, secret, password, key...) replaced by "[redacted]". */
  settings: Record<string, unknown>;
  roleMode: TenantRoleMode;
  /** The tenant's PostgreSQL role (null with tenant roles off). */
  role: string | null;
  roleExists: boolean;
  tables: TenantTable[];
  migrations: TenantAppliedMigration[];
}

const SECRET_KEY = /pass|secret|token|key|credential|auth|cookie|signature|private/i;

/** A copy of `value` where every property whose name looks secret is "[redacted]", at any depth. */
export function redactSettings(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSettings);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, SECRET_KEY.test(k) ? '[redacted]' : redactSettings(v)]),
  );
}

interface RegistryRow {
  id: string;
  slug: string;
  name: string;
  status: TenantStatus;
  created_at: Date | string;
  updated_at: Date | string;
  shopify_store_domain: string | null;
  has_token: boolean;
  stripe_account_id: string | null;
  settings: Record<string, unknown> | string;
  schema_exists: boolean;
}

/**
 * One tenant as an operator sees it: its registry row (secret columns never read: only whether a token is
 * set; settings redacted), its tables with row estimates and sizes, the migrations applied in its schema with
 * their checksums, and its role. Read-only; a handful of queries. Throws `TenantNotFoundError` for a slug the
 * registry does not know.
 *
 * @example
 * const t = await describeTenant('acme');
 * console.log(t.tables.map((x) => `${x.name}: ~${x.rowEstimate} rows`));
 */
export async function describeTenant(slug: string, options: { db?: Database } = {}): Promise<TenantDetail> {
  assertValidSlug(slug);
  const db = options.db ?? getDatabase();
  const schema = schemaNameFor(slug);
  const { rows } = await registry(
    db.sql.query<RegistryRow>(
      `select id, slug, name, status::text as status, created_at, updated_at, shopify_store_domain,
         shopify_access_token is not null as has_token, stripe_account_id, settings,
         to_regnamespace($2) is not null as schema_exists
       from public.organizations where slug = $1 and not pending`,
      [slug, schema],
    ),
  );
  const row = rows[0];
  if (!row) throw new TenantNotFoundError(slug);
  const [tables, migrations, role] = await Promise.all([
    row.schema_exists ? tablesOf(db, schema) : [],
    row.schema_exists ? migrationsOf(db, schema) : [],
    roleOf(db, slug),
  ]);
  const settings = typeof row.settings === 'string' ? (JSON.parse(row.settings) as Record<string, unknown>) : row.settings;
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    status: row.status,
    schema,
    schemaExists: row.schema_exists,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    shopifyStoreDomain: row.shopify_store_domain,
    hasShopifyAccessToken: row.has_token,
    stripeAccountId: row.stripe_account_id,
    settings: redactSettings(settings) as Record<string, unknown>,
    roleMode: db.tenantRoleMode,
    ...role,
    tables,
    migrations,
  };
}

async function tablesOf(db: Database, schema: string): Promise<TenantTable[]> {
  const { rows } = await db.sql.query<{ name: string; estimate: number | string; size: number | string }>(
    // Through pg_depend's index (a table depends on its schema), not a scan of pg_class by relnamespace, which
    // has no index of its own: at 10,000 tenants pg_class holds hundreds of thousands of rows.
    `select c.relname as name, c.reltuples::float8 as estimate, pg_total_relation_size(c.oid)::float8 as size
     from pg_depend d join pg_class c on c.oid = d.objid
     where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_namespace'::regclass
       and d.refobjid = to_regnamespace($1) and d.deptype = 'n' and c.relkind in ('r', 'p')
     order by c.relname`,
    [schema],
  );
  return rows.map((r) => ({ name: r.name, rowEstimate: Number(r.estimate), sizeBytes: Number(r.size) }));
}

async function migrationsOf(db: Database, schema: string): Promise<TenantAppliedMigration[]> {
  const table = `${quoteIdentifier(schema)}.schema_migrations`;
  const { rows: found } = await db.sql.query<{ ok: boolean }>('select to_regclass($1) is not null as ok', [table]);
  if (!found[0]?.ok) return [];
  const { rows } = await db.sql.query<{
    migration_set: string;
    version: number;
    name: string;
    checksum: string;
    applied_at: Date | string;
    duration_ms: number | null;
  }>(
    `select migration_set, version, name, checksum, applied_at, duration_ms from ${table}
     order by migration_set <> 'platform', migration_set, version`,
  );
  return rows.map((r) => ({
    set: r.migration_set,
    version: Number(r.version),
    name: r.name,
    checksum: r.checksum,
    appliedAt: new Date(r.applied_at),
    durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
  }));
}

async function roleOf(db: Database, slug: string): Promise<{ role: string | null; roleExists: boolean }> {
  if (db.tenantRoleMode === 'off') return { role: null, roleExists: false };
  const role = await db.tenantRoleName(slug);
  const { rows } = await db.sql.query<{ ok: boolean }>('select exists (select 1 from pg_roles where rolname = $1) as ok', [role]);
  return { role, roleExists: rows[0]?.ok === true };
}
