import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Database,
  ExportFileError,
  ExportIncompatibleError,
  QueryError,
  TenantExistsError,
  TransferUnsupportedError,
  createTenant,
  exportTenant,
  importTenant,
  setupDatabase,
  verifyTenantExport,
} from '../src/index.js';
import { tenantRoleName } from '../src/roles/tenant-role.js';
import { createAppDatabase, type AppDatabase, DROP_TIMEOUT_MS } from './helpers/database.js';
import { contentDigest, fillTenant, tenantDirWithKitchenSink } from './helpers/transfer.js';

// Export and import between two databases, each reached as an ordinary (non-superuser) application role.

const denied = async (run: Promise<unknown>) => {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(QueryError);
  expect((error as QueryError).sqlState).toBe('42501');
};

describe('tenant export and import (pg)', () => {
  let one: AppDatabase;
  let two: AppDatabase;
  let src: Database;
  let dst: Database;
  let sinkDir: string;
  const work = mkdtempSync(join(tmpdir(), 'cgk-transfer-test-'));
  const file = join(work, 'a.cgk');

  beforeAll(async () => {
    [one, two] = await Promise.all([createAppDatabase('cgk_xfer1'), createAppDatabase('cgk_xfer2')]);
    src = new Database({ url: one.url, tenantRoles: true });
    dst = new Database({ url: two.url, tenantRoles: true });
    sinkDir = await tenantDirWithKitchenSink();
    await Promise.all([setupDatabase({ db: src }), setupDatabase({ db: dst })]);
    await createTenant({ slug: 'a', name: 'Ä Inc.', settings: { theme: 'dark' } }, { db: src, tenantDir: sinkDir });
    await createTenant({ slug: 'other' }, { db: dst, tenantDir: sinkDir });
    await fillTenant(src, 'a', 60);
    await src.sql`insert into public.users (organization_id, email, role)
      select id, 'owner@example.com', 'owner' from public.organizations where slug = 'a'`;
  }, 120_000);
  afterAll(async () => {
    await src?.end();
    await dst?.end();
    await rm(work, { recursive: true, force: true });
    await Promise.all([one?.drop(), two?.drop()]);
  }, DROP_TIMEOUT_MS);

  /** Every trace of a tenant in `db`: registry row, schema, role. */
  async function traces(db: Database, database: string, slug: string) {
    const { rows } = await db.sql<{ org: boolean; schema: boolean; role: boolean }>`
      select exists (select 1 from public.organizations where slug = ${slug}) as org,
             to_regnamespace(${`tenant_${slug}`}) is not null as schema,
             exists (select 1 from pg_roles where rolname = ${tenantRoleName(slug, database)}) as role`;
    return rows[0]!;
  }

  it('exports a tenant to one file whose manifest counts and checksums every table', async () => {
    const result = await exportTenant('a', { db: src, out: file });
    expect(result.bytes).toBe((await stat(file)).size);
    const byName = Object.fromEntries(result.manifest.tables.map((t) => [t.name, t]));
    expect(byName.customers).toMatchObject({ rows: 60, kind: 'tenant', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(byName.order_line_items?.rows).toBe(120);
    expect(byName.kitchen_sink?.rows).toBe(60);
    expect(byName['public.users']).toMatchObject({ rows: 1, kind: 'platform' });
    expect(byName.schema_migrations).toBeUndefined();
    const verified = await verifyTenantExport(file);
    expect(verified.header.migrations.tenant).toHaveLength(14);
    expect(verified.header.organization).toMatchObject({ slug: 'a', name: 'Ä Inc.', settings: { theme: 'dark' } });
    expect(verified.header.sequences).toEqual([{ name: 'kitchen_sink_id_seq', lastValue: '60', isCalled: true }]);
  });

  it('imports it as another tenant into a second database, row for row, with its own isolated role', async () => {
    const result = await importTenant(file, { db: dst, as: 'b', tenantDir: sinkDir });
    expect(result).toMatchObject({ organizationIdKept: true, migrationsForward: 0 });
    expect(result.tenant).toMatchObject({ slug: 'b', name: 'Ä Inc.', status: 'active' });
    expect(await contentDigest(dst, 'b')).toEqual(await contentDigest(src, 'a'));
    // The same content checksums when b is exported in turn.
    const again = await exportTenant('b', { db: dst, out: join(work, 'b.cgk') });
    const sums = (m: typeof again.manifest) => m.tables.map((t) => `${t.name}:${t.rows}:${t.sha256}`);
    expect(sums(again.manifest)).toEqual(sums(result.manifest));
    // Keys, indexes (and their comments), foreign keys and sequences are back.
    const { rows: objects } = await dst.sql<{ n: number; comment: string }>`select
      (select count(*)::int from pg_indexes where schemaname = 'tenant_b') as n,
      obj_description('tenant_b.kitchen_sink_note_idx'::regclass, 'pg_class') as comment`;
    const { rows: original } = await src.sql<{
      n: number;
    }>`select count(*)::int as n from pg_indexes where schemaname = 'tenant_a'`;
    expect(objects[0]).toEqual({ n: original[0]!.n, comment: 'kept across an import' });
    await expect(
      dst.sql`insert into tenant_b.orders (customer_id, currency) values (gen_random_uuid(), 'EUR')`,
    ).rejects.toMatchObject({
      sqlState: '23503',
    });
    const next = await dst.withTenant(
      'b',
      (sql) => sql<{ id: string }>`insert into kitchen_sink (note) values ('n') returning id::text`,
    );
    expect(next.rows[0]!.id).toBe('61');
    const users = await dst.sql<{ email: string }>`select u.email from public.users u
      join public.organizations o on o.id = u.organization_id where o.slug = 'b'`;
    expect(users.rows).toEqual([{ email: 'owner@example.com' }]);
  });

  it('keeps the imported tenant isolated: its own role, its own tables only, no platform tables, no DDL', async () => {
    const who = await dst.withTenant('b', (sql) => sql<{ who: string }>`select current_user as who`);
    expect(who.rows[0]!.who).toBe(tenantRoleName('b', two.name));
    await denied(dst.withTenant('b', (sql) => sql`select * from tenant_other.orders`));
    await denied(dst.withTenant('b', (sql) => sql`delete from tenant_other.customers`));
    await denied(dst.withTenant('other', (sql) => sql`select * from tenant_b.customers`));
    for (const table of ['users', 'sessions', 'api_keys', 'organizations']) {
      await denied(dst.withTenant('b', (sql) => sql.query(`select * from public.${table}`)));
    }
    await denied(dst.withTenant('b', (sql) => sql`select * from schema_migrations`));
    await denied(dst.withTenant('b', (sql) => sql`create table scratch (id int)`));
    await denied(dst.withTenant('b', (sql) => sql`alter table orders add column pwned int`));
    const own = await dst.withTenant('b', async (sql) => {
      await sql`update customers set first_name = 'X' where email = 'c1@example.com'`;
      return (await sql<{ n: number }>`select count(*)::int as n from orders`).rows[0]!.n;
    });
    expect(own).toBe(60);
  });

  it('imports beside the original in the same database under a new organization id, without its platform rows', async () => {
    const result = await importTenant(file, { db: src, as: 'a_copy', tenantDir: sinkDir });
    expect(result.organizationIdKept).toBe(false);
    expect(await contentDigest(src, 'a_copy')).toEqual(await contentDigest(src, 'a'));
    const { rows } = await src.sql<{ n: number }>`select count(*)::int as n from public.users u
      join public.organizations o on o.id = u.organization_id where o.slug = 'a_copy'`;
    expect(rows[0]!.n).toBe(0);
    await expect(importTenant(file, { db: src, as: 'a_copy', tenantDir: sinkDir })).rejects.toBeInstanceOf(TenantExistsError);
  });

  it('refuses a truncated file, typed, before writing anything', async () => {
    const whole = await readFile(file);
    for (const keep of [10, Math.floor(whole.length / 2), whole.length - 9]) {
      const cut = join(work, `cut-${keep}.cgk`);
      await writeFile(cut, whole.subarray(0, keep));
      const error = await importTenant(cut, { db: dst, as: 'cut', tenantDir: sinkDir }).catch((e: unknown) => e);
      expect(error, `kept ${keep} bytes`).toBeInstanceOf(ExportFileError);
      expect((error as ExportFileError).code).toBe('CGK_EXPORT_INVALID');
      expect((error as ExportFileError).reason).toBe('truncated');
    }
    expect(await traces(dst, two.name, 'cut')).toEqual({ org: false, schema: false, role: false });
  });

  it('refuses an edited file (a row changed, then recompressed; or a damaged byte), typed, before writing anything', async () => {
    const plain = gunzipSync(await readFile(file));
    const at = plain.indexOf('c17@example.com');
    expect(at).toBeGreaterThan(0);
    const edited = Buffer.from(plain);
    edited.write('c71', at);
    await writeFile(join(work, 'edited.cgk'), gzipSync(edited));
    const error = await importTenant(join(work, 'edited.cgk'), { db: dst, as: 'edited', tenantDir: sinkDir }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ExportFileError);
    expect((error as ExportFileError).reason).toBe('checksum');
    expect((error as Error).message).toMatch(/customers/);

    const damaged = Buffer.from(await readFile(file));
    damaged[Math.floor(damaged.length / 2)]! ^= 0xff;
    await writeFile(join(work, 'damaged.cgk'), damaged);
    await expect(importTenant(join(work, 'damaged.cgk'), { db: dst, as: 'edited', tenantDir: sinkDir })).rejects.toBeInstanceOf(
      ExportFileError,
    );
    await writeFile(join(work, 'plain.txt'), 'hello');
    await expect(verifyTenantExport(join(work, 'plain.txt'))).rejects.toMatchObject({ code: 'CGK_EXPORT_INVALID' });
    expect(await traces(dst, two.name, 'edited')).toEqual({ org: false, schema: false, role: false });
  });

  it('migrates an older export forward after loading, and refuses a newer one', async () => {
    const old = join(work, 'old.cgk');
    await createTenant({ slug: 'plain' }, { db: dst });
    await fillTenant(dst, 'plain', 5, false);
    await exportTenant('plain', { db: dst, out: old });
    const forward = await importTenant(old, { db: dst, as: 'plain_fwd', tenantDir: sinkDir });
    expect(forward.migrationsForward).toBe(1);
    const { rows } = await dst.sql<{ v: number }>`select max(version)::int as v from tenant_plain_fwd.schema_migrations`;
    expect(rows[0]!.v).toBe(14);
    const newer = await importTenant(file, { db: dst, as: 'newer' }).catch((e: unknown) => e);
    expect(newer).toBeInstanceOf(ExportIncompatibleError);
    expect((newer as ExportIncompatibleError).code).toBe('CGK_EXPORT_INCOMPATIBLE');
    expect(await traces(dst, two.name, 'newer')).toEqual({ org: false, schema: false, role: false });
  });

  it('rolls the whole import back when loading fails midway (nothing is left)', async () => {
    // The tenant's rows load, then its API key collides with one of another organization here (key hashes are unique).
    await createTenant({ slug: 'keyed' }, { db: src });
    await fillTenant(src, 'keyed', 10, false);
    await src.sql`insert into public.api_keys (organization_id, key_hash, name)
      select id, 'hash-k1', 'ci' from public.organizations where slug = 'keyed'`;
    await dst.sql`insert into public.api_keys (organization_id, key_hash, name)
      select id, 'hash-k1', 'theirs' from public.organizations where slug = 'other'`;
    const withKey = join(work, 'with-key.cgk');
    await exportTenant('keyed', { db: src, out: withKey });
    const failing = await importTenant(withKey, { db: dst, as: 'half' }).catch((e: unknown) => e);
    expect(failing).toBeInstanceOf(QueryError);
    expect((failing as QueryError).sqlState).toBe('23505');
    expect(await traces(dst, two.name, 'half')).toEqual({ org: false, schema: false, role: false });
    const { rows } = await dst.sql<{ n: number }>`select count(*)::int as n from public.api_keys`;
    expect(rows[0]!.n).toBe(1);
  });

  it('refuses the embedded database with a typed error', async () => {
    const embedded = new Database({ driver: 'pglite', dataDir: ':memory:' });
    try {
      await expect(exportTenant('a', { db: embedded, out: join(work, 'x.cgk') })).rejects.toBeInstanceOf(
        TransferUnsupportedError,
      );
      await expect(importTenant(file, { db: embedded })).rejects.toMatchObject({ code: 'CGK_TRANSFER_UNSUPPORTED' });
    } finally {
      await embedded.end();
    }
  });
});
