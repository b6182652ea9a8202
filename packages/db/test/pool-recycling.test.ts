import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../src/index.js';
import { DEFAULT_POOL_MAX_TENANTS, parsePoolSettings } from '../src/drivers/pool-settings.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';

describe('pooled connections are replaced after serving pool_max_tenants tenants (or pool_max_uses checkouts)', () => {
  let scratch: TestDatabase;
  beforeAll(async () => {
    scratch = await createTestDatabase('cgk_test_recycle');
    const admin = new Database({ url: scratch.url, tenantRoles: false });
    try {
      await admin.sql.query('create schema tenant_a; create schema tenant_b; create schema tenant_c; create schema tenant_d');
    } finally {
      await admin.end();
    }
  });
  afterAll(async () => {
    await scratch.drop();
  });

  /** The server process that answered a scope on `slug`. */
  const pidIn = async (db: Database, slug: string) =>
    Number((await db.withTenant(slug, (sql) => sql`select pg_backend_pid() as pid`)).rows[0]!.pid);
  const pid = async (db: Database) => Number((await db.sql`select pg_backend_pid() as pid`).rows[0]!.pid);

  it('reads pool_max_tenants, pool_max_uses and pool_max_lifetime; only the tenant bound is on by default', () => {
    const defaults = parsePoolSettings('postgres://h/db');
    expect(defaults.maxTenants).toBe(DEFAULT_POOL_MAX_TENANTS);
    expect(DEFAULT_POOL_MAX_TENANTS).toBeGreaterThan(0);
    expect(defaults).toMatchObject({ maxUses: 0, maxLifetimeSeconds: 0 });
    const set = parsePoolSettings('postgres://h/db?pool_max_tenants=5&pool_max_uses=7&pool_max_lifetime=90&sslmode=disable');
    expect(set).toMatchObject({ maxTenants: 5, maxUses: 7, maxLifetimeSeconds: 90 });
    const passed = new URL(set.connectionString);
    for (const name of ['pool_max_tenants', 'pool_max_uses', 'pool_max_lifetime'])
      expect(passed.searchParams.has(name)).toBe(false);
    expect(passed.searchParams.get('sslmode')).toBe('disable');
    expect(parsePoolSettings('postgres://h/db?pool_max_tenants=0').maxTenants).toBe(0);
    expect(() => parsePoolSettings('postgres://h/db?pool_max_tenants=many')).toThrow(/pool_max_tenants/);
  });

  it('closes a connection once it has served pool_max_tenants distinct tenants, whatever the number of scopes', async () => {
    const db = new Database({ url: `${scratch.url}?pool_max=1&pool_max_tenants=3`, tenantRoles: false });
    try {
      const first: number[] = [];
      for (const slug of ['a', 'b', 'a', 'b', 'a', 'b', 'a']) first.push(await pidIn(db, slug));
      expect(new Set(first).size).toBe(1); // two tenants: never replaced
      expect(await pidIn(db, 'c')).toBe(first[0]); // the third tenant is served, then the connection closes
      const second = await pidIn(db, 'd');
      expect(second).not.toBe(first[0]);
      // The new connection starts counting afresh: d, a, b are its three.
      expect(await pidIn(db, 'a')).toBe(second);
      expect(await pid(db)).toBe(second); // plain queries are not tenants
      expect(await pidIn(db, 'b')).toBe(second);
      expect(await pidIn(db, 'a')).not.toBe(second);
    } finally {
      await db.end();
    }
  });

  it('never replaces a connection for its tenants with pool_max_tenants=0', async () => {
    const db = new Database({ url: `${scratch.url}?pool_max=1&pool_max_tenants=0`, tenantRoles: false });
    try {
      const pids = new Set<number>();
      for (let i = 0; i < 3; i++) for (const slug of ['a', 'b', 'c', 'd']) pids.add(await pidIn(db, slug));
      expect(pids.size).toBe(1);
    } finally {
      await db.end();
    }
  });

  it('opens a new server connection every pool_max_uses checkouts', async () => {
    const db = new Database({ url: `${scratch.url}?pool_max=1&pool_max_uses=3`, tenantRoles: false });
    try {
      const pids: number[] = [];
      for (let i = 0; i < 9; i++) pids.push(await pid(db));
      // One connection answers 1-3, the next 4-6, a third 7-9.
      for (const group of [pids.slice(0, 3), pids.slice(3, 6), pids.slice(6, 9)]) expect(new Set(group).size).toBe(1);
      expect(new Set(pids).size).toBe(3);
    } finally {
      await db.end();
    }
  });
});
