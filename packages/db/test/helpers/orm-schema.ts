import { relations } from 'drizzle-orm';
import { integer, numeric, pgTable, serial, text } from 'drizzle-orm/pg-core';
import type { Generated } from 'kysely';
import type { Database } from '../../src/index.js';

/** The tables the ORM tests use, in every tenant: customers and their orders (ids apart, so a mix-up shows). */
export const customers = pgTable('customers', {
  id: serial('id').primaryKey(),
  name: text('name').notNull(),
});

export const orders = pgTable('orders', {
  id: serial('id').primaryKey(),
  customerId: integer('customer_id')
    .notNull()
    .references(() => customers.id),
  total: numeric('total').notNull(),
  status: text('status').notNull().default('open'),
});

export const customersRelations = relations(customers, ({ many }) => ({ orders: many(orders) }));
export const ordersRelations = relations(orders, ({ one }) => ({
  customer: one(customers, { fields: [orders.customerId], references: [customers.id] }),
}));

export const schema = { customers, orders, customersRelations, ordersRelations };

/** The same tables for Kysely. */
export interface KyselyTables {
  customers: { id: Generated<number>; name: string };
  orders: { id: Generated<number>; customer_id: number; total: string; status: Generated<string> };
  events: { op: number; tenant: string };
  marker: { tenant: string };
}

/** Creates the ORM tables in each tenant (created by createMarkedTenants, whose default privileges cover them). */
export async function createOrmTables(db: Database, slugs: readonly string[]): Promise<void> {
  const driver = await db.driver();
  for (const slug of slugs) {
    await driver.exec(`create table tenant_${slug}.customers (id serial primary key, name text not null unique);
      create table tenant_${slug}.orders (id serial primary key, customer_id int not null references tenant_${slug}.customers(id),
        total numeric not null, status text not null default 'open');
      alter sequence tenant_${slug}.orders_id_seq restart with 100`);
  }
}
