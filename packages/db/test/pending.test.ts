import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TenantExistsError,
  clearMigrationCache,
  countPendingTenants,
  createPendingTenants,
  createTenant,
  listTenants,
  migrateTenants,
  migrationStatus,
  type CreateTenantResult,
} from '../src/index.js';
import { DEFAULT_TENANT_DIR } from '../src/migrations/runner.js';
import { tagOfDatabase } from '../src/roles/tenant-role.js';
import { DROP_TIMEOUT_MS } from './helpers/database.js';
import { expectIsolated, openLifecycle, tenantDirWith, type LifecycleFixture } from './helpers/lifecycle.js';

// Pending tenants (tenant:pending): built in advance, claimed by createTenant in one transaction, on PostgreSQL
// as a non-superuser application role and on the embedded database.

const TEMPLATE_FILES = readdirSync(DEFAULT_TENANT_DIR).filter((f) => f.endsWith('.sql')).length;

describe.each(['pg', 'pglite'] as const)('pending tenants, on %s', (target) => {
  let f: LifecycleFixture;

  beforeAll(async () => {
    f = await openLifecycle(target, 'cgk_pending');
  }, 120_000);
  afterAll(async () => {
    await f?.teardown();
  }, DROP_TIMEOUT_MS);

  /** Placeholder schemas and roles still on the server. */
  async function leftovers() {
    const { rows } = await f.db.sql<{ schemas: number; roles: number }>`
      select (select count(*)::int from pg_namespace where nspname like 'tenant\\_pending\\_%') as schemas,
             (select count(*)::int from pg_roles where rolname like ${`ct\\_${tagOfDatabase(f.database)}\\_pending\\_%`}) as roles`;
    return rows[0]!;
  }

  // The embedded database serialises everything on one connection: on a loaded machine these take minutes.
  it('builds pending tenants: migrated, hidden from listTenants, counted, listed when asked', { timeout: 300_000 }, async () => {
    const made = await createPendingTenants(20, { db: f.db, concurrency: 3 });
    expect(new Set(made).size).toBe(20);
    expect(await countPendingTenants({ db: f.db })).toBe(20);
    expect(await listTenants({ db: f.db })).toEqual([]);
    expect((await listTenants({ db: f.db, pending: true })).map((t) => t.slug).sort()).toEqual([...made].sort());
    expect(await leftovers()).toEqual({ schemas: 20, roles: 20 });
    const status = await migrationStatus(f.db);
    expect(status.tenants).toMatchObject({ total: 20, upToDate: 20, pending: 0 });
  });

  it('gives 50 concurrent createTenant calls against a pool of 20 pending tenants 50 distinct, complete tenants', {
    timeout: 300_000,
  }, async () => {
    const slugs = Array.from({ length: 50 }, (_, i) => `rush${i}`);
    const results: CreateTenantResult[] = await Promise.all(slugs.map((slug) => createTenant({ slug }, { db: f.db })));
    expect(results.filter((r) => r.claimed)).toHaveLength(20);
    expect(new Set(results.map((r) => r.tenant.id)).size).toBe(50);
    expect(results.map((r) => r.tenant.slug)).toEqual(slugs);
    expect(await countPendingTenants({ db: f.db })).toBe(0);
    expect(await leftovers()).toEqual({ schemas: 0, roles: 0 });
    expect((await listTenants({ db: f.db })).map((t) => t.slug).sort()).toEqual([...slugs].sort());
    for (const slug of slugs) expect(await f.traces(slug)).toEqual({ org: true, schema: true, role: true });
    const { rows } = await f.db.sql<{ schema_name: string; n: number }>`
      select n.nspname::text as schema_name,
             (xpath('/row/n/text()', query_to_xml(format('select count(*) as n from %I.schema_migrations', n.nspname), false, true, '')))[1]::text::int as n
      from pg_namespace n where n.nspname like 'tenant\\_rush%'`;
    expect(rows).toHaveLength(50);
    for (const row of rows) expect(row.n, row.schema_name).toBe(TEMPLATE_FILES);
    const status = await migrationStatus(f.db);
    expect(status.tenants).toMatchObject({ total: 50, upToDate: 50 });
    await expectIsolated(f, 'rush0', 'rush49');
    await expectIsolated(f, 'rush1', 'rush2');
  });

  it('seeds a claimed tenant inside the claim, as the tenant; a failing seed leaves nothing and the pool as it was', {
    timeout: 120_000,
  }, async () => {
    await createPendingTenants(1, { db: f.db });
    const seeded = await createTenant(
      {
        slug: 'seeded',
        seed: async (sql) => {
          const { rows } = await sql<{ who: string }>`select current_user as who`;
          await sql`insert into customers (email, first_name) values (${'first@example.com'}, ${rows[0]!.who})`;
        },
      },
      { db: f.db },
    );
    expect(seeded.claimed).toBe(true);
    const { rows } = await f.db.withTenant(
      'seeded',
      (sql) => sql<{ email: string; first_name: string }>`
      select email, first_name from customers`,
    );
    expect(rows).toEqual([{ email: 'first@example.com', first_name: `ct_${tagOfDatabase(f.database)}_seeded` }]);
    await createPendingTenants(1, { db: f.db });
    for (const seed of [
      async () => {
        throw new Error('seed failed');
      },
      { script: "insert into customers (email) values ('a@example.com'); insert into nowhere values (1)" },
      { script: 'select * from tenant_seeded.customers' },
      { script: 'create table seed_ddl (id int)' },
    ]) {
      await expect(createTenant({ slug: 'unseeded', seed }, { db: f.db })).rejects.toThrow();
      expect(await f.traces('unseeded')).toEqual({ org: false, schema: false, role: false });
      expect(await countPendingTenants({ db: f.db })).toBe(1);
    }
    const script = await createTenant(
      {
        slug: 'scripted',
        seed: {
          script:
            "insert into customers (email) values ('s@example.com');\ninsert into products (title, handle) values ('P', 'p')",
        },
      },
      { db: f.db },
    );
    expect(script.claimed).toBe(true);
    const counts = await f.db.withTenant(
      'scripted',
      (sql) => sql<{ c: number; p: number }>`
      select (select count(*)::int from customers) as c, (select count(*)::int from products) as p`,
    );
    expect(counts.rows).toEqual([{ c: 1, p: 1 }]);
  });

  it('refuses a taken slug without using up a pending tenant', { timeout: 120_000 }, async () => {
    await createPendingTenants(1, { db: f.db });
    await expect(createTenant({ slug: 'seeded' }, { db: f.db })).rejects.toBeInstanceOf(TenantExistsError);
    expect(await countPendingTenants({ db: f.db })).toBe(1);
    const cold = await createTenant(
      { slug: 'cold', seed: { script: "insert into customers (email) values ('c@example.com')" } },
      {
        db: f.db,
        usePending: false,
      },
    );
    expect(cold.claimed).toBe(false);
    expect(await countPendingTenants({ db: f.db })).toBe(1);
    const { rows } = await f.db.withTenant('cold', (sql) => sql<{ n: number }>`select count(*)::int as n from customers`);
    expect(rows).toEqual([{ n: 1 }]);
  });

  it('migrates pending tenants with the fleet, and brings a stale one up to date when it is claimed', {
    timeout: 120_000,
  }, async () => {
    const extra = await tenantDirWith({});
    try {
      await createTenant({ slug: 'drain' }, { db: f.db }); // takes the one left by the previous test
      expect(await countPendingTenants({ db: f.db })).toBe(0);
      await createPendingTenants(2, { db: f.db, tenantDir: extra.dir });
      const next = `${String(TEMPLATE_FILES + 1).padStart(3, '0')}_gift_cards.sql`;
      const { writeFile } = await import('node:fs/promises');
      await writeFile(`${extra.dir}/${next}`, 'create table gift_cards (id int primary key);\n');
      clearMigrationCache();
      const { claimed, migrationsApplied } = await createTenant({ slug: 'stale' }, { db: f.db, tenantDir: extra.dir });
      expect({ claimed, migrationsApplied }).toEqual({ claimed: true, migrationsApplied: 1 });
      const fleet = await migrateTenants(f.db, { tenantDir: extra.dir });
      // The fleet migrates every tenant to the new file, the remaining pending one included.
      expect(fleet.failed).toEqual([]);
      expect(fleet.tenants.map((t) => t.slug).filter((s) => s.startsWith('pending_'))).toEqual([
        expect.stringMatching(/^pending_[0-9a-f]{16}$/),
      ]);
      const fresh = await createTenant({ slug: 'fresh' }, { db: f.db, tenantDir: extra.dir });
      expect({ claimed: fresh.claimed, migrationsApplied: fresh.migrationsApplied }).toEqual({
        claimed: true,
        migrationsApplied: 0,
      });
      const { rows } = await f.db.withTenant('fresh', (sql) => sql<{ n: number }>`select count(*)::int as n from gift_cards`);
      expect(rows).toEqual([{ n: 0 }]);
    } finally {
      await extra.remove();
    }
  });
});
