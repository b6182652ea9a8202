import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, Database, configureTenantLimits, createTenant, setupDatabase, tenantStats } from '../src/index.js';
import { createTestDatabase, DROP_TIMEOUT_MS, type TestDatabase } from './helpers/database.js';
import { startPgProxy } from './helpers/pg-proxy.js';

/**
 * tenantStats() (stats/): the server's counters per tenant, one query per source for all tenants, merged with
 * what this process's library saw of each tenant's scopes.
 */

let scratch: TestDatabase;

beforeAll(async () => {
  scratch = await createTestDatabase('cgk_stats');
  const setup = new Database({ url: scratch.url });
  try {
    await setupDatabase({ db: setup });
    for (const slug of ['busy', 'quiet', 'idle']) await createTenant({ slug }, { db: setup });
  } finally {
    await setup.end();
  }
});
afterAll(async () => {
  await scratch?.drop();
}, DROP_TIMEOUT_MS);

/** `n` scopes of `slug`, 8 at a time, each reading its orders (a table scan the server counts). */
async function scopes(db: Database, slug: string, n: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next++ < n) await db.withTenant(slug, (sql) => sql`select count(*) from orders`);
    }),
  );
}

describe('tenantStats()', () => {
  it('ranks a tenant that ran 1,000 scopes above one that ran 10, from the server alone (another process)', async () => {
    const app = new Database({ url: scratch.url });
    try {
      await scopes(app, 'busy', 1000);
      await scopes(app, 'quiet', 10);
      await app.withTenant('busy', (sql) => sql`insert into orders (currency) select 'EUR' from generate_series(1, 25)`);
      const seen = await tenantStats({ db: app, by: 'scopes' });
      expect(seen.rows.map((r) => [r.slug, r.library.scopes])).toEqual([
        ['busy', 1001],
        ['quiet', 10],
        ['idle', 0],
      ]);
      const busy = seen.rows[0]!.library;
      expect(busy.durationP50Ms).toBeGreaterThan(0);
      expect(busy.durationP99Ms).toBeGreaterThanOrEqual(busy.durationP50Ms);
      expect(busy.connectionWaitP99Ms).toBeGreaterThan(0);
      expect(busy.errors).toEqual({});
    } finally {
      // Ended: its backends flush their counters to the server as they exit.
      await app.end();
    }
    const reader = new Database({ url: scratch.url });
    try {
      const report = await tenantStats({ db: reader });
      expect(report.by).toBe(report.capabilities.statements ? 'calls' : 'activity');
      expect(report.tenants).toBe(3);
      expect(report.rows.map((r) => r.slug)).toEqual(['busy', 'quiet', 'idle']);
      const [busy, quiet] = report.rows;
      expect(busy!.scans).toBeGreaterThanOrEqual(1000);
      expect(quiet!.scans).toBeGreaterThanOrEqual(10);
      expect(busy!.scans).toBeLessThan(quiet!.scans * 200);
      // Both hold the same bookkeeping rows (their migrations); busy inserted 25 orders more.
      expect(busy!.rowsWritten - quiet!.rowsWritten).toBe(25);
      expect(busy!.liveRows - quiet!.liveRows).toBe(25);
      expect(busy!.sizeBytes).toBeGreaterThan(0);
      expect(busy!.library.scopes).toBe(0); // this process ran none
      if (!report.capabilities.statements) {
        expect(busy!.calls).toBeNull();
        expect(report.capabilities.statementsHint).toMatch(/shared_preload_libraries|create extension|postgresql-contrib/);
      }
      expect((await tenantStats({ db: reader, top: 1 })).rows.map((r) => r.slug)).toEqual(['busy']);
    } finally {
      await reader.end();
    }
  });

  it('counts failed scopes by code, and keeps nothing with statistics off', async () => {
    const app = new Database({ url: scratch.url });
    const off = new Database({ url: scratch.url });
    try {
      await app.withTenant('quiet', (sql) => sql`select * from no_such_table`).catch(() => undefined);
      await app.withTenant('quiet', (sql) => sql`select 1/0`).catch(() => undefined);
      await app.withTenant('nobody', (sql) => sql`select 1`).catch(() => undefined);
      const quiet = (await tenantStats({ db: app, by: 'scopes' })).rows.find((r) => r.slug === 'quiet')!;
      expect(quiet.library).toMatchObject({ scopes: 2, errors: { '42P01': 1, '22012': 1 } });
      configureTenantLimits(off, { stats: false });
      await off.withTenant('quiet', (sql) => sql`select 1`);
      const none = (await tenantStats({ db: off, by: 'scopes' })).rows.find((r) => r.slug === 'quiet')!;
      expect(none.library.scopes).toBe(0);
    } finally {
      await app.end();
      await off.end();
    }
  });

  it('costs the same three round trips at any number of tenants, and refuses a bad order', async () => {
    const proxy = await startPgProxy(scratch.url);
    const db = new Database({ url: proxy.url });
    try {
      await db.sql`select 1`;
      const before = proxy.roundTrips;
      await tenantStats({ db, top: 2 });
      expect(proxy.roundTrips - before).toBe(3);
      await expect(tenantStats({ db, by: 'loudness' as never })).rejects.toBeInstanceOf(ConfigError);
      await expect(tenantStats({ db, top: 0 })).rejects.toBeInstanceOf(ConfigError);
    } finally {
      await db.end();
      await proxy.stop();
    }
  });
});
