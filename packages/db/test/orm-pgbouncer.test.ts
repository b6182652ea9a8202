import { eq, sql as dsql } from 'drizzle-orm';
import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, identifier } from '../src/index.js';
import { tenantDrizzle } from '../src/orm/drizzle.js';
import { tenantKysely } from '../src/orm/kysely.js';
import { createTestDatabase, DROP_TIMEOUT_MS, type TestDatabase } from './helpers/database.js';
import { createMarkedTenants } from './helpers/isolation.js';
import type { KyselyTables } from './helpers/orm-schema.js';
import { pooledDatabase, type PooledDatabase } from './helpers/pgbouncer.js';
import { startPgProxy, type PgProxy } from './helpers/pg-proxy.js';

const events = pgTable('events', { op: integer('op').primaryKey(), tenant: text('tenant').notNull() });
const marker = pgTable('marker', { tenant: text('tenant').notNull() });

class Planned extends Error {}

// Through PgBouncer in transaction mode (two server connections for everyone): Drizzle and Kysely statements
// of hundreds of concurrent scopes, a third of them failing midway, land each in its own tenant, or nowhere.
describe('Drizzle and Kysely through PgBouncer in transaction pooling mode', () => {
  let fixture: PooledDatabase;
  let direct: Database;
  let pooled: Database;
  let slugs: string[];

  beforeAll(async () => {
    fixture = await pooledDatabase({ prefix: 'cgk_orm_bouncer' });
    ({ direct, pooled } = fixture);
    slugs = await createMarkedTenants(direct, 'ob', 5);
  }, 120_000);
  afterAll(async () => {
    await fixture?.teardown();
  }, DROP_TIMEOUT_MS);

  it('keeps 300 concurrent ORM scopes, a third failing midway, each to its tenant, with exact row counts', async () => {
    const drizzle = tenantDrizzle({ database: pooled });
    const kysely = tenantKysely<KyselyTables>({ database: pooled });
    // A named prepared statement would break behind PgBouncer in transaction mode: the name is never sent.
    const markerByName = drizzle.select().from(marker).prepare('marker_by_name');
    const committed = new Map<string, number[]>(slugs.map((slug) => [slug, []]));
    const scopes = 300;
    const work = Array.from({ length: scopes }, async (_, n) => {
      const slug = slugs[n % slugs.length]!;
      try {
        await pooled.withTenant(slug, async () => {
          // Drizzle first: it opens the scope, pipelined with BEGIN.
          const seen = await markerByName.execute();
          expect(seen).toEqual([{ tenant: slug }]);
          await drizzle.insert(events).values({ op: n * 2, tenant: slug });
          await drizzle.transaction(async (tx) => {
            await tx.execute(dsql`select pg_sleep(${(n % 4) / 1000})`);
            await tx.insert(events).values({ op: n * 2 + 1, tenant: slug });
          });
          const viaKysely = await kysely.selectFrom('marker').select('tenant').execute();
          expect(viaKysely).toEqual([{ tenant: slug }]);
          const mine = await kysely
            .selectFrom('events')
            .select('op')
            .where('op', 'in', [n * 2, n * 2 + 1])
            .execute();
          expect(mine.map((r) => r.op).sort((a, b) => a - b)).toEqual([n * 2, n * 2 + 1]);
          if (n % 3 === 0) throw new Planned(`scope ${n}`);
        });
        committed.get(slug)!.push(n * 2, n * 2 + 1);
      } catch (error) {
        if (!(error instanceof Planned)) throw error;
      }
    });
    await Promise.all(work);

    let total = 0;
    for (const slug of slugs) {
      // 5 tenants, every third scope failing: each tenant has 60 scopes, 20 of them failed.
      expect(committed.get(slug)!.length).toBe(80);
      const { rows } = await direct.sql<{
        op: number;
        tenant: string;
      }>`select op, tenant from ${identifier(`tenant_${slug}`, 'events')} order by op`;
      expect(rows.map((r) => r.op)).toEqual(committed.get(slug)!.sort((a, b) => a - b));
      expect(new Set(rows.map((r) => r.tenant))).toEqual(new Set([slug]));
      total += rows.length;
    }
    // 200 scopes committed (n % 3 !== 0 for 200 of 0..299), two rows each.
    expect(total).toBe(400);
    const leaked = await pooled.withTenant(slugs[0]!, () => drizzle.select().from(events).where(eq(events.tenant, slugs[1]!)));
    expect(leaked).toEqual([]);
  });
});

// On the wire: a one-query scope through either ORM costs what it costs through `sql`, 2 round trips.
describe('ORM scopes, seen through a protocol-reading proxy', () => {
  let scratch: TestDatabase;
  let proxy: PgProxy;
  let db: Database;

  beforeAll(async () => {
    scratch = await createTestDatabase('cgk_orm_wire');
    const setup = new Database({ url: scratch.url });
    await createMarkedTenants(setup, 'wire', 1);
    await setup.end();
    proxy = await startPgProxy(scratch.url);
    db = new Database({ url: `${proxy.url}?pool_max=1` });
  });
  afterAll(async () => {
    await db?.end();
    await proxy?.stop();
    await scratch?.drop();
  }, DROP_TIMEOUT_MS);

  it('costs 2 round trips for a one-query scope through Drizzle and through Kysely', async () => {
    const drizzle = tenantDrizzle({ database: db });
    const kysely = tenantKysely<KyselyTables>({ database: db });
    const count = async (run: () => Promise<unknown>) => {
      const before = proxy.roundTrips;
      await run();
      return proxy.roundTrips - before;
    };
    await db.withTenant('wire0', (sql) => sql`select 1`);
    expect(await count(() => db.withTenant('wire0', () => drizzle.select().from(marker)))).toBe(2);
    expect(await count(() => db.withTenant('wire0', () => kysely.selectFrom('marker').selectAll().execute()))).toBe(2);
    expect(await count(() => db.withTenant('wire0', () => drizzle.execute(dsql`select 1`)))).toBe(2);
    expect(
      await count(() =>
        db.withTenant('wire0', async () => {
          await drizzle.select().from(marker);
          await kysely.selectFrom('marker').selectAll().execute();
        }),
      ),
    ).toBe(3);
  });
});
