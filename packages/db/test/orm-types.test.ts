// A zone an hour or two off UTC, with a DST change on the dates used below: date and timestamp parsing that
// goes through local time shows here (a date a day early, a timestamp shifted). Set before any Date is made.
const previousTz = process.env.TZ;
process.env.TZ = 'Europe/Berlin';

import { drizzle as stockDrizzle } from 'drizzle-orm/node-postgres';
import { bigint, date, integer, interval, json, jsonb, numeric, pgTable, timestamp } from 'drizzle-orm/pg-core';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/index.js';
import { tenantDrizzle } from '../src/orm/drizzle.js';
import { tenantKysely } from '../src/orm/kysely.js';
import { DROP_TIMEOUT_MS } from './helpers/database.js';
import { pgFixture, pgliteFixture, type DriverSetup } from './helpers/drivers.js';
import { createMarkedTenants } from './helpers/isolation.js';

const typed = pgTable('typed', {
  id: integer('id').primaryKey(),
  day: date('day'),
  dayAsDate: date('day_as_date', { mode: 'date' }),
  at: timestamp('at'),
  atText: timestamp('at_text', { mode: 'string' }),
  atZoned: timestamp('at_zoned', { withTimezone: true }),
  span: interval('span'),
  amount: numeric('amount'),
  amounts: numeric('amounts').array(),
  big: bigint('big', { mode: 'bigint' }),
  small: bigint('small', { mode: 'number' }),
  ints: integer('ints').array(),
  days: date('days').array(),
  ats: timestamp('ats', { mode: 'string' }).array(),
  doc: json('doc'),
  docb: jsonb('docb'),
});

const TABLE = `create table typed (id int primary key, day date, day_as_date date, at timestamp, at_text timestamp,
  at_zoned timestamptz, span interval, amount numeric, amounts numeric[], big int8, small int8, ints int[], days date[],
  ats timestamp[], doc json, docb jsonb)`;

// 29 March 2026: Berlin moves from +01 to +02 at 02:00 local, so 02:30 that day does not exist locally.
const row = {
  id: 1,
  day: '2026-03-29',
  dayAsDate: new Date('2026-03-29T00:00:00.000Z'),
  at: new Date('2026-03-29T01:30:00.000Z'),
  atText: '2026-03-29 02:30:00',
  atZoned: new Date('2026-10-25T00:30:00.000Z'),
  span: '1 day 02:00:00',
  amount: '12345.678900',
  amounts: ['1.10', '2.20'],
  big: 9007199254740993n,
  small: 42,
  ints: [1, 2, 3],
  days: ['2026-03-29', '2026-10-25'],
  ats: ['2026-03-29 02:30:00'],
  doc: { a: [1, 'x'], b: null },
  docb: { k: 'v', n: 1.5 },
};

interface KyselyTypes {
  typed: Record<string, unknown>;
}

// The same values through each adapter as through the same ORM on its stock node-postgres driver.
describe('ORM value types under TZ=Europe/Berlin', () => {
  const setups: Record<string, DriverSetup> = {};
  let stock: pg.Pool;
  let reference: { drizzle: unknown; kysely: unknown };

  beforeAll(async () => {
    expect(new Date(2026, 6, 1).getTimezoneOffset()).toBe(-120);
    for (const fixture of [pgFixture, pgliteFixture]) {
      const setup = await fixture.setup();
      setups[fixture.name] = setup;
      await createMarkedTenants(setup.db, 'typ', 1);
      await (await setup.db.driver()).exec(`set search_path to tenant_typ0; ${TABLE}; reset search_path`);
      await setup.db.withTenant('typ0', () => tenantDrizzle({ database: setup.db }).insert(typed).values(row));
    }
    const url = setups.pg!.db.config.url!;
    stock = new pg.Pool({ connectionString: url, max: 1, options: '-c search_path=tenant_typ0' });
    const stockKysely = new Kysely<KyselyTypes>({ dialect: new PostgresDialect({ pool: stock as never }) });
    reference = {
      drizzle: await stockDrizzle({ client: stock as never })
        .select()
        .from(typed),
      kysely: await stockKysely.selectFrom('typed').selectAll().execute(),
    };
  });
  afterAll(async () => {
    await stock?.end();
    for (const setup of Object.values(setups)) await setup.teardown();
    if (previousTz === undefined) delete process.env.TZ;
    else process.env.TZ = previousTz;
  }, DROP_TIMEOUT_MS);

  it('reads, through Drizzle on pg and PGlite, exactly what it wrote, as Drizzle on node-postgres reads it', async () => {
    expect(reference.drizzle).toEqual([row]);
    for (const [name, { db }] of Object.entries(setups)) {
      const read = await db.withTenant('typ0', () => tenantDrizzle({ database: db }).select().from(typed));
      expect(read, name).toEqual([row]);
    }
  });

  it("reads, through Kysely on pg and PGlite, what Kysely on node-postgres reads (pg's default parsers)", async () => {
    for (const [name, { db }] of Object.entries(setups)) {
      const read = await readWithKysely(db);
      expect(read, name).toEqual(reference.kysely);
    }
    // Sanity: the default parsers really are in play (a local-midnight Date for a date, a bigint as a string).
    expect((reference.kysely as Record<string, unknown>[])[0]).toMatchObject({
      day: new Date(2026, 2, 29),
      big: '9007199254740993',
    });
  });
});

function readWithKysely(db: Database): Promise<unknown> {
  return db.withTenant('typ0', () => tenantKysely<KyselyTypes>({ database: db }).selectFrom('typed').selectAll().execute());
}
