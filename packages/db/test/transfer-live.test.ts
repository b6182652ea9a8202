import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CgkError,
  Database,
  TenantExistsError,
  TenantNotFoundError,
  closeCache,
  createTenant,
  createTenantCache,
  diagnose,
  dropTenant,
  exportTenant,
  importTenant,
  moveTenant,
  setupDatabase,
} from '../src/index.js';
import { findLeftovers } from '../src/doctor/leftovers.js';
import { tenantRoleName } from '../src/roles/tenant-role.js';
import { createAppDatabase, type AppDatabase, DROP_TIMEOUT_MS } from './helpers/database.js';
import { fillTenant } from './helpers/transfer.js';

// Export, move and drop while the tenant is in use, and what a drop leaves behind (nothing).

/** A Redis database of this file's own, so other test files' keys do not show up as leftovers here. */
const REDIS_URL = `${(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379').replace(/\/\d*$/, '')}/11`;

describe('tenant transfer under traffic, and complete deletion (pg)', () => {
  let one: AppDatabase;
  let two: AppDatabase;
  let src: Database;
  let dst: Database;
  const work = mkdtempSync(join(tmpdir(), 'cgk-transfer-live-'));

  beforeAll(async () => {
    [one, two] = await Promise.all([createAppDatabase('cgk_live1'), createAppDatabase('cgk_live2')]);
    src = new Database({ url: one.url, tenantRoles: true });
    dst = new Database({ url: two.url, tenantRoles: true });
    await Promise.all([setupDatabase({ db: src }), setupDatabase({ db: dst })]);
  }, 120_000);
  afterAll(async () => {
    await closeCache();
    await src?.end();
    await dst?.end();
    await rm(work, { recursive: true, force: true });
    await Promise.all([one?.drop(), two?.drop()]);
  }, DROP_TIMEOUT_MS);

  async function traces(db: Database, database: string, slug: string) {
    const { rows } = await db.sql<{ org: boolean; schema: boolean; role: boolean }>`
      select exists (select 1 from public.organizations where slug = ${slug}) as org,
             to_regnamespace(${`tenant_${slug}`}) is not null as schema,
             exists (select 1 from pg_roles where rolname = ${tenantRoleName(slug, database)}) as role`;
    return rows[0]!;
  }

  it('takes a consistent export while writes go on (one snapshot across tables)', async () => {
    await createTenant({ slug: 'busy' }, { db: src });
    await fillTenant(src, 'busy', 20, false);
    await src.sql`update tenant_busy.customers set total_spent_cents = 100000000 where email = 'c2@example.com'`;
    let stop = false;
    let written = 0;
    // Each write: an order and its two lines together, and 100 cents moved between two customers.
    const writer = async () => {
      while (!stop) {
        await src.withTenant('busy', async (sql) => {
          const { rows } = await sql<{ id: string }>`insert into orders (currency) values ('EUR') returning id`;
          await sql`insert into order_line_items (order_id, title, quantity, unit_price_cents, total_cents, currency)
            select ${rows[0]!.id}, 'L', 1, 1, 1, 'EUR' from generate_series(1, 2)`;
          await sql`update customers set total_spent_cents = total_spent_cents + 100 where email = 'c1@example.com'`;
          await sql`update customers set total_spent_cents = total_spent_cents - 100 where email = 'c2@example.com'`;
        });
        written++;
      }
    };
    const writers = [writer(), writer(), writer()];
    while (written < 20) await new Promise((r) => setTimeout(r, 10));
    const file = join(work, 'busy.cgk');
    await exportTenant('busy', { db: src, out: file });
    const during = written;
    while (written < during + 20) await new Promise((r) => setTimeout(r, 10));
    stop = true;
    await Promise.all(writers);
    await importTenant(file, { db: dst, as: 'busy_copy' });
    const { rows } = await dst.sql<{ orders: number; lines: number; unmatched: number; spent: string }>`select
      (select count(*)::int from tenant_busy_copy.orders) as orders,
      (select count(*)::int from tenant_busy_copy.order_line_items) as lines,
      (select count(*)::int from tenant_busy_copy.orders o where (select count(*) from tenant_busy_copy.order_line_items l
         where l.order_id = o.id) <> 2) as unmatched,
      (select sum(total_spent_cents)::text from tenant_busy_copy.customers) as spent`;
    const original = await src.sql<{ spent: string }>`select sum(total_spent_cents)::text as spent from tenant_busy.customers`;
    expect(rows[0]!.unmatched).toBe(0);
    expect(rows[0]!.lines).toBe(rows[0]!.orders * 2);
    expect(rows[0]!.orders).toBeGreaterThan(20);
    expect(rows[0]!.spent).toBe(original.rows[0]!.spent);
  });

  it('moves a tenant to another database with writers running: no acknowledged write lost, none lands in the old place', async () => {
    await createTenant({ slug: 'mover', name: 'Mover' }, { db: src });
    await fillTenant(src, 'mover', 30, false);
    await src.sql`insert into public.users (organization_id, email) select id, 'm@example.com' from public.organizations where slug = 'mover'`;
    await createTenantCache('mover', { url: REDIS_URL }).set('k', 1);
    const acknowledged: string[] = [];
    const refused: unknown[] = [];
    let stop = false;
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const note = `w${w}-${i}`;
        try {
          await src.withTenant('mover', (sql) => sql`insert into orders (currency, note) values ('EUR', ${note})`);
          acknowledged.push(note);
        } catch (error) {
          refused.push(error);
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    };
    const writers = [0, 1, 2, 3].map(writer);
    while (acknowledged.length < 40) await new Promise((r) => setTimeout(r, 5));
    const moved = await moveTenant('mover', { db: src, to: two.url, workDir: work, cache: { url: REDIS_URL } });
    while (refused.length < 8) await new Promise((r) => setTimeout(r, 5));
    stop = true;
    await Promise.all(writers);

    expect(moved.tenant).toMatchObject({ slug: 'mover', name: 'Mover', status: 'active' });
    const { rows } = await dst.sql<{ note: string }>`select note from tenant_mover.orders where note like 'w%'`;
    const there = new Set(rows.map((r) => r.note));
    expect(acknowledged.filter((note) => !there.has(note))).toEqual([]);
    expect(there.size).toBe(acknowledged.length);
    for (const error of refused) expect(error).toBeInstanceOf(TenantNotFoundError);
    expect(await traces(src, one.name, 'mover')).toEqual({ org: false, schema: false, role: false });
    expect(await traces(dst, two.name, 'mover')).toEqual({ org: true, schema: true, role: true });
    const users = await dst.sql`select 1 from public.users where email = 'm@example.com'`;
    expect(users.rows).toHaveLength(1);
    expect(await createTenantCache('mover', { url: REDIS_URL }).get('k')).toBeUndefined();
  });

  it('refuses a move onto a database that has the slug, and leaves the tenant where and as it was', async () => {
    await createTenant({ slug: 'stay' }, { db: src });
    await createTenant({ slug: 'stay' }, { db: dst });
    await expect(moveTenant('stay', { db: src, to: dst })).rejects.toBeInstanceOf(TenantExistsError);
    await expect(moveTenant('stay', { db: src, to: one.url })).rejects.toBeInstanceOf(TenantExistsError);
    const { rows } = await src.sql`select status::text from public.organizations where slug = 'stay'`;
    expect(rows).toEqual([{ status: 'active' }]);
    await expect(moveTenant('nobody', { db: src, to: dst })).rejects.toBeInstanceOf(TenantNotFoundError);
  });

  it('drops a tenant completely: registry rows, schema, role, summary row and cache keys', async () => {
    await createTenant({ slug: 'gone' }, { db: src });
    await src.sql`insert into public.users (organization_id, email) select id, 'g@example.com' from public.organizations where slug = 'gone'`;
    const cache = createTenantCache('gone', { url: REDIS_URL });
    await cache.set('a', 1);
    await cache.set('b', 2);
    const result = await dropTenant('gone', { db: src, confirm: true, cache: { url: REDIS_URL } });
    expect(result).toEqual({ registryRow: true, schema: true, role: true, cacheKeysRemoved: 2 });
    expect(await traces(src, one.name, 'gone')).toEqual({ org: false, schema: false, role: false });
    const left = await src.sql`select 1 from public.users where email = 'g@example.com'
      union all select 1 from public.tenant_migration_state where schema_name = 'tenant_gone'`;
    expect(left.rows).toEqual([]);
    await expect(dropTenant('gone', { db: src, confirm: true, cache: { url: REDIS_URL } })).rejects.toBeInstanceOf(
      TenantNotFoundError,
    );
  });

  it('doctor finds every kind of leftover, and tenant:drop removes what is left', async () => {
    const driver = await src.driver();
    await createTenant({ slug: 'ghost_role' }, { db: src });
    await driver.exec(`delete from public.organizations where slug = 'ghost_role'; drop schema tenant_ghost_role cascade`);
    await driver.exec('create schema tenant_ghost_schema');
    await createTenantCache('ghost_cache', { url: REDIS_URL }).set('x', 1);
    const found = await findLeftovers(src, REDIS_URL);
    expect(found).toMatchObject({
      schemasWithoutRow: ['ghost_schema'],
      roles: [tenantRoleName('ghost_role', one.name)],
      summaryRows: ['ghost_role'],
      cacheSlugs: ['ghost_cache'],
    });
    const report = await diagnose({ db: src, env: { DATABASE_URL: one.url, REDIS_URL } });
    const check = report.checks.find((c) => c.name === 'leftovers');
    expect(check).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('ghost_schema'),
      hint: expect.stringContaining('tenant:drop'),
    });
    for (const slug of ['ghost_role', 'ghost_schema', 'ghost_cache']) {
      await dropTenant(slug, { db: src, confirm: true, cache: { url: REDIS_URL } });
    }
    expect(await findLeftovers(src, REDIS_URL)).toMatchObject({
      schemasWithoutRow: [],
      roles: [],
      summaryRows: [],
      cacheSlugs: [],
    });
    const after = await diagnose({ db: src, env: { DATABASE_URL: one.url, REDIS_URL } });
    expect(after.checks.find((c) => c.name === 'leftovers')).toMatchObject({ status: 'ok' });
  });

  it('a drop whose cache is unreachable says the database part is done, and a second run finishes it', async () => {
    await createTenant({ slug: 'half_gone' }, { db: src });
    const error = await dropTenant('half_gone', {
      db: src,
      confirm: true,
      cache: { url: 'redis://127.0.0.1:1/0', timeoutMs: 300 },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CgkError);
    expect((error as CgkError).code).toBe('CGK_CACHE');
    expect((error as CgkError).hint).toMatch(/tenant:drop half_gone --yes again/);
    expect(await traces(src, one.name, 'half_gone')).toEqual({ org: false, schema: false, role: false });
  });
});
