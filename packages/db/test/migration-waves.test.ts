import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Database,
  InvalidSlugError,
  type MigrationError,
  MigrationFleetError,
  migrateTenants,
  TenantNotFoundError,
} from '../src/index.js';
import { createTestDatabase, DROP_TIMEOUT_MS, type TestDatabase } from './helpers/database.js';
import { fixtureDirs } from './helpers/migrations.js';

/**
 * Migration waves (issue #27): `slugs` selects tenants, `canary` migrates N first and stops when any fails,
 * `maxFailures` stops the fleet after N failed tenants, `lockTimeout` makes a tenant whose table is locked by
 * traffic fail fast. Tenants never started are untouched: no tracking table, no summary row.
 */

const fixtures = fixtureDirs();
afterAll(() => fixtures.cleanup());

/** 001 creates a table; 002 fails (division by zero) in the tenants that have a table named `boom`. */
const FILES = fixtures.dir({
  '001_orders.sql': 'create table orders (id int);\n',
  '002_check.sql': "insert into orders select 1 / (case when to_regclass('boom') is null then 1 else 0 end);\n",
});

describe('migration waves (pg)', () => {
  let database: TestDatabase;
  let db: Database;
  const rows = async (text: string, values: unknown[] = []) => (await db.query({ text, values })).rows;
  /** A registry of its own (`public.<name>(slug)`) with a schema per slug. */
  const fleet = async (name: string, slugs: string[], failing: string[] = []) => {
    const schemas = slugs
      .map((s) => `create schema tenant_${s}; insert into public.${name} values ('${s}');`)
      .concat(failing.map((s) => `create table tenant_${s}.boom ();`))
      .join('\n');
    await (await db.driver()).exec(`create table public.${name} (slug text primary key);\n${schemas}`);
    return { table: name };
  };
  /** The slugs whose schema has a tracking table or a summary row: the ones the run touched. */
  const touched = async (slugs: string[]) => {
    const found = await rows(
      `select s as slug from unnest($1::text[]) s
       where to_regclass('tenant_' || s || '.schema_migrations') is not null
          or exists (select 1 from public.tenant_migration_state m where m.schema_name = 'tenant_' || s)
       order by 1`,
      [slugs],
    );
    return found.map((r) => r.slug);
  };

  beforeAll(async () => {
    database = await createTestDatabase('cgk_waves');
    db = new Database({ url: database.url });
  });
  afterAll(async () => {
    await db?.end();
    await database?.drop();
  }, DROP_TIMEOUT_MS);

  it('canary: the first N tenants go first; one fails, so the rest stays untouched', async () => {
    const slugs = ['cn_a', 'cn_b', 'cn_c', 'cn_d', 'cn_e', 'cn_f'];
    const tenants = await fleet('canary_fleet', slugs, ['cn_b']);
    const result = await migrateTenants(db, {
      tenantDir: FILES,
      tenants,
      canary: 2,
      concurrency: 4,
      sets: { tenant: [] },
    });
    expect(result.stopped).toBe('canary');
    expect(result.tenants.map((t) => [t.slug, t.status])).toEqual([
      ['cn_a', 'Success'],
      ['cn_b', 'Error'],
    ]);
    expect(result.notStarted).toBe(4);
    expect(result.error).toBeInstanceOf(MigrationFleetError);
    expect(await touched(slugs)).toEqual(['cn_a', 'cn_b']);
    // A canary that passes lets the rest through.
    await rows('drop table tenant_cn_b.boom');
    const again = await migrateTenants(db, { tenantDir: FILES, tenants, canary: 2, concurrency: 4, sets: { tenant: [] } });
    expect(again.stopped).toBeUndefined();
    expect(again.failed).toEqual([]);
    expect(again.tenants).toHaveLength(5);
    expect(await touched(slugs)).toEqual(slugs);
  });

  it('max failures: no tenant is started after the Nth failure', async () => {
    const slugs = ['mf_a', 'mf_b', 'mf_c', 'mf_d', 'mf_e', 'mf_f'];
    const tenants = await fleet('maxfail_fleet', slugs, ['mf_b', 'mf_d', 'mf_e']);
    const result = await migrateTenants(db, {
      tenantDir: FILES,
      tenants,
      maxFailures: 2,
      concurrency: 1,
      sets: { tenant: [] },
    });
    expect(result.stopped).toBe('max-failures');
    expect(result.failed.map((t) => t.slug)).toEqual(['mf_b', 'mf_d']);
    expect(result.notStarted).toBe(2);
    expect(await touched(slugs)).toEqual(['mf_a', 'mf_b', 'mf_c', 'mf_d']);
    // Without the bound, every failure is reported and the others go on.
    const all = await migrateTenants(db, { tenantDir: FILES, tenants, sets: { tenant: [] } });
    expect(all.stopped).toBeUndefined();
    expect(all.failed.map((t) => t.slug)).toEqual(['mf_b', 'mf_d', 'mf_e']);
  });

  it('tenants: only the selected ones; an unknown or bad slug is refused before any work', async () => {
    const slugs = ['sel_a', 'sel_b', 'sel_c'];
    const tenants = await fleet('select_fleet', slugs);
    const dir = FILES;
    const result = await migrateTenants(db, { tenantDir: dir, tenants, slugs: ['sel_c', 'sel_a'], sets: { tenant: [] } });
    expect([result.total, result.pending]).toEqual([2, 2]);
    expect(result.tenants.map((t) => t.slug)).toEqual(['sel_a', 'sel_c']);
    expect(await touched(slugs)).toEqual(['sel_a', 'sel_c']);
    const missing = await migrateTenants(db, { tenantDir: dir, tenants, slugs: ['sel_b', 'nope'], sets: { tenant: [] } });
    expect(missing.error).toBeInstanceOf(TenantNotFoundError);
    expect(missing.error?.message).toMatch(/"nope"/);
    const bad = await migrateTenants(db, { tenantDir: dir, tenants, slugs: ['Bad-Slug'], sets: { tenant: [] } });
    expect(bad.error).toBeInstanceOf(InvalidSlugError);
    expect(await touched(slugs)).toEqual(['sel_a', 'sel_c']);
  });

  it('lock timeout: a tenant whose table is locked by traffic fails fast and is reported; the others go on', async () => {
    const slugs = ['lk_a', 'lk_b'];
    const tenants = await fleet('lock_fleet', slugs);
    const first = fixtures.dir({ '001_orders.sql': 'create table orders (id int);\n' });
    expect((await migrateTenants(db, { tenantDir: first, tenants, sets: { tenant: [] } })).failed).toEqual([]);
    const traffic = new pg.Client({ connectionString: database.url });
    await traffic.connect();
    try {
      await traffic.query('begin');
      await traffic.query('select * from tenant_lk_a.orders');
      const second = fixtures.dir({
        '001_orders.sql': 'create table orders (id int);\n',
        '002_note.sql': 'alter table orders add column note text;\n',
      });
      const started = performance.now();
      const result = await migrateTenants(db, { tenantDir: second, tenants, lockTimeout: 200, sets: { tenant: [] } });
      const took = performance.now() - started;
      expect(result.failed.map((t) => t.slug)).toEqual(['lk_a']);
      const error = result.failed[0]!.error!;
      expect(error.code).toBe('CGK_MIGRATION');
      expect(error.message).toMatch(/lock timeout/);
      expect((error as MigrationError).sqlState).toBe('55P03');
      expect(error.hint).toMatch(/lock-timeout/);
      expect(result.tenants.find((t) => t.slug === 'lk_b')?.status).toBe('Success');
      // Fast: bounded by the timeout, not by the traffic's transaction (still open).
      expect(took).toBeLessThan(20_000);
    } finally {
      await traffic.query('rollback').catch(() => undefined);
      await traffic.end();
    }
    const retry = await migrateTenants(db, {
      tenantDir: fixtures.dir({
        '001_orders.sql': 'create table orders (id int);\n',
        '002_note.sql': 'alter table orders add column note text;\n',
      }),
      tenants,
      lockTimeout: 200,
      sets: { tenant: [] },
    });
    expect(retry.failed).toEqual([]);
  });
});
