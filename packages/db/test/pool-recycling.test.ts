import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../src/index.js';
import { DEFAULT_POOL_MAX_USES, parsePoolSettings } from '../src/drivers/pool-settings.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';

describe('pooled connections are replaced after pool_max_uses checkouts', () => {
  let scratch: TestDatabase;
  beforeAll(async () => {
    scratch = await createTestDatabase('cgk_test_recycle');
  });
  afterAll(async () => {
    await scratch.drop();
  });

  it('reads pool_max_uses and pool_max_lifetime, with a bounded default and 0 meaning never', () => {
    const defaults = parsePoolSettings('postgres://h/db');
    expect(defaults.maxUses).toBe(DEFAULT_POOL_MAX_USES);
    expect(DEFAULT_POOL_MAX_USES).toBeGreaterThan(0);
    expect(defaults.maxLifetimeSeconds).toBe(0);
    const set = parsePoolSettings('postgres://h/db?pool_max_uses=7&pool_max_lifetime=90&sslmode=disable');
    expect(set).toMatchObject({ maxUses: 7, maxLifetimeSeconds: 90 });
    const passed = new URL(set.connectionString);
    expect(passed.searchParams.has('pool_max_uses')).toBe(false);
    expect(passed.searchParams.has('pool_max_lifetime')).toBe(false);
    expect(passed.searchParams.get('sslmode')).toBe('disable');
    expect(parsePoolSettings('postgres://h/db?pool_max_uses=0').maxUses).toBe(0);
    expect(() => parsePoolSettings('postgres://h/db?pool_max_uses=often')).toThrow(/pool_max_uses/);
  });

  it('opens a new server connection every pool_max_uses checkouts', async () => {
    const db = new Database({ url: `${scratch.url}?pool_max=1&pool_max_uses=3`, tenantRoles: false });
    try {
      const pids: number[] = [];
      for (let i = 0; i < 9; i++) pids.push(Number((await db.sql`select pg_backend_pid() as pid`).rows[0]!.pid));
      // One connection answers 1-3, the next 4-6, a third 7-9.
      for (const group of [pids.slice(0, 3), pids.slice(3, 6), pids.slice(6, 9)]) expect(new Set(group).size).toBe(1);
      expect(new Set(pids).size).toBe(3);
    } finally {
      await db.end();
    }
  });

  it('keeps one connection for ever with pool_max_uses=0', async () => {
    const db = new Database({ url: `${scratch.url}?pool_max=1&pool_max_uses=0`, tenantRoles: false });
    try {
      const pids = new Set<number>();
      for (let i = 0; i < 12; i++) pids.add(Number((await db.sql`select pg_backend_pid() as pid`).rows[0]!.pid));
      expect(pids.size).toBe(1);
    } finally {
      await db.end();
    }
  });
});
