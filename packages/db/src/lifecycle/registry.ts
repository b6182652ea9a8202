import type { MigrateOptions } from '../migrations/types.js';
import type { Database } from '../database/database.js';
import type { Driver, QueryResult, Transaction } from '../drivers/types.js';
import { ConfigError, MigrationError, QueryError, TenantExistsError, TransactionAbortedError } from '../errors/index.js';
import type { Sql } from '../sql/tag.js';
import { schemaNameFor } from '../sql/identifier.js';
import { tenantRolesNeedLogin, type GrantOptions } from '../roles/tenant-role.js';
import { tenantRoleVerifier } from '../roles/credentials.js';

/**
 * What every lifecycle module shares: the registry's row shape (`public.organizations`), the types of the
 * public lifecycle functions, and the small steps of their transactions (expect a statement's result, commit,
 * map SQLSTATEs to typed errors). Split from tenants.ts so that pending.ts, clone.ts and rename.ts can use
 * them without importing tenants.ts, which imports them back.
 */

export type TenantStatus = 'active' | 'suspended' | 'onboarding';

/** A tenant as the registry (`public.organizations`) knows it. */
export interface TenantRecord {
  id: string;
  slug: string;
  name: string;
  status: TenantStatus;
  schema: string;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * Rows to put in a new tenant, inside its creation transaction, as the tenant (its role and `search_path`):
 * a function given a `sql` tag bound to that transaction, or `{ script }`, SQL text of one or more statements
 * (a `--seed` file). It runs after the migrations and before the commit: a seed that throws leaves nothing.
 */
export type TenantSeed = ((sql: Sql) => Promise<unknown>) | { script: string };

/** What createTenant() needs; only `slug` is required. */
export interface CreateTenantInput {
  slug: string;
  /** Display name; defaults to the slug. */
  name?: string;
  /** Defaults to `active`: the tenant is usable as soon as createTenant() resolves. */
  status?: TenantStatus;
  shopifyStoreDomain?: string;
  /** Stored encrypted (AES-256-GCM, CGK_ENCRYPTION_KEY); never stored in clear. */
  shopifyAccessToken?: string;
  stripeAccountId?: string;
  settings?: Record<string, unknown>;
  /** Rows the new tenant starts with (see `TenantSeed`); also run when a pending tenant is claimed. */
  seed?: TenantSeed;
}

/** What createTenant() did. */
export interface CreateTenantResult {
  tenant: TenantRecord;
  /** Migrations applied by this call: all of them for a cold create, usually none for a claimed pending tenant. */
  migrationsApplied: number;
  durationMs: number;
  /** True when a pending tenant (tenant:pending) was claimed and renamed instead of building one. */
  claimed: boolean;
}

/** Options shared by the lifecycle functions. */
export interface LifecycleOptions {
  /** The database to work on; the process-wide one by default. */
  db?: Database;
}

/** Options of createTenant(). */
export interface CreateTenantOptions extends LifecycleOptions {
  /** Directory of the platform's tenant migrations; the package's own by default (a test hook: tests inject failing ones). */
  tenantDir?: string | URL;
  /** The application's migration sets; default: the configured ones (cgk.config.json, CGK_TENANT_MIGRATIONS). */
  sets?: MigrateOptions['sets'];
  /** Claim a pending tenant when there is one (default true); false always builds a new one. */
  usePending?: boolean;
}

export const TENANT_COLUMNS = 'id, slug, name, status::text as status, created_at, updated_at';

export interface OrganizationRow {
  id: string;
  slug: string;
  name: string;
  status: TenantStatus;
  created_at: Date;
  updated_at: Date;
}

/** The new schema answers a query on its first table and holds as many tracking rows as migrations applied. */
export async function verifyQueryable(tx: Transaction, schema: string, applied: number | undefined): Promise<void> {
  const { rows } = await tx.query({
    text: `select (select count(*) from ${schema}.schema_migrations)::int as tracked,
                  (select count(*) from ${schema}.orders)::int as orders`,
  });
  // `applied` undefined: the count is unknown to the caller (a claim that ran the application's sets); only
  // "some migrations are tracked and orders is queryable" is checked then.
  if ((applied !== undefined && rows[0]?.tracked !== applied) || applied === 0 || rows[0]?.tracked === 0) {
    throw new MigrationError(
      { schema },
      `Tenant schema ${schema} is not complete after its migrations (${String(rows[0]?.tracked)} tracked, ${applied} applied)`,
    );
  }
}

/** Commits; a transaction PostgreSQL had already aborted is a `TransactionAbortedError`, never a success. */
export async function commit(tx: Transaction, slug: string, work: string): Promise<void> {
  const tag = await tx.commit();
  if (tag === 'ROLLBACK') throw new TransactionAbortedError(slug, undefined, work);
}

/** The result of a pipelined statement, or its error as a typed one (a taken slug, a database not set up). */
export function expectOk(
  settled: { ok: true; result: QueryResult } | { ok: false; error: Error } | undefined,
  slug: string,
): QueryResult {
  if (!settled) throw new QueryError('missing statement result');
  if (settled.ok) return settled.result;
  if (isSqlState(settled.error, '23505')) throw new TenantExistsError(slug);
  throw notSetUp(settled.error) ?? settled.error;
}

/** A registry query whose failure for want of the platform tables becomes a `ConfigError`. */
export async function registry<T>(query: Promise<T>): Promise<T> {
  return query.catch((error: unknown) => {
    throw notSetUp(error) ?? error;
  });
}

/** A missing registry table or enum means setup:database has not run on this database. */
export function notSetUp(error: unknown): ConfigError | undefined {
  if (!isSqlState(error, '42P01') && !isSqlState(error, '42704') && !isSqlState(error, '42703')) return undefined;
  return new ConfigError(
    'The platform tables are missing or not up to date: setup:database has not run on this database since the upgrade',
    'Run: npx @cgk/cli setup:database',
  );
}

export function isSqlState(error: unknown, state: string): boolean {
  return error instanceof QueryError && error.sqlState === state;
}

export function toRecord(row: OrganizationRow): TenantRecord {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    status: row.status,
    schema: schemaNameFor(row.slug),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * How the tenant's role is made: LOGIN on Citus (its workers are reached as the tenant role) and in login
 * mode, where it also gets its password's SCRAM verifier, derived from the secret (`ConfigError` without one).
 */
export async function grantOptions(db: Database, driver: Driver, slug: string): Promise<GrantOptions> {
  if (db.tenantRoleMode === 'login') return { login: true, verifier: await loginVerifier(db, slug) };
  return { login: await tenantRolesNeedLogin(driver) };
}

/** Login mode: the verifier of the password of `slug`'s role, which is derived from the role's NAME. */
export async function loginVerifier(db: Database, slug: string): Promise<string> {
  return tenantRoleVerifier(db.tenantRoleSecret(), await db.tenantRoleName(slug));
}
