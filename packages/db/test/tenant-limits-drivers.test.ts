import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatementTimeoutError, createTenant, setTenantLimits, setupDatabase } from '../src/index.js';
import { driverFixtures, type DriverSetup } from './helpers/drivers.js';

/**
 * The limits and the fair share sit above the drivers (scope/fair-share.ts), so they hold for every driver:
 * node-postgres, through PgBouncer, the embedded PostgreSQL, @vercel/postgres and Neon's Pool.
 */
describe.each(driverFixtures)('limits and fair share on $name', (fixture) => {
  let setup: DriverSetup;

  beforeAll(async () => {
    setup = await fixture.setup();
    await setupDatabase({ db: setup.db });
    for (const slug of ['lim', 'free']) await createTenant({ slug }, { db: setup.db });
  }, 120_000);
  afterAll(async () => {
    await setup?.teardown();
  }, 300_000);

  it("applies a tenant's statement timeout and work_mem to its scopes only", async () => {
    const { db } = setup;
    await setTenantLimits('lim', { statementTimeout: '150ms', workMem: '8MB' }, { db });
    const setting = (slug: string, name: string) =>
      db.withTenant(slug, async (sql) => (await sql<{ v: string }>`select current_setting(${name}) as v`).rows[0]!.v);
    expect(await setting('lim', 'work_mem')).toBe('8MB');
    expect(await setting('free', 'work_mem')).not.toBe('8MB');
    expect(await setting('lim', 'statement_timeout')).toBe('150ms');
    expect(await setting('free', 'statement_timeout')).toBe('0');
    if (fixture.name !== 'pglite') {
      // The embedded PostgreSQL runs in one thread without timer signals: it holds the setting, never fires it.
      const error = await db.withTenant('lim', (sql) => sql`select pg_sleep(1)`).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StatementTimeoutError);
      expect(error).toMatchObject({ slug: 'lim', timeoutMs: 150 });
    }
    await setTenantLimits('lim', { statementTimeout: null, workMem: null }, { db });
  });

  it('holds a tenant to its share of the pool (pool_max 10 → 2; the embedded database has one connection)', async () => {
    const { db } = setup;
    let inside = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 8 }, () =>
        db.withTenant('free', async (sql) => {
          await sql`select 1`;
          peak = Math.max(peak, ++inside);
          await sql`select pg_sleep(0.05)`;
          inside--;
        }),
      ),
    );
    expect(peak).toBe(fixture.concurrent ? 2 : 1);
  });
});
