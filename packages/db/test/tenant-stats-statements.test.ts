import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, createTenant, setupDatabase, tenantStats } from '../src/index.js';
import { startStatementsServer, type StatementsServer } from './helpers/statements-server.js';

/**
 * tenantStats() with pg_stat_statements: statements, their time and rows per tenant, grouped by the tenant's
 * role, on a server of the test's own with the extension preloaded (helpers/statements-server.ts).
 */

let server: StatementsServer;

beforeAll(async () => {
  server = await startStatementsServer();
}, 120_000);
afterAll(async () => {
  await server?.stop();
}, 60_000);

describe('tenantStats() with pg_stat_statements', () => {
  it("ranks tenants by their role's statements, with their time, mean and rows", async () => {
    const db = new Database({ url: server.url });
    try {
      await db.sql`create extension pg_stat_statements`;
      await setupDatabase({ db });
      for (const slug of ['many', 'few']) await createTenant({ slug }, { db });
      await db.sql`select pg_stat_statements_reset()`;
      for (let i = 0; i < 100; i++) await db.withTenant('many', (sql) => sql`select count(*) from orders`);
      for (let i = 0; i < 10; i++) await db.withTenant('few', (sql) => sql`select count(*) from orders`);
      const report = await tenantStats({ db });
      expect(report.capabilities).toMatchObject({ statements: true, statementsHint: undefined });
      expect(report.by).toBe('calls');
      const [many, few] = report.rows;
      expect([many!.slug, few!.slug]).toEqual(['many', 'few']);
      // Each scope's count(*) returns one row, attributed to the tenant's role (SET LOCAL ROLE), not the app's.
      expect(many!.calls).toBeGreaterThanOrEqual(100);
      expect(few!.calls).toBeGreaterThanOrEqual(10);
      expect(many!.calls! / few!.calls!).toBeCloseTo(10, 0);
      expect(many!.rows).toBeGreaterThanOrEqual(100);
      expect(many!.totalTimeMs).toBeGreaterThan(0);
      expect(many!.meanTimeMs).toBeCloseTo(many!.totalTimeMs! / many!.calls!, 6);
      expect((await tenantStats({ db, by: 'time', top: 1 })).rows[0]!.slug).toBe('many');
    } finally {
      await db.end();
    }
  });
});
