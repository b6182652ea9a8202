import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, TenantBusyError, createTenant, setTenantLimits, setupDatabase } from '../src/index.js';
import { scopesHeld } from '../src/scope/fair-share.js';
import { adminQuery, createTestDatabase, DROP_TIMEOUT_MS, type TestDatabase } from './helpers/database.js';

/**
 * The fair share of the pool (scope/fair-share.ts): no tenant holds more than its bound of the pool's connections
 * at once; its burst queues behind itself while other tenants' scopes get connections. Asserted by counting the
 * server's backends running each tenant's statement, never by timing.
 */

let scratch: TestDatabase;

beforeAll(async () => {
  scratch = await createTestDatabase('cgk_share');
  const setup = new Database({ url: scratch.url });
  try {
    await setupDatabase({ db: setup });
    for (const slug of ['noisy', 'calm', 'capped']) await createTenant({ slug }, { db: setup });
  } finally {
    await setup.end();
  }
});
afterAll(async () => {
  await scratch?.drop();
}, DROP_TIMEOUT_MS);

/** Backends of the scratch database running a statement that carries `marker` right now. */
async function running(marker: string): Promise<number> {
  const { rows } = await adminQuery<{ n: number }>(
    `select count(*)::int as n from pg_stat_activity where datname = $1 and state = 'active' and query like $2`,
    [scratch.name, `%${marker}%`],
  );
  return rows[0]!.n;
}

/** Samples `marker`'s backends every 20 ms until `work` settles; the largest count seen. */
async function peakWhile(marker: string, work: Promise<unknown>): Promise<number> {
  let done = false;
  void work.finally(() => (done = true)).catch(() => undefined);
  let peak = 0;
  while (!done) {
    peak = Math.max(peak, await running(marker));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return peak;
}

describe('fair share of the pool', () => {
  it('bounds a tenant to its share (pool_max 8 → 2 connections) while another tenant gets connections', async () => {
    const db = new Database({ url: `${scratch.url}?pool_max=8` });
    try {
      let inside = 0;
      let peakInside = 0;
      const burst = Promise.all(
        Array.from({ length: 12 }, () =>
          db.withTenant('noisy', async (sql) => {
            await sql`select 1`;
            peakInside = Math.max(peakInside, ++inside);
            expect(scopesHeld(db, 'noisy')).toBeLessThanOrEqual(2);
            await sql`select pg_sleep(0.15), 'share_marker_noisy'`;
            inside--;
          }),
        ),
      );
      const sampled = peakWhile('share_marker_noisy', burst);
      // While the burst queues behind itself, another tenant's scope is served (it would wait behind all 12 without the share).
      await new Promise((resolve) => setTimeout(resolve, 50));
      const calm = await db.withTenant('calm', async (sql) => {
        await sql`select 1`;
        return scopesHeld(db, 'noisy');
      });
      expect(calm).toBe(2);
      expect(await sampled).toBe(2);
      expect(peakInside).toBe(2);
      await burst;
      expect(scopesHeld(db, 'noisy')).toBe(0);
    } finally {
      await db.end();
    }
  });

  it('bounds a tenant to its own max_scopes', async () => {
    const db = new Database({ url: `${scratch.url}?pool_max=8` });
    try {
      await setTenantLimits('capped', { maxScopes: 1 }, { db });
      const burst = Promise.all(
        Array.from({ length: 4 }, () => db.withTenant('capped', (sql) => sql`select pg_sleep(0.1), 'share_marker_capped'`)),
      );
      expect(await peakWhile('share_marker_capped', burst)).toBe(1);
      await setTenantLimits('capped', { maxScopes: 5 }, { db });
      const wider = Promise.all(
        Array.from({ length: 10 }, () => db.withTenant('capped', (sql) => sql`select pg_sleep(0.2), 'share_marker_wide'`)),
      );
      expect(await peakWhile('share_marker_wide', wider)).toBe(5);
    } finally {
      await db.end();
    }
  });

  it('gives a typed error naming the tenant and the limit to a scope that waited past the connect timeout', async () => {
    const db = new Database({ url: `${scratch.url}?pool_max=8&connect_timeout=0.3` });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    try {
      const holders = [0, 1].map(() =>
        db.withTenant('noisy', async (sql) => {
          await sql`select 1`;
          await held;
        }),
      );
      while (scopesHeld(db, 'noisy') < 2) await new Promise((resolve) => setTimeout(resolve, 10));
      const error = await db.withTenant('noisy', (sql) => sql`select 1`).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TenantBusyError);
      expect(error).toMatchObject({ code: 'CGK_TENANT_BUSY', slug: 'noisy', limit: 2, source: 'default' });
      expect((error as TenantBusyError).message).toMatch(
        /^Tenant "noisy" already holds 2 connections \(its fair share of the pool, 2\)/,
      );
      expect((error as TenantBusyError).hint).toMatch(/tenant:limits noisy --max-scopes/);
      // Other tenants are not affected, and the waiter left nothing behind.
      await db.withTenant('calm', (sql) => sql`select 1`);
      release();
      await Promise.all(holders);
      expect(scopesHeld(db, 'noisy')).toBe(0);
      await db.withTenant('noisy', (sql) => sql`select 1`);
    } finally {
      release();
      await db.end();
    }
  });
});
