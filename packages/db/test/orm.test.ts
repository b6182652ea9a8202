import { inspect } from 'node:util';
import { DrizzleQueryError, asc, eq, sql as dsql } from 'drizzle-orm';
import { sql as ksql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Database,
  NoTenantScopeError,
  OrmTransactionError,
  QueryError,
  ScopeEndedError,
  TenantNotFoundError,
  TransactionAbortedError,
  TransactionControlError,
  sql,
} from '../src/index.js';
import { tenantDrizzle } from '../src/orm/drizzle.js';
import { tenantKysely } from '../src/orm/kysely.js';
import { DROP_TIMEOUT_MS } from './helpers/database.js';
import { neonFixture, pgFixture, pgliteFixture } from './helpers/drivers.js';
import { createMarkedTenants } from './helpers/isolation.js';
import { createOrmTables, customers, orders, schema, type KyselyTables } from './helpers/orm-schema.js';

interface Seen extends Record<string, unknown> {
  pid: number;
  tx: string;
  path: string;
  role: string;
}
const SEEN = `select pg_backend_pid() as pid, txid_current()::text as tx, current_setting('search_path') as path, current_user::text as role`;

// Drizzle and Kysely bound to the tenant scope, on the real server and on the embedded one.
describe.each([pgFixture, pgliteFixture, neonFixture])('ORMs in the tenant scope on $name', (fixture) => {
  let db: Database;
  let teardown: () => Promise<void>;
  let drizzle: ReturnType<typeof tenantDrizzle<typeof schema>>;
  let kysely: ReturnType<typeof tenantKysely<KyselyTables>>;

  beforeAll(async () => {
    ({ db, teardown } = await fixture.setup());
    const slugs = await createMarkedTenants(db, 'orm', 3);
    await createOrmTables(db, slugs);
    drizzle = tenantDrizzle({ schema, database: db });
    kysely = tenantKysely<KyselyTables>({ database: db });
  });
  afterAll(async () => {
    await teardown?.();
  }, DROP_TIMEOUT_MS);

  it('runs sql, Drizzle and Kysely on one backend, in one transaction, with the tenant path and role', async () => {
    const seen = await db.withTenant('orm0', async (scoped) => {
      // Drizzle's query is the scope's first: it rides with BEGIN.
      const viaDrizzle = (await drizzle.execute<Seen>(dsql.raw(SEEN))).rows[0]!;
      const viaKysely = (await ksql<Seen>`${ksql.raw(SEEN)}`.execute(kysely)).rows[0]!;
      const viaSql = (await scoped.query<Seen>(SEEN)).rows[0]!;
      const viaModule = (await sql.query<Seen>(SEEN)).rows[0]!;
      return [viaDrizzle, viaKysely, viaSql, viaModule];
    });
    expect(seen[0]!.path).toBe('tenant_orm0, extensions, public');
    for (const other of seen.slice(1)) expect(other).toEqual(seen[0]);
    const outside = (await db.sql.query<Seen>(SEEN)).rows[0]!;
    expect(outside.path).not.toContain('tenant_');
    expect(db.tenantRoles).toBe(true);
    expect(outside.role).not.toBe(seen[0]!.role);
  });

  it('rolls back what sql, Drizzle and Kysely wrote when the scope throws, and keeps tenants apart', async () => {
    const error = await db
      .withTenant('orm1', async (scoped) => {
        await drizzle.insert(customers).values({ name: 'drizzle-rolled-back' });
        await kysely.insertInto('customers').values({ name: 'kysely-rolled-back' }).execute();
        await scoped`insert into customers (name) values ('sql-rolled-back')`;
        expect((await kysely.selectFrom('customers').select('name').execute()).length).toBe(3);
        throw new Error('undo');
      })
      .catch((e: unknown) => e);
    expect((error as Error).message).toBe('undo');
    const { rows } = await db.sql`select name from tenant_orm1.customers`;
    expect(rows).toEqual([]);

    await db.withTenant('orm1', () => drizzle.insert(customers).values({ name: 'only-in-orm1' }));
    const inOrm2 = await db.withTenant('orm2', async () => ({
      drizzle: await drizzle.select().from(customers),
      kysely: await kysely.selectFrom('customers').selectAll().execute(),
      marker: await kysely.selectFrom('marker').select('tenant').execute(),
    }));
    expect(inOrm2).toEqual({ drizzle: [], kysely: [], marker: [{ tenant: 'orm2' }] });
    const inOrm1 = await db.withTenant('orm1', () => drizzle.select({ name: customers.name }).from(customers));
    expect(inOrm1).toEqual([{ name: 'only-in-orm1' }]);
  });

  it('refuses queries outside any scope, and in the scope of another Database, running nothing', async () => {
    await expect(drizzle.select().from(customers)).rejects.toBeInstanceOf(NoTenantScopeError);
    await expect(kysely.selectFrom('customers').selectAll().execute()).rejects.toBeInstanceOf(NoTenantScopeError);
    await expect(drizzle.insert(customers).values({ name: 'nowhere' })).rejects.toMatchObject({ code: 'CGK_NO_TENANT_SCOPE' });
    const other = new Database({ url: 'postgres://nobody@127.0.0.1:1/none?connect_timeout=1' });
    try {
      // The other database is never reached: the refusal comes first.
      await expect(other.withTenant('orm0', () => drizzle.select().from(customers))).rejects.toBeInstanceOf(NoTenantScopeError);
      await expect(other.withTenant('orm0', () => kysely.selectFrom('customers').selectAll().execute())).rejects.toBeInstanceOf(
        NoTenantScopeError,
      );
    } finally {
      await other.end();
    }
    // Without `database`, any Database's scope will do.
    const anyDb = tenantDrizzle();
    await expect(db.withTenant('orm0', () => anyDb.execute(dsql`select 1 as one`))).resolves.toMatchObject({
      rows: [{ one: 1 }],
    });
    const { rows } = await db.sql`select name from tenant_orm0.customers where name = 'nowhere'`;
    expect(rows).toEqual([]);
  });

  it('runs a returned, un-awaited Drizzle builder inside the scope', async () => {
    await db.withTenant('orm0', () => drizzle.insert(customers).values({ name: 'lazy' }));
    const rows = await db.withTenant('orm0', () =>
      drizzle.select({ name: customers.name }).from(customers).where(eq(customers.name, 'lazy')),
    );
    expect(rows).toEqual([{ name: 'lazy' }]);
  });

  it('refuses queries after the scope ended: builders as outside any scope, kept transactions as ended', async () => {
    let kept: Parameters<Parameters<typeof drizzle.transaction>[0]>[0] | undefined;
    await db.withTenant('orm0', () =>
      drizzle.transaction(async (tx) => {
        kept = tx;
      }),
    );
    await expect(kept!.select().from(customers)).rejects.toBeInstanceOf(ScopeEndedError);
    const builder = drizzle.select().from(customers);
    await db.withTenant('orm0', () => undefined);
    await expect(builder).rejects.toBeInstanceOf(NoTenantScopeError);
  });

  it('throws TenantNotFoundError through both ORMs for a tenant without a schema', async () => {
    await expect(db.withTenant('ghost', () => drizzle.select().from(customers))).rejects.toBeInstanceOf(TenantNotFoundError);
    await expect(db.withTenant('ghost', () => kysely.selectFrom('customers').selectAll().execute())).rejects.toBeInstanceOf(
      TenantNotFoundError,
    );
  });

  it('keeps duplicate column names of a join apart, and answers relational queries', async () => {
    const result = await db.withTenant('orm2', async () => {
      const [ada] = await drizzle.insert(customers).values({ name: 'ada' }).returning();
      await drizzle.insert(orders).values([
        { customerId: ada!.id, total: '10.50' },
        { customerId: ada!.id, total: '3.25', status: 'paid' },
      ]);
      const joined = await drizzle
        .select()
        .from(orders)
        .innerJoin(customers, eq(orders.customerId, customers.id))
        .orderBy(asc(orders.id));
      const related = await drizzle.query.customers.findMany({ with: { orders: { orderBy: [asc(orders.id)] } } });
      const first = await drizzle.query.orders.findFirst({ with: { customer: true }, where: eq(orders.status, 'paid') });
      return { ada: ada!, joined, related, first };
    });
    const { ada, joined, related, first } = result;
    expect(ada.id).toBeLessThan(100);
    expect(joined.map((row) => [row.orders.id, row.customers.id])).toEqual([
      [100, ada.id],
      [101, ada.id],
    ]);
    expect(joined[0]!.customers).toEqual({ id: ada.id, name: 'ada' });
    // Relational queries carry rows as JSON, where numeric 10.50 is the number 10.5 (as with Drizzle's own drivers).
    expect(related).toEqual([
      {
        id: ada.id,
        name: 'ada',
        orders: [
          { id: 100, customerId: ada.id, total: '10.5', status: 'open' },
          { id: 101, customerId: ada.id, total: '3.25', status: 'paid' },
        ],
      },
    ]);
    expect(first).toEqual({ id: 101, customerId: ada.id, total: '3.25', status: 'paid', customer: { id: ada.id, name: 'ada' } });
  });

  it('returns inserted rows and upserts through both ORMs', async () => {
    const result = await db.withTenant('orm2', async () => {
      const viaDrizzle = await drizzle
        .insert(customers)
        .values({ name: 'grace' })
        .returning({ id: customers.id, name: customers.name });
      const upserted = await drizzle
        .insert(customers)
        .values({ id: viaDrizzle[0]!.id, name: 'grace' })
        .onConflictDoUpdate({ target: customers.id, set: { name: 'grace hopper' } })
        .returning();
      const viaKysely = await kysely.insertInto('customers').values({ name: 'linus' }).returningAll().executeTakeFirstOrThrow();
      const kyselyUpsert = await kysely
        .insertInto('customers')
        .values({ id: viaKysely.id, name: 'linus' })
        .onConflict((oc) => oc.column('id').doUpdateSet({ name: 'linus t' }))
        .returning(['id', 'name'])
        .executeTakeFirstOrThrow();
      const nothing = await kysely
        .insertInto('customers')
        .values({ id: viaKysely.id, name: 'x' })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      return { viaDrizzle, upserted, viaKysely, kyselyUpsert, affected: nothing.numInsertedOrUpdatedRows };
    });
    expect(result.upserted).toEqual([{ id: result.viaDrizzle[0]!.id, name: 'grace hopper' }]);
    expect(result.kyselyUpsert).toEqual({ id: result.viaKysely.id, name: 'linus t' });
    expect(result.affected).toBe(0n);
  });

  it('reports a failed Drizzle statement with the library error reachable and no parameter value in sight', async () => {
    const secret = 'secret-value-7f3a';
    const error = await db
      .withTenant('orm0', async () => {
        await drizzle.insert(customers).values({ name: secret });
        await drizzle.insert(customers).values({ name: secret });
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DrizzleQueryError);
    expect(error).toMatchObject({ code: 'CGK_QUERY', sqlState: '23505' });
    expect((error as DrizzleQueryError).cause).toBeInstanceOf(QueryError);
    expect((error as Error).message).toContain('insert into "customers"');
    expect((error as Error).message).not.toContain(secret);
    expect((error as Error).stack).not.toContain(secret);
    expect(inspect(error, { depth: 0 })).not.toContain(secret);
    expect((error as DrizzleQueryError).params).toContain(secret);
    // PostgreSQL's own message may quote the value: it stays on the cause, out of the wrapper's message.
    const cast = await db.withTenant('orm0', () => drizzle.execute(dsql`select ${secret}::int as n`)).catch((e: unknown) => e);
    expect(cast).toMatchObject({ code: 'CGK_QUERY', sqlState: '22P02' });
    expect((cast as Error).message).not.toContain(secret);
    expect(inspect(cast, { depth: 0 })).not.toContain(secret);
  });

  it('refuses transaction control through the ORMs', async () => {
    await db.withTenant('orm0', async () => {
      await expect(drizzle.execute(dsql`commit`)).rejects.toBeInstanceOf(TransactionControlError);
      await expect(ksql`rollback`.execute(kysely)).rejects.toBeInstanceOf(TransactionControlError);
    });
  });

  describe('transactions as savepoints', () => {
    const names = async (slug: string) =>
      (
        await db.sql.query<{ name: string }>(`select name from tenant_${slug}.customers where name like 'sp-%' order by name`)
      ).rows.map((r) => r.name);

    it('Drizzle: nested transactions, inner throw, tx.rollback() and a failing statement roll back to their savepoint only', async () => {
      await db.withTenant('orm1', async () => {
        await drizzle.transaction(async (tx) => {
          await tx.insert(customers).values({ name: 'sp-outer' });
          await expect(
            tx.transaction(async (inner) => {
              await inner.insert(customers).values({ name: 'sp-inner-thrown' });
              throw new Error('inner');
            }),
          ).rejects.toThrow('inner');
          await tx.transaction(async (inner) => {
            await inner.insert(customers).values({ name: 'sp-inner-kept' });
            await inner.transaction(async (deepest) => {
              await deepest.insert(customers).values({ name: 'sp-deepest' });
            });
          });
          await expect(
            tx.transaction(async (inner) => {
              await inner.insert(customers).values({ name: 'sp-rolled' });
              inner.rollback();
            }),
          ).rejects.toThrow('Rollback');
          // A statement the server rejects aborts only the savepoint.
          await expect(
            tx.transaction(async (inner) => {
              await inner.insert(customers).values({ name: 'sp-duplicate' });
              await inner.insert(customers).values({ name: 'sp-duplicate' });
            }),
          ).rejects.toMatchObject({ sqlState: '23505' });
          await tx.insert(customers).values({ name: 'sp-after-failure' });
        });
      });
      expect(await names('orm1')).toEqual(['sp-after-failure', 'sp-deepest', 'sp-inner-kept', 'sp-outer']);
    });

    it('Drizzle: a failing statement whose error the transaction swallows still fails the scope, not the savepoint', async () => {
      const error = await db
        .withTenant('orm2', async () => {
          await drizzle.insert(customers).values({ name: 'sp-swallowed' });
          await drizzle.execute(dsql`select * from no_such_table`).catch(() => undefined);
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransactionAbortedError);
      expect(await names('orm2')).toEqual([]);
    });

    it('Kysely: transaction(), controlled transactions with savepoints, and a failing statement inside', async () => {
      await db.withTenant('orm2', async () => {
        await kysely.transaction().execute(async (trx) => {
          await trx.insertInto('customers').values({ name: 'sp-k-kept' }).execute();
        });
        await expect(
          kysely.transaction().execute(async (trx) => {
            await trx.insertInto('customers').values({ name: 'sp-k-thrown' }).execute();
            throw new Error('k');
          }),
        ).rejects.toThrow('k');
        await expect(
          kysely.transaction().execute(async (trx) => {
            await trx.insertInto('customers').values({ name: 'sp-k-dup' }).execute();
            await trx.insertInto('customers').values({ name: 'sp-k-dup' }).execute();
          }),
        ).rejects.toMatchObject({ sqlState: '23505' });
        const trx = await kysely.startTransaction().execute();
        await trx.insertInto('customers').values({ name: 'sp-k-before' }).execute();
        const sp = await trx.savepoint('a').execute();
        await sp.insertInto('customers').values({ name: 'sp-k-undone' }).execute();
        await sp.rollbackToSavepoint('a').execute();
        const sp2 = await trx.savepoint('b').execute();
        await sp2.insertInto('customers').values({ name: 'sp-k-released' }).execute();
        await sp2.releaseSavepoint('b').execute();
        await trx.commit().execute();
        const rolled = await kysely.startTransaction().execute();
        await rolled.insertInto('customers').values({ name: 'sp-k-rolled' }).execute();
        await rolled.rollback().execute();
      });
      expect(await names('orm2')).toEqual(['sp-k-before', 'sp-k-kept', 'sp-k-released']);
    });

    it('refuses isolation levels and access modes, and two ORM transactions at once in one scope', async () => {
      await db.withTenant('orm0', async () => {
        await expect(drizzle.transaction(async () => 1, { isolationLevel: 'serializable' })).rejects.toBeInstanceOf(
          OrmTransactionError,
        );
        await expect(drizzle.transaction(async () => 1, { accessMode: 'read only' })).rejects.toMatchObject({
          code: 'CGK_ORM_TRANSACTION',
        });
        await expect(
          drizzle.transaction(async (tx) => tx.setTransaction({ isolationLevel: 'serializable' })),
        ).rejects.toBeInstanceOf(OrmTransactionError);
        await expect(
          kysely
            .transaction()
            .setIsolationLevel('serializable')
            .execute(async () => 1),
        ).rejects.toBeInstanceOf(OrmTransactionError);
        await expect(kysely.startTransaction().setAccessMode('read only').execute()).rejects.toBeInstanceOf(OrmTransactionError);
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        const first = drizzle.transaction(async (tx) => {
          await tx.execute(dsql`select 1`);
          await gate;
          return 'first';
        });
        await new Promise((resolve) => setTimeout(resolve, 20));
        await expect(drizzle.transaction(async () => 'second')).rejects.toBeInstanceOf(OrmTransactionError);
        await expect(kysely.transaction().execute(async () => 'third')).rejects.toBeInstanceOf(OrmTransactionError);
        release();
        await expect(first).resolves.toBe('first');
        // Once the first has ended, the next one may start.
        await expect(kysely.transaction().execute(async () => 'after')).resolves.toBe('after');
        const seen = await db.sql.query<{ n: number }>('select count(*)::int as n from pg_prepared_xacts');
        expect(seen.rows[0]!.n).toBe(0);
      });
    });
  });

  describe('Kysely streaming through a SQL cursor', () => {
    const numbers = (n: number) => kysely.selectNoFrom(ksql<number>`generate_series(1, ${n})`.as('n'));
    const openCursors = () =>
      kysely
        .selectNoFrom(ksql<number>`(select count(*)::int from pg_cursors where name like 'cgk_cursor_%')`.as('c'))
        .executeTakeFirstOrThrow();

    it('streams every row, in the scope', async () => {
      const seen = await db.withTenant('orm0', async () => {
        const got: number[] = [];
        for await (const row of numbers(7).stream(3)) got.push(row.n);
        const marker = [];
        for await (const row of kysely.selectFrom('marker').select('tenant').stream()) marker.push(row.tenant);
        return { got, marker, cursors: await openCursors() };
      });
      expect(seen).toEqual({ got: [1, 2, 3, 4, 5, 6, 7], marker: ['orm0'], cursors: { c: 0 } });
    });

    it('closes the cursor when the reader stops early', async () => {
      const seen = await db.withTenant('orm0', async () => {
        const got: number[] = [];
        for await (const row of numbers(1000).stream(10)) {
          got.push(row.n);
          if (row.n === 15) break;
        }
        return { got: got.length, cursors: await openCursors(), after: (await numbers(2).execute()).length };
      });
      expect(seen).toEqual({ got: 15, cursors: { c: 0 }, after: 2 });
    });

    it('ends the stream with the error of a row that fails midway, and the scope with it', async () => {
      const got: number[] = [];
      const error = await db
        .withTenant('orm0', async () => {
          const failing = kysely.selectNoFrom(ksql<number>`1 / (5 - generate_series(1, 9))`.as('n'));
          for await (const row of failing.stream(2)) got.push(row.n);
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QueryError);
      expect(error).toMatchObject({ sqlState: '22012' });
      expect(got).toEqual([0, 0, 0, 1]);
    });
  });
});
