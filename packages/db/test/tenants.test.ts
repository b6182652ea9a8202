import { readdirSync } from 'node:fs';
import { cp, mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  ConfirmationRequiredError,
  Database,
  InvalidSlugError,
  TenantExistsError,
  TenantNotFoundError,
  activateTenant,
  createTenant,
  dropTenant,
  getTenant,
  listTenants,
  setupDatabase,
  suspendTenant,
  PLATFORM_TABLES,
} from '../src/index.js';
import { tenantRoleName } from '../src/roles/tenant-role.js';
import { DEFAULT_TENANT_DIR } from '../src/migrations/runner.js';
import { createTestDatabase, type TestDatabase, DROP_TIMEOUT_MS } from './helpers/database.js';

describe('tenant lifecycle (pg)', () => {
  let scratch: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    scratch = await createTestDatabase('cgk_lifecycle');
    db = new Database({ url: scratch.url });
  });
  afterAll(async () => {
    await db?.end();
    await scratch?.drop();
  }, DROP_TIMEOUT_MS);

  /** What exists for a slug: registry row, schema, role. */
  async function traces(slug: string) {
    const { rows } = await db.sql<{ org: boolean; schema: boolean; role: boolean }>`
      select exists (select 1 from public.organizations where slug = ${slug}) as org,
             to_regnamespace(${`tenant_${slug}`}) is not null as schema,
             exists (select 1 from pg_roles where rolname = ${tenantRoleName(slug, scratch.name)}) as role`;
    return rows[0]!;
  }

  it('refuses to create a tenant before setup:database, with a hint', async () => {
    const error = await createTenant({ slug: 'early' }, { db }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).hint).toMatch(/setup:database/);
    const { rows } = await db.sql`select 1 from pg_namespace where nspname = 'tenant_early'`;
    expect(rows).toHaveLength(0);
  });

  it("sets the database up in the spec's four steps, idempotently", async () => {
    const first = await setupDatabase({ db });
    expect(first).toMatchObject({ driver: 'pg', alreadyApplied: 0, tables: [...PLATFORM_TABLES].sort() });
    expect(first.applied).toEqual([
      '001_organizations.sql',
      '002_users.sql',
      '003_sessions.sql',
      '004_api_keys.sql',
      '005_billing.sql',
      '006_magic_links.sql',
      '007_fleet_runs.sql',
      '008_tenant_lifecycle.sql',
      '009_tenant_limits.sql',
      '010_operator_actions.sql',
    ]);
    expect(first.serverVersion).toMatch(/^\d+/);
    expect(first.target).toContain(scratch.name);
    const second = await setupDatabase({ db });
    expect(second).toMatchObject({ applied: [], alreadyApplied: 10 });
  });

  it('creates a tenant: row, schema with every migration, role, queryable', async () => {
    const result = await createTenant({ slug: 'acme', name: 'Acme Inc.' }, { db });
    expect(result.tenant).toMatchObject({ slug: 'acme', name: 'Acme Inc.', status: 'active', schema: 'tenant_acme' });
    expect(result.migrationsApplied).toBeGreaterThanOrEqual(13);
    expect(result.durationMs).toBeGreaterThan(0);
    expect(await traces('acme')).toEqual({ org: true, schema: true, role: true });
    const { rows } = await db.withTenant('acme', (sql) => sql<{ n: number }>`select count(*)::int as n from orders`);
    expect(rows).toEqual([{ n: 0 }]);
    const applied = await db.sql<{ n: number }>`select count(*)::int as n from tenant_acme.schema_migrations`;
    expect(applied.rows[0]!.n).toBe(result.migrationsApplied);
  });

  it('refuses a duplicate slug with TenantExistsError and changes nothing', async () => {
    const before = await getTenant('acme', { db });
    await expect(createTenant({ slug: 'acme', name: 'Other' }, { db })).rejects.toBeInstanceOf(TenantExistsError);
    expect(await getTenant('acme', { db })).toEqual(before);
  });

  it('lets exactly one of two concurrent creates of one slug win', async () => {
    const other = new Database({ url: scratch.url });
    try {
      const outcomes = await Promise.allSettled([
        createTenant({ slug: 'race' }, { db }),
        createTenant({ slug: 'race' }, { db: other }),
      ]);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      const rejected = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(rejected).toHaveLength(1);
      expect(rejected[0]!.reason).toBeInstanceOf(TenantExistsError);
      expect(await traces('race')).toEqual({ org: true, schema: true, role: true });
    } finally {
      await other.end();
    }
  });

  it('is all or nothing: a failing tenant migration leaves no row, no schema, no role', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cgk-broken-'));
    try {
      await cp(DEFAULT_TENANT_DIR, dir, { recursive: true });
      const next = readdirSync(dir).filter((f) => f.endsWith('.sql')).length + 1;
      await writeFile(
        join(dir, `${String(next).padStart(3, '0')}_broken.sql`),
        'create table fine (id int);\nselect * from no_such_table;\n',
      );
      const error = await createTenant({ slug: 'broken' }, { db, tenantDir: dir }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'CGK_MIGRATION' });
      expect((error as Error).message).toContain('_broken.sql');
      expect(await traces('broken')).toEqual({ org: false, schema: false, role: false });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad slugs before any SQL', async () => {
    const offline = new Database({ url: 'postgres://x:pw@127.0.0.1:1/none?connect_timeout=1' });
    for (const slug of ['Acme', 'a-b', 'a b', "a'b", 'a;drop schema public', '', '_x', '1x', 'é', 'a'.repeat(57)]) {
      await expect(createTenant({ slug }, { db: offline })).rejects.toBeInstanceOf(InvalidSlugError);
      await expect(dropTenant(slug, { confirm: true, db: offline })).rejects.toBeInstanceOf(InvalidSlugError);
    }
    await offline.end();
  });

  it('lists, gets, suspends and activates', async () => {
    await createTenant({ slug: 'beta', status: 'onboarding' }, { db });
    expect((await listTenants({ db })).map((t) => t.slug)).toEqual(['acme', 'beta', 'race']);
    expect((await listTenants({ db, status: 'onboarding' })).map((t) => t.slug)).toEqual(['beta']);
    expect(await getTenant('nobody', { db })).toBeNull();
    expect(await suspendTenant('acme', { db })).toMatchObject({ slug: 'acme', status: 'suspended' });
    expect((await getTenant('acme', { db }))?.status).toBe('suspended');
    expect(await activateTenant('acme', { db })).toMatchObject({ status: 'active' });
    await expect(suspendTenant('nobody', { db })).rejects.toBeInstanceOf(TenantNotFoundError);
  });

  it('stores the Shopify access token encrypted', async () => {
    const previous = process.env.CGK_ENCRYPTION_KEY;
    process.env.CGK_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');
    try {
      await createTenant({ slug: 'shop', shopifyAccessToken: 'shpat_0123456789abcdef' }, { db });
      const { rows } = await db.sql<{
        token: string;
        id: string;
      }>`select shopify_access_token as token, id from public.organizations where slug = 'shop'`;
      expect(rows[0]!.token).not.toContain('0123456789abcdef');
      const { decryptSecret, shopifyTokenBinding } = await import('../src/index.js');
      expect(decryptSecret(rows[0]!.token, shopifyTokenBinding(rows[0]!.id))).toBe('shpat_0123456789abcdef');
    } finally {
      if (previous === undefined) delete process.env.CGK_ENCRYPTION_KEY;
      else process.env.CGK_ENCRYPTION_KEY = previous;
    }
  });

  it('drops a tenant only when confirmed, taking row, schema and role together', async () => {
    await expect(dropTenant('beta', { confirm: false, db })).rejects.toBeInstanceOf(ConfirmationRequiredError);
    expect(await traces('beta')).toEqual({ org: true, schema: true, role: true });
    await dropTenant('beta', { confirm: true, db });
    expect(await traces('beta')).toEqual({ org: false, schema: false, role: false });
    await expect(dropTenant('beta', { confirm: true, db })).rejects.toBeInstanceOf(TenantNotFoundError);
    await expect(db.withTenant('beta', (sql) => sql`select 1`)).rejects.toBeInstanceOf(TenantNotFoundError);
  });
});
