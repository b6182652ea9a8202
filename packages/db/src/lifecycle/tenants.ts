import { randomUUID } from 'node:crypto';
import { getDatabase, type Database } from '../database/database.js';
import type { Driver, QueryResult, Transaction } from '../drivers/types.js';
import {
  ConfigError,
  ConfirmationRequiredError,
  MigrationError,
  QueryError,
  TenantExistsError,
  TenantNotFoundError,
  TransactionAbortedError,
} from '../errors/index.js';
import { assertValidSlug, schemaNameFor } from '../sql/identifier.js';
import { migrateTenantInTransaction } from '../migrations/runner.js';
import {
  dropTenantRoleSql,
  grantTenantRoleSql,
  revokeBookkeepingSql,
  tenantRolesNeedLogin,
  type GrantOptions,
} from '../roles/tenant-role.js';
import { tenantRoleVerifier } from '../roles/credentials.js';
import { encryptSecret, shopifyTokenBinding } from '../secrets/encryption.js';

/** Lifecycle of a tenant: its row in `public.organizations`, its schema, its role, all or nothing. */

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
}

/** What createTenant() did. */
export interface CreateTenantResult {
  tenant: TenantRecord;
  migrationsApplied: number;
  durationMs: number;
}

/** Options shared by the lifecycle functions. */
export interface LifecycleOptions {
  /** The database to work on; the process-wide one by default. */
  db?: Database;
}

/** Options of createTenant(). */
export interface CreateTenantOptions extends LifecycleOptions {
  /** Directory of tenant migrations; the package's own by default (tests inject failing ones). */
  tenantDir?: string | URL;
}

const TENANT_COLUMNS = 'id, slug, name, status::text as status, created_at, updated_at';

interface OrganizationRow {
  id: string;
  slug: string;
  name: string;
  status: TenantStatus;
  created_at: Date;
  updated_at: Date;
}

/**
 * Creates a tenant: its `organizations` row, its schema with every tenant migration applied, its role and
 * grants (unless tenant roles are off), and checks that it is queryable, all in ONE transaction: on any
 * failure nothing is left behind (no row, no schema, no role). Two concurrent creates of one slug: one wins,
 * the other gets `TenantExistsError`. A bad slug throws `InvalidSlugError` before any SQL; a database where
 * `setup:database` was never run throws `ConfigError`.
 *
 * @example
 * const { tenant, durationMs } = await createTenant({ slug: 'acme', name: 'Acme Inc.' });
 */
export async function createTenant(input: CreateTenantInput, options: CreateTenantOptions = {}): Promise<CreateTenantResult> {
  const slug = assertValidSlug(input.slug);
  const schema = schemaNameFor(slug);
  // The id is chosen here so the token can be encrypted bound to its row (secrets/encryption.ts).
  const id = randomUUID();
  const token = input.shopifyAccessToken === undefined ? null : encryptSecret(input.shopifyAccessToken, shopifyTokenBinding(id));
  const db = options.db ?? getDatabase();
  const started = performance.now();
  const driver = await db.driver();
  const grant = db.tenantRoles ? await grantOptions(db, driver, slug) : undefined;
  const { tx, results } = await driver.begin([
    {
      text: `insert into public.organizations
             (slug, name, status, settings, shopify_store_domain, shopify_access_token, stripe_account_id, id)
           values ($1, $2, $3::organization_status, $4::jsonb, $5, $6, $7, $8) returning ${TENANT_COLUMNS}`,
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
    const applied = await migrateTenantInTransaction(tx, slug, { tenantDir: options.tenantDir });
    if (db.tenantRoles) await tx.exec(revokeBookkeepingSql(slug));
    await verifyQueryable(tx, schema, applied);
    await commit(tx, slug, 'tenant creation');
    return {
      tenant: toRecord(inserted.rows[0] as unknown as OrganizationRow),
      migrationsApplied: applied,
      durationMs: performance.now() - started,
    };
  } catch (error) {
    await tx.rollback();
    throw error;
  }
}

/** Every tenant in the registry, ordered by slug; `status` filters. */
export async function listTenants(options: LifecycleOptions & { status?: TenantStatus } = {}): Promise<TenantRecord[]> {
  const db = options.db ?? getDatabase();
  const { rows } = await registry(
    options.status === undefined
      ? db.sql.query<OrganizationRow>(`select ${TENANT_COLUMNS} from public.organizations order by slug`)
      : db.sql.query<OrganizationRow>(
          `select ${TENANT_COLUMNS} from public.organizations where status = $1::organization_status order by slug`,
          [options.status],
        ),
  );
  return rows.map(toRecord);
}

/** The tenant with this slug, or null. */
export async function getTenant(slug: string, options: LifecycleOptions = {}): Promise<TenantRecord | null> {
  assertValidSlug(slug);
  const db = options.db ?? getDatabase();
  const { rows } = await registry(
    db.sql.query<OrganizationRow>(`select ${TENANT_COLUMNS} from public.organizations where slug = $1`, [slug]),
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
      `update public.organizations set status = $1::organization_status where slug = $2 returning ${TENANT_COLUMNS}`,
      [status, slug],
    ),
  );
  if (!rows[0]) throw new TenantNotFoundError(slug);
  return toRecord(rows[0]);
}

/** The new schema answers a query on its first table and holds as many tracking rows as migrations applied. */
async function verifyQueryable(tx: Transaction, schema: string, applied: number): Promise<void> {
  const { rows } = await tx.query({
    text: `select (select count(*) from ${schema}.schema_migrations)::int as tracked,
                  (select count(*) from ${schema}.orders)::int as orders`,
  });
  if (rows[0]?.tracked !== applied || applied === 0) {
    throw new MigrationError(
      { schema },
      `Tenant schema ${schema} is not complete after its migrations (${String(rows[0]?.tracked)} tracked, ${applied} applied)`,
    );
  }
}

async function commit(tx: Transaction, slug: string, work: string): Promise<void> {
  const tag = await tx.commit();
  if (tag === 'ROLLBACK') throw new TransactionAbortedError(slug, undefined, work);
}

function expectOk(
  settled: { ok: true; result: QueryResult } | { ok: false; error: Error } | undefined,
  slug: string,
): QueryResult {
  if (!settled) throw new QueryError('missing statement result');
  if (settled.ok) return settled.result;
  if (isSqlState(settled.error, '23505')) throw new TenantExistsError(slug);
  throw notSetUp(settled.error) ?? settled.error;
}

async function registry<T>(query: Promise<T>): Promise<T> {
  return query.catch((error: unknown) => {
    throw notSetUp(error) ?? error;
  });
}

/** A missing registry table or enum means setup:database has not run on this database. */
function notSetUp(error: unknown): ConfigError | undefined {
  if (!isSqlState(error, '42P01') && !isSqlState(error, '42704')) return undefined;
  return new ConfigError(
    'The platform tables are missing: this database has not been set up',
    'Run: npx @cgk/cli setup:database',
  );
}

function isSqlState(error: unknown, state: string): boolean {
  return error instanceof QueryError && error.sqlState === state;
}

function toRecord(row: OrganizationRow): TenantRecord {
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

/**
 * How the tenant's role is made: LOGIN on Citus (its workers are reached as the tenant role) and in login
 * mode, where it also gets its password's SCRAM verifier, derived from the secret (`ConfigError` without one).
 */
async function grantOptions(db: Database, driver: Driver, slug: string): Promise<GrantOptions> {
  if (db.tenantRoleMode === 'login') {
    const secret = db.tenantRoleSecret();
    return { login: true, verifier: await tenantRoleVerifier(secret, await db.tenantRoleName(slug)) };
  }
  return { login: await tenantRolesNeedLogin(driver) };
}
