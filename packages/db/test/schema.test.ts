import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, createTenant, setupDatabase } from '../src/index.js';
import { DEFAULT_TENANT_DIR } from '../src/migrations/runner.js';
import { createTestDatabase, type TestDatabase, DROP_TIMEOUT_MS } from './helpers/database.js';

const run = promisify(execFile);

/** The spec's "Public Schema Tables Detail", column by column, with the type PostgreSQL reports. */
const SPEC_COLUMNS: Record<string, Record<string, string>> = {
  organizations: {
    id: 'uuid',
    slug: 'text',
    name: 'text',
    settings: 'jsonb',
    shopify_store_domain: 'text',
    shopify_access_token: 'text',
    stripe_account_id: 'text',
    status: 'organization_status',
    created_at: 'timestamp with time zone',
    updated_at: 'timestamp with time zone',
  },
  users: {
    id: 'uuid',
    organization_id: 'uuid',
    email: 'text',
    password_hash: 'text',
    role: 'user_role',
    status: 'user_status',
    created_at: 'timestamp with time zone',
    updated_at: 'timestamp with time zone',
  },
  sessions: {
    id: 'uuid',
    user_id: 'uuid',
    organization_id: 'uuid',
    token_hash: 'text',
    expires_at: 'timestamp with time zone',
    ip_address: 'text',
    user_agent: 'text',
    created_at: 'timestamp with time zone',
    revoked_at: 'timestamp with time zone',
  },
  api_keys: {
    id: 'uuid',
    organization_id: 'uuid',
    key_hash: 'text',
    name: 'text',
    scopes: 'text[]',
    expires_at: 'timestamp with time zone',
    last_used_at: 'timestamp with time zone',
    created_at: 'timestamp with time zone',
    revoked_at: 'timestamp with time zone',
  },
  magic_links: {
    id: 'uuid',
    email: 'text',
    token_hash: 'text',
    purpose: 'magic_link_purpose',
    expires_at: 'timestamp with time zone',
    used_at: 'timestamp with time zone',
    created_at: 'timestamp with time zone',
  },
  billing: { id: 'uuid', organization_id: 'uuid' },
};
const SPEC_ENUMS: Record<string, string[]> = {
  organization_status: ['active', 'suspended', 'onboarding'],
  user_role: ['owner', 'admin', 'member'],
  user_status: ['active', 'invited', 'disabled'],
  magic_link_purpose: ['login', 'signup', 'invite'],
};
const SPEC_TENANT_TABLES = ['orders', 'customers', 'products', 'creators', 'payouts', 'reviews', 'blog_posts'];

describe('the schemas', () => {
  let scratch: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    scratch = await createTestDatabase('cgk_schema');
    db = new Database({ url: scratch.url });
    await setupDatabase({ db });
    await createTenant({ slug: 'first' }, { db });
    await db.sql`insert into public.organizations (slug, name) values ('between', 'made between the two tenants')`;
    await createTenant({ slug: 'second' }, { db });
  });
  afterAll(async () => {
    await db?.end();
    await scratch?.drop();
  }, DROP_TIMEOUT_MS);

  it("has every table and column of the spec, with its type, and the enums' values", async () => {
    const { rows } = await db.sql<{ table_name: string; column_name: string; type: string }>`
      select c.table_name, c.column_name, format_type(a.atttypid, a.atttypmod) as type
      from information_schema.columns c
      join pg_attribute a on a.attrelid = ('public.' || c.table_name)::regclass and a.attname = c.column_name
      where c.table_schema = 'public'`;
    for (const [table, columns] of Object.entries(SPEC_COLUMNS)) {
      for (const [column, type] of Object.entries(columns)) {
        expect(rows.find((r) => r.table_name === table && r.column_name === column)?.type, `${table}.${column}`).toBe(type);
      }
    }
    for (const [name, values] of Object.entries(SPEC_ENUMS)) {
      const { rows: labels } = await db.sql<{
        label: string;
      }>`select enumlabel as label from pg_enum where enumtypid = ${`public.${name}`}::regtype order by enumsortorder`;
      expect(
        labels.map((l) => l.label),
        name,
      ).toEqual(values);
    }
  });

  it('has the indexes the platform needs', async () => {
    const { rows } = await db.sql<{ indexdef: string }>`select indexdef from pg_indexes where schemaname = 'public'`;
    const defs = rows.map((r) => r.indexdef).join('\n');
    expect(defs).toMatch(/UNIQUE INDEX \S+ ON public\.organizations USING btree \(slug\)/);
    expect(defs).toMatch(/UNIQUE INDEX \S+ ON public\.sessions USING btree \(token_hash\)/);
    expect(defs).toMatch(/UNIQUE INDEX \S+ ON public\.api_keys USING btree \(key_hash\)/);
    expect(defs).toMatch(/UNIQUE INDEX \S+ ON public\.users USING btree \(organization_id, lower\(email\)\)/);
    expect(defs).toMatch(/ON public\.magic_links USING btree \(token_hash\)/);
  });

  it('gives every table, public and tenant, created_at and updated_at timestamptz not null default now()', async () => {
    const { rows } = await db.sql<{ table_schema: string; table_name: string; ok: boolean }>`
      select t.table_schema, t.table_name,
        bool_or(c.column_name = 'created_at' and c.data_type = 'timestamp with time zone' and c.is_nullable = 'NO' and c.column_default = 'now()')
        and bool_or(c.column_name = 'updated_at' and c.data_type = 'timestamp with time zone' and c.is_nullable = 'NO' and c.column_default = 'now()') as ok
      from information_schema.tables t join information_schema.columns c using (table_schema, table_name)
      where t.table_schema in ('public', 'tenant_first') and t.table_type = 'BASE TABLE'
        and t.table_name not in ('schema_migrations', 'tenant_migration_state')
      group by 1, 2`;
    expect(rows.length).toBeGreaterThanOrEqual(6 + 11);
    expect(rows.filter((r) => !r.ok)).toEqual([]);
    const tenantTables = rows.filter((r) => r.table_schema === 'tenant_first').map((r) => r.table_name);
    expect(tenantTables).toEqual(expect.arrayContaining(SPEC_TENANT_TABLES));
  });

  it('moves updated_at on every UPDATE, in public and in a tenant', async () => {
    // Rows inserted with an old updated_at (a BEFORE UPDATE trigger does not touch inserts), then updated.
    await db.sql`insert into public.organizations (slug, name, updated_at) values ('stale', 'stale', '2000-01-01')`;
    await db.sql`update public.organizations set name = 'fresh' where slug = 'stale'`;
    const org = await db.sql<{ at: Date }>`select updated_at as at from public.organizations where slug = 'stale'`;
    expect(org.rows[0]!.at.getFullYear()).toBeGreaterThan(2000);
    const years = await db.withTenant('first', async (sql) => {
      await sql`insert into customers (email, updated_at) values ('c@example.com', '2000-01-01')`;
      await sql`update customers set first_name = 'C'`;
      return (await sql<{ y: number }>`select extract(year from updated_at)::int as y from customers`).rows[0]!.y;
    });
    expect(years).toBeGreaterThan(2000);
  });

  it('makes tenants created at different times structurally identical (pg_dump -s)', async () => {
    const dump = async (schema: string) => {
      const { stdout } = await run('pg_dump', ['--schema-only', '--no-owner', '--no-privileges', '-n', schema, scratch.url], {
        maxBuffer: 64 << 20,
      });
      return stdout
        .split('\n')
        .filter((line) => !/^\\(un)?restrict /.test(line))
        .join('\n')
        .replaceAll(schema, 'TENANT');
    };
    const [first, second] = await Promise.all([dump('tenant_first'), dump('tenant_second')]);
    expect(first.length).toBeGreaterThan(1000);
    expect(second).toBe(first);
    expect(first).not.toMatch(/\bpublic\./);
  });

  it('keeps a tenant schema self-contained: nothing in it depends on another schema', async () => {
    const schema = 'tenant_first';
    const foreignKeys = await db.sql`
      select c.conname from pg_constraint c join pg_class r on r.oid = c.conrelid join pg_class fr on fr.oid = c.confrelid
      where r.relnamespace = ${schema}::regnamespace and c.contype = 'f' and fr.relnamespace <> ${schema}::regnamespace`;
    expect(foreignKeys.rows).toEqual([]);
    const types = await db.sql`
      select cl.relname, a.attname, tn.nspname from pg_attribute a
      join pg_class cl on cl.oid = a.attrelid join pg_type t on t.oid = a.atttypid join pg_namespace tn on tn.oid = t.typnamespace
      where cl.relnamespace = ${schema}::regnamespace and a.attnum > 0 and not a.attisdropped and tn.nspname not in ('pg_catalog', ${schema})`;
    expect(types.rows).toEqual([]);
    const triggers = await db.sql`
      select tg.tgname from pg_trigger tg join pg_class cl on cl.oid = tg.tgrelid join pg_proc p on p.oid = tg.tgfoid
      where cl.relnamespace = ${schema}::regnamespace and not tg.tgisinternal and p.pronamespace <> ${schema}::regnamespace`;
    expect(triggers.rows).toEqual([]);
    const depends = await db.sql<{ what: string; on: string }>`
      with objs as (
        select 'pg_class'::regclass as classid, c.oid as objid from pg_class c where c.relnamespace = ${schema}::regnamespace
        union all select 'pg_type'::regclass, t.oid from pg_type t where t.typnamespace = ${schema}::regnamespace
        union all select 'pg_proc'::regclass, p.oid from pg_proc p where p.pronamespace = ${schema}::regnamespace
        union all select 'pg_constraint'::regclass, co.oid from pg_constraint co where co.connamespace = ${schema}::regnamespace
        union all select 'pg_trigger'::regclass, tg.oid from pg_trigger tg join pg_class c on c.oid = tg.tgrelid where c.relnamespace = ${schema}::regnamespace
        union all select 'pg_attrdef'::regclass, ad.oid from pg_attrdef ad join pg_class c on c.oid = ad.adrelid where c.relnamespace = ${schema}::regnamespace)
      select pg_describe_object(d.classid, d.objid, 0) as what, pg_describe_object(d.refclassid, d.refobjid, 0) as on
      from pg_depend d join objs o on o.classid = d.classid and o.objid = d.objid
      where d.deptype <> 'p' and case d.refclassid
        when 'pg_class'::regclass then (select relnamespace from pg_class where oid = d.refobjid)
        when 'pg_type'::regclass then (select typnamespace from pg_type where oid = d.refobjid)
        when 'pg_proc'::regclass then (select pronamespace from pg_proc where oid = d.refobjid)
        when 'pg_constraint'::regclass then (select connamespace from pg_constraint where oid = d.refobjid)
        when 'pg_namespace'::regclass then d.refobjid
        when 'pg_collation'::regclass then (select collnamespace from pg_collation where oid = d.refobjid)
        else 'pg_catalog'::regnamespace::oid end not in (${schema}::regnamespace::oid, 'pg_catalog'::regnamespace::oid)`;
    expect(depends.rows).toEqual([]);
  });

  it('has tenant migration files that never name a schema or control transactions', async () => {
    const files = (await readdir(DEFAULT_TENANT_DIR)).filter((f) => f.endsWith('.sql'));
    expect(files.length).toBeGreaterThanOrEqual(11);
    for (const file of files) {
      const text = (await readFile(join(DEFAULT_TENANT_DIR, file), 'utf8')).replace(/--.*$/gm, '');
      expect(text, file).not.toMatch(/\b(public|tenant_\w+|pg_temp)\s*\./i);
      expect(text, file).not.toMatch(/\bsearch_path\b/i);
      expect(text, file).not.toMatch(/^\s*(BEGIN|COMMIT|ROLLBACK)\s*;/im);
    }
  });

  it('keeps tenant business data out of public', async () => {
    const { rows } = await db.sql<{ table_name: string }>`
      select table_name::text from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1`;
    expect(rows.map((r) => r.table_name)).toEqual([
      'api_keys',
      'billing',
      'fleet_run_tenants',
      'fleet_runs',
      'magic_links',
      'operator_actions',
      'organizations',
      'schema_migrations',
      'sessions',
      'tenant_limits',
      'tenant_migration_state',
      'users',
    ]);
  });
});
