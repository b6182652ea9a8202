import { and, eq } from 'drizzle-orm';
import type { Generated } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/index.js';
import { tenantDrizzle } from '../src/orm/drizzle.js';
import { tenantKysely } from '../src/orm/kysely.js';
import { DROP_TIMEOUT_MS } from './helpers/database.js';
import { pgFixture } from './helpers/drivers.js';
import { createMarkedTenants } from './helpers/isolation.js';
import { createOrmTables, customers, orders, schema } from './helpers/orm-schema.js';

// The examples of docs/ORM.md, as written there (with `withTenant` on a test database), run and checked.
describe('docs/ORM.md examples', () => {
  let database: Database;
  let teardown: () => Promise<void>;

  beforeAll(async () => {
    ({ db: database, teardown } = await pgFixture.setup());
    await createOrmTables(database, await createMarkedTenants(database, 'acme', 1));
  });
  afterAll(async () => {
    await teardown?.();
  }, DROP_TIMEOUT_MS);

  it('Drizzle', async () => {
    const withTenant = database.withTenant.bind(database);
    const db = tenantDrizzle({ schema });
    const result = await withTenant('acme0', async () => {
      const [row] = await db.insert(customers).values({ name: 'Ada' }).returning();
      await db
        .insert(customers)
        .values({ id: row!.id, name: 'Ada L.' })
        .onConflictDoUpdate({ target: customers.id, set: { name: 'Ada L.' } });
      await db.insert(orders).values({ customerId: row!.id, total: '9.90' });
      await db.transaction(async (tx) => {
        await tx
          .update(orders)
          .set({ status: 'paid' })
          .where(and(eq(orders.customerId, row!.id), eq(orders.status, 'open')));
        await tx.transaction(async () => {});
      });
      return row!.id;
    });
    const open = await withTenant('acme0', () => db.select().from(orders).where(eq(orders.status, 'open')));
    const withCustomer = await withTenant('acme0', () =>
      db.select().from(orders).innerJoin(customers, eq(orders.customerId, customers.id)),
    );
    const nested = await withTenant('acme0', () => db.query.customers.findMany({ with: { orders: true } }));
    expect(open).toEqual([]);
    expect(withCustomer).toEqual([
      { orders: { id: 100, customerId: result, total: '9.90', status: 'paid' }, customers: { id: result, name: 'Ada L.' } },
    ]);
    expect(nested).toEqual([
      { id: result, name: 'Ada L.', orders: [{ id: 100, customerId: result, total: '9.9', status: 'paid' }] },
    ]);
  });

  it('Kysely', async () => {
    interface Tables {
      orders: { id: Generated<number>; customer_id: number; total: string; status: string };
    }
    const withTenant = database.withTenant.bind(database);
    const db = tenantKysely<Tables>();
    const streamed: number[] = [];
    await withTenant('acme0', async () => {
      await db.transaction().execute(async (trx) => {
        await trx.updateTable('orders').set({ status: 'open' }).where('id', '=', 100).execute();
      });
      const trx = await db.startTransaction().execute();
      const sp = await trx.savepoint('before_refund').execute();
      await sp.updateTable('orders').set({ status: 'refunded' }).where('id', '=', 100).execute();
      await sp.rollbackToSavepoint('before_refund').execute();
      await trx.commit().execute();
      for await (const order of db.selectFrom('orders').selectAll().stream(500)) streamed.push(order.id);
    });
    const open = await withTenant('acme0', () => db.selectFrom('orders').selectAll().where('status', '=', 'open').execute());
    expect(open.map((o) => o.id)).toEqual([100]);
    expect(streamed).toEqual([100]);
  });
});
