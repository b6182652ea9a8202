import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant,
  Database,
  describeTenant,
  InvalidSlugError,
  listOperatorActions,
  listTenantsPage,
  readOnlySession,
  recordOperatorAction,
  snapshotTenantStats,
  setupDatabase,
  TenantNotFoundError,
} from '../src/index.js';
import type { Statement } from '../src/drivers/types.js';
import { createTestDatabase, DROP_TIMEOUT_MS, type TestDatabase } from './helpers/database.js';

/** A database that counts the statements it is asked to run outside scopes (what the operator views send). */
class CountingDatabase extends Database {
  statements = 0;
  override query(statement: Statement) {
    this.statements++;
    return super.query(statement);
  }
}

let scratch: TestDatabase;
let db: CountingDatabase;

beforeAll(async () => {
  scratch = await createTestDatabase('cgk_inspect');
  db = new CountingDatabase({ url: scratch.url });
  await setupDatabase({ db });
  for (const slug of ['alpha', 'bravo', 'charlie']) await createTenant({ slug, name: `Store ${slug}` }, { db });
  await createTenant(
    { slug: 'delta', name: 'Delta 100% Organic', settings: { theme: 'x', nested: { apiToken: 's3cr3t' } } },
    { db },
  );
  await db.withTenant(
    'bravo',
    (sql) => sql`insert into customers (email) select 'c' || i || '@b.test' from generate_series(1, 2000) i`,
  );
  await db.sql`insert into public.organizations (slug, name, status)
    select 'reg_' || lpad(i::text, 2, '0'), 'Registry only ' || i, 'suspended' from generate_series(1, 30) i`;
  await db.sql`analyze`;
}, 120_000);

afterAll(async () => {
  await db?.end();
  await scratch?.drop();
}, DROP_TIMEOUT_MS);

describe('listTenantsPage', () => {
  it('answers each page, searched, filtered and ordered by any column, in one query', async () => {
    for (const sort of ['slug', 'name', 'created', 'status', 'size', 'activity', 'version'] as const) {
      db.statements = 0;
      const page = await listTenantsPage({ db, sort, page: 2, pageSize: 10 });
      expect(db.statements, sort).toBe(1);
      expect(page).toMatchObject({ total: 34, page: 2, pageSize: 10, pages: 4 });
      expect(page.tenants, sort).toHaveLength(10);
    }
    db.statements = 0;
    const searched = await listTenantsPage({ db, search: 'REG_1', status: 'suspended', sort: 'size' });
    expect(db.statements).toBe(1);
    expect(searched.tenants.map((t) => t.slug)).toEqual([
      'reg_10',
      'reg_11',
      'reg_12',
      'reg_13',
      'reg_14',
      'reg_15',
      'reg_16',
      'reg_17',
      'reg_18',
      'reg_19',
    ]);
  });

  it('orders by size and activity over every tenant, and reports each schema', async () => {
    const bySize = await listTenantsPage({ db, sort: 'size', pageSize: 5 });
    expect(bySize.tenants[0]).toMatchObject({ slug: 'bravo', schemaExists: true, migrationVersion: 13 });
    expect(bySize.tenants[0]!.sizeBytes).toBeGreaterThan(bySize.tenants[1]!.sizeBytes);
    // A backend's statistics reach the shared counters when it has been idle a moment (at most every second).
    let byActivity = await listTenantsPage({ db, sort: 'activity', pageSize: 1 });
    for (let i = 0; i < 50 && byActivity.tenants[0]!.activity < 2000; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      byActivity = await listTenantsPage({ db, sort: 'activity', pageSize: 1 });
    }
    expect(byActivity.tenants[0]).toMatchObject({ slug: 'bravo', activity: expect.any(Number) });
    expect(byActivity.tenants[0]!.activity).toBeGreaterThanOrEqual(2000);
    const registryOnly = await listTenantsPage({ db, search: 'reg_01' });
    expect(registryOnly.tenants).toEqual([
      expect.objectContaining({ slug: 'reg_01', schemaExists: false, sizeBytes: 0, activity: 0, migrationVersion: null }),
    ]);
  });

  it('takes % and _ in a search literally', async () => {
    expect((await listTenantsPage({ db, search: '100%' })).tenants.map((t) => t.slug)).toEqual(['delta']);
    expect((await listTenantsPage({ db, search: 'a_p' })).total).toBe(0);
    expect((await listTenantsPage({ db, search: '%' })).total).toBe(1);
  });

  it('says how many match on a page past the last one', async () => {
    const past = await listTenantsPage({ db, page: 99, pageSize: 50 });
    expect(past).toMatchObject({ tenants: [], total: 34, pages: 1 });
  });
});

describe('describeTenant', () => {
  it('shows the tables, the applied migrations and the role, with secret-looking settings redacted', async () => {
    const t = await describeTenant('delta', { db });
    expect(t).toMatchObject({
      slug: 'delta',
      schema: 'tenant_delta',
      schemaExists: true,
      roleMode: 'set-role',
      roleExists: true,
    });
    expect(t.settings).toEqual({ theme: 'x', nested: { apiToken: '[redacted]' } });
    expect(t.migrations.map((m) => m.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    expect(t.migrations[0]!.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(t.tables.map((x) => x.name)).toContain('orders');
    expect(JSON.stringify(t)).not.toContain('s3cr3t');
  });

  it('refuses an unknown tenant (typed) and a malformed slug before any query', async () => {
    await expect(describeTenant('nosuch', { db })).rejects.toBeInstanceOf(TenantNotFoundError);
    db.statements = 0;
    await expect(describeTenant('Bad-Slug', { db })).rejects.toBeInstanceOf(InvalidSlugError);
    expect(db.statements).toBe(0);
  });
});

describe('operator actions and activity', () => {
  it('records actions newest first, per tenant, with secrets redacted from the detail', async () => {
    await recordOperatorAction({ action: 'suspend', tenant: 'alpha', actor: 'ops', outcome: 'ok' }, { db });
    await recordOperatorAction(
      { action: 'migrate', tenant: 'bravo', actor: 'ops', outcome: 'failed', detail: 'postgres://app:hunter2@db/x refused' },
      { db },
    );
    const all = await listOperatorActions({ db });
    expect(all.map((a) => [a.action, a.tenant, a.outcome])).toEqual([
      ['migrate', 'bravo', 'failed'],
      ['suspend', 'alpha', 'ok'],
    ]);
    expect(all[0]!.detail).not.toContain('hunter2');
    expect((await listOperatorActions({ db, tenant: 'alpha' })).map((a) => a.action)).toEqual(['suspend']);
  });

  it('snapshots every tenant schema in one query: rows read in a scope show up in the next snapshot', async () => {
    db.statements = 0;
    const before = await snapshotTenantStats({ db });
    expect(db.statements).toBe(1);
    expect(Object.keys(before.schemas).sort()).toEqual(['tenant_alpha', 'tenant_bravo', 'tenant_charlie', 'tenant_delta']);
    expect(before.schemas.tenant_bravo!.sizeBytes).toBeGreaterThan(before.schemas.tenant_alpha!.sizeBytes);
    await db.withTenant('bravo', (sql) => sql`select count(*) from customers`);
    // as above: the counters move a moment after the scope ends
    let after = await snapshotTenantStats({ db });
    for (let i = 0; i < 30 && after.rows <= before.rows; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      after = await snapshotTenantStats({ db });
    }
    expect(after.rows).toBeGreaterThanOrEqual(before.rows + 2000);
    expect(after.schemas.tenant_bravo!.activity).toBeGreaterThanOrEqual(before.schemas.tenant_bravo!.activity + 2000);
  });

  it('pages from a snapshot read no catalog, and order as the catalog does', async () => {
    const stats = await snapshotTenantStats({ db });
    for (const sort of ['size', 'activity', 'slug'] as const) {
      db.statements = 0;
      const fromSnapshot = await listTenantsPage({ db, stats, sort, pageSize: 5 });
      expect(db.statements).toBe(1);
      const fromCatalog = await listTenantsPage({ db, sort, pageSize: 5 });
      expect(
        fromSnapshot.tenants.map((t) => t.slug),
        sort,
      ).toEqual(fromCatalog.tenants.map((t) => t.slug));
      expect(fromSnapshot.total).toBe(34);
    }
    const stale = { ...stats, schemas: { ...stats.schemas, tenant_alpha: { sizeBytes: 1e12, activity: 0 } } };
    expect((await listTenantsPage({ db, stats: stale, sort: 'size', pageSize: 1 })).tenants[0]).toMatchObject({
      slug: 'alpha',
      sizeBytes: 1e12,
    });
  });
});

describe('readOnlySession', () => {
  it('makes every later transaction of the embedded database read-only', async () => {
    const embedded = new Database({ dataDir: ':memory:' });
    try {
      await embedded.query({ text: 'create table t (a int)' });
      await readOnlySession(embedded);
      await expect(embedded.query({ text: 'insert into t values (1)' })).rejects.toMatchObject({ sqlState: '25006' });
      expect((await embedded.query({ text: 'select count(*)::int as n from t' })).rows[0]).toEqual({ n: 0 });
    } finally {
      await embedded.end();
    }
  });
});
