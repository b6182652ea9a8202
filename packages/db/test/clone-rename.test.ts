import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CgkError,
  TenantExistsError,
  TenantNotFoundError,
  cloneTenant,
  clearMigrationCache,
  createTenant,
  createTenantCache,
  dropTenant,
  migrateTenant,
  renameTenant,
} from '../src/index.js';
import { DROP_TIMEOUT_MS } from './helpers/database.js';
import { expectIsolated, openLifecycle, tenantDirWith, type LifecycleFixture } from './helpers/lifecycle.js';

// Clone, rename and names, on PostgreSQL as a non-superuser application role and on the embedded database.

/** A tenant migration with what a plain copy gets wrong: an identity column, a serial, a generated column, a self reference, an insert trigger. */
const COUNTERS = `create table counters (
  id bigint generated always as identity primary key,
  seq bigserial not null,
  parent_id bigint references counters (id),
  label text not null,
  doubled int generated always as (length(label) * 2) stored,
  stamped text
);
create function stamp() returns trigger language plpgsql as $$ begin new.stamped := 'inserted'; return new; end $$;
create trigger counters_stamp before insert on counters for each row execute function stamp();
`;

describe.each(['pg', 'pglite'] as const)('clone, rename and names, on %s', (target) => {
  let f: LifecycleFixture;
  let dir: Awaited<ReturnType<typeof tenantDirWith>>;

  beforeAll(async () => {
    f = await openLifecycle(target, 'cgk_clone');
    dir = await tenantDirWith({ '014_counters.sql': COUNTERS });
  }, 120_000);
  afterAll(async () => {
    await dir?.remove();
    await f?.teardown();
  }, DROP_TIMEOUT_MS);

  const opts = () => ({ db: f.db, tenantDir: dir.dir });

  async function fill(slug: string) {
    await f.db.withTenant(slug, async (sql) => {
      await sql`insert into customers (email) values ('one@example.com'), ('two@example.com')`;
      const { rows } = await sql<{ id: string }>`insert into counters (label) values ('root') returning id::text as id`;
      await sql`insert into counters (label, parent_id) values ('child', ${rows[0]!.id}), ('other', ${rows[0]!.id})`;
    });
  }

  async function snapshot(slug: string) {
    return f.db.withTenant(slug, async (sql) => ({
      customers: (await sql<{ email: string }>`select email from customers order by email`).rows,
      counters: (await sql`select id::text, seq::text, parent_id::text, label, doubled, stamped from counters order by id`).rows,
    }));
  }

  it('clones a tenant without its rows: the same migrations and tables, its own role, nothing shared', async () => {
    await createTenant({ slug: 'source', name: 'Source Inc.', settings: { theme: 'dark' } }, opts());
    await fill('source');
    const { tenant } = await cloneTenant('source', 'empty_copy', opts());
    expect(tenant).toMatchObject({ slug: 'empty_copy', name: 'Source Inc.' });
    expect(await snapshot('empty_copy')).toEqual({ customers: [], counters: [] });
    const { rows } = await f.db.sql<{ n: number }>`
      select count(*)::int as n from pg_attrdef d join pg_class c on c.oid = d.adrelid
      where c.relnamespace = 'tenant_empty_copy'::regnamespace and pg_get_expr(d.adbin, d.adrelid) like '%tenant_source%'`;
    expect(rows).toEqual([{ n: 0 }]);
    const shapes = await f.db.sql<{ schema: string; tables: string }>`
      select n.nspname::text as schema, string_agg(c.relname || ':' || c.relkind::text, ',' order by c.relname) as tables
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname in ('tenant_source', 'tenant_empty_copy') group by n.nspname order by 1`;
    expect(shapes.rows[0]!.tables).toBe(shapes.rows[1]!.tables);
    await expectIsolated(f, 'empty_copy', 'source');
  });

  it('clones a tenant with its rows, its sequences continued, all in one transaction', async () => {
    await cloneTenant('source', 'full_copy', { ...opts(), withData: true, name: 'Copy' });
    const [source, copy] = [await snapshot('source'), await snapshot('full_copy')];
    expect(copy).toEqual(source);
    expect(copy.counters).toHaveLength(3);
    const next = await f.db.withTenant(
      'full_copy',
      (sql) =>
        sql<{
          id: string;
          seq: string;
        }>`insert into counters (label) values ('after') returning id::text as id, seq::text as seq`,
    );
    expect(next.rows[0]).toEqual({ id: '4', seq: '4' });
    await expectIsolated(f, 'full_copy', 'source');
  });

  it('refuses a clone that cannot be made, leaving nothing', async () => {
    await expect(cloneTenant('source', 'full_copy', opts())).rejects.toBeInstanceOf(TenantExistsError);
    await expect(cloneTenant('nobody', 'copy2', opts())).rejects.toBeInstanceOf(TenantNotFoundError);
    await f.db.sql`create table tenant_source.by_hand (id int)`;
    const error = await cloneTenant('source', 'copy2', { ...opts(), withData: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CgkError);
    expect(error).toMatchObject({ code: 'CGK_CLONE_SOURCE', message: expect.stringContaining('by_hand') });
    await f.db.sql`drop table tenant_source.by_hand`;
    // Behind the files: the default template lacks 014_counters.
    const behind = await cloneTenant('source', 'copy2', { db: f.db }).catch((e: unknown) => e);
    expect(behind).toMatchObject({ code: 'CGK_CLONE_SOURCE', hint: expect.stringContaining('migrate') });
    expect(await f.traces('copy2')).toEqual({ org: false, schema: false, role: false });
  });

  it('renames a tenant: schema, role, registry and cache; the old slug is gone, isolation holds', async () => {
    const cache = { memory: true };
    await createTenantCache('full_copy', cache).set('greeting', 'hello');
    await createTenantCache('renamed', cache).set('stale', 'from a dropped tenant');
    const before = await snapshot('full_copy');
    const result = await renameTenant('full_copy', 'renamed', { db: f.db, cache });
    expect(result).toMatchObject({ tenant: { slug: 'renamed', name: 'Copy' }, cacheEntriesCleared: 1, warnings: [] });
    expect(await createTenantCache('full_copy', cache).get('greeting')).toBeUndefined();
    expect(await createTenantCache('renamed', cache).get('stale')).toBeUndefined();
    expect(await snapshot('renamed')).toEqual(before);
    expect(await f.traces('full_copy')).toEqual({ org: false, schema: false, role: false });
    expect(await f.traces('renamed')).toEqual({ org: true, schema: true, role: true });
    await expect(f.db.withTenant('full_copy', (sql) => sql`select 1`)).rejects.toBeInstanceOf(TenantNotFoundError);
    await expectIsolated(f, 'renamed', 'source');
    const statuses = (await migrateTenant(f.db, 'renamed', { tenantDir: dir.dir })).results.map((r) => r.status);
    expect(statuses.filter((s) => s === 'Success' || s === 'Error')).toEqual([]);
  });

  it('refuses a rename that cannot be made, changing nothing', async () => {
    await expect(renameTenant('renamed', 'source', { db: f.db, cache: false })).rejects.toBeInstanceOf(TenantExistsError);
    await expect(renameTenant('nobody', 'somebody', { db: f.db, cache: false })).rejects.toBeInstanceOf(TenantNotFoundError);
    await f.db.sql`create schema tenant_squatter`;
    await expect(renameTenant('renamed', 'squatter', { db: f.db, cache: false })).rejects.toBeInstanceOf(TenantExistsError);
    await f.db.sql`drop schema tenant_squatter`;
    expect(await f.traces('renamed')).toEqual({ org: true, schema: true, role: true });
    expect(await f.traces('squatter')).toEqual({ org: false, schema: false, role: false });
  });

  it.each(['select', 'user', 'table', 'pg_x', 'public', 'information_schema'])(
    'takes %s as a slug end to end: create, scope, migrate, drop',
    async (slug) => {
      clearMigrationCache();
      await createTenant({ slug, name: `The ${slug} shop` }, { db: f.db });
      await f.db.withTenant(slug, (sql) => sql`insert into customers (email) values (${`first.${slug}@example.com`})`);
      const { rows } = await f.db.withTenant(slug, (sql) => sql<{ email: string }>`select email from customers`);
      expect(rows).toEqual([{ email: `first.${slug}@example.com` }]);
      const migrated = await migrateTenant(f.db, slug, { tenantDir: dir.dir });
      expect(migrated.results.filter((r) => r.status === 'Success').map((r) => r.filename)).toEqual(['014_counters.sql']);
      await expectIsolated(f, slug, 'source');
      await dropTenant(slug, { confirm: true, db: f.db });
      expect(await f.traces(slug)).toEqual({ org: false, schema: false, role: false });
    },
  );
});
