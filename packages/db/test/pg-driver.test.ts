import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgDriver } from '../src/drivers/pg/driver.js';
import { Database } from '../src/index.js';
import { grantTenantRoleSql } from '../src/roles/tenant-role.js';
import { adminQuery, createTestDatabase, type TestDatabase, DROP_TIMEOUT_MS } from './helpers/database.js';
import { startPgProxy, type PgProxy } from './helpers/pg-proxy.js';

// The node-postgres driver seen from the wire: a proxy between it and the server counts the round trips it
// pays and can fail one statement without breaking the connection.

class Planned extends Error {}

describe('the pg driver, seen through a protocol-reading proxy', () => {
  let scratch: TestDatabase;
  let proxy: PgProxy;

  beforeAll(async () => {
    scratch = await createTestDatabase('cgk_pgdrv');
    const setup = new Database({ url: scratch.url });
    const driver = await setup.driver();
    await driver.exec('create schema tenant_acme; create table tenant_acme.orders (id int primary key)');
    await driver.exec(grantTenantRoleSql('acme', { existingTables: true }));
    await setup.end();
    proxy = await startPgProxy(scratch.url);
  });
  afterAll(async () => {
    await proxy?.stop();
    await scratch?.drop();
  }, DROP_TIMEOUT_MS);

  it('costs 2 round trips for a one-query scope on a warm connection, one more per further query, none for no query', async () => {
    const db = new Database({ url: `${proxy.url}?pool_max=1` });
    try {
      await db.withTenant('acme', (sql) => sql`select 1`);
      expect(proxy.accepted).toBeGreaterThan(0);
      let before = proxy.roundTrips;
      await db.withTenant('acme', (sql) => sql`select id from orders where id = ${1}`);
      expect(proxy.roundTrips - before).toBe(2);
      before = proxy.roundTrips;
      await db.withTenant('acme', async (sql) => {
        await sql`select 1`;
        await sql`select 2`;
      });
      expect(proxy.roundTrips - before).toBe(3);
      before = proxy.roundTrips;
      await db.withTenant('acme', () => 'nothing');
      expect(proxy.roundTrips - before).toBe(0);
      // The first flight really carried several statements: BEGIN with the prelude, then the query, then COMMIT.
      const answers = proxy.readyForQuery;
      await db.withTenant('acme', (sql) => sql`select ${2}::int as two`);
      expect(proxy.readyForQuery - answers).toBeGreaterThanOrEqual(3);
    } finally {
      await db.end();
    }
  });

  it('destroys a connection whose ROLLBACK failed instead of handing its open transaction to the next user', async () => {
    const db = new Database({ url: `${proxy.url}?pool_max=1` });
    try {
      const pidOf = async () => (await db.sql<{ pid: number }>`select pg_backend_pid() as pid`).rows[0]!.pid;
      const first = await pidOf();
      proxy.failNext(/^ROLLBACK\b/);
      const inside = await db
        .withTenant('acme', async (sql) => {
          const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`;
          expect(rows[0]!.pid).toBe(first);
          await sql`insert into orders values (${42})`;
          throw new Planned('roll back, please');
        })
        .catch((e: unknown) => e);
      expect(inside).toBeInstanceOf(Planned);
      // (Scopes may reset session settings in the same message: ROLLBACK; RESET ...)
      expect(proxy.intercepted).toEqual([expect.stringMatching(/^ROLLBACK\b/)]);
      // The server never saw the ROLLBACK, so that backend is still inside the scope's transaction. With one
      // connection in the pool, the next query must get a fresh one, outside any transaction.
      const { rows } = await db.sql<{
        pid: number;
        open: boolean;
      }>`select pg_backend_pid() as pid, now() <> statement_timestamp() as open`;
      expect(rows[0]!.pid).not.toBe(first);
      expect((await db.sql<{ n: number }>`select count(*)::int as n from tenant_acme.orders where id = 42`).rows[0]!.n).toBe(0);
      expect(rows[0]!.open).toBe(false);
      // The half-open transaction dies with its connection (the backend leaves once the Terminate arrives).
      let alive = 1;
      for (let i = 0; i < 100 && alive > 0; i++) {
        alive = (await adminQuery<{ n: number }>('select count(*)::int as n from pg_stat_activity where pid = $1', [first]))
          .rows[0]!.n;
        if (alive > 0) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(alive).toBe(0);
    } finally {
      await db.end();
    }
  });

  it('takes statement_timeout from the URL: every connection of the pool has it, and a longer statement is cancelled', async () => {
    const driver = createPgDriver({ connectionString: `${scratch.url}?statement_timeout=250&pool_max=2` });
    try {
      const { rows } = await driver.query({ text: "select current_setting('statement_timeout') as value" });
      expect(rows).toEqual([{ value: '250ms' }]);
      await expect(driver.query({ text: 'select pg_sleep(5)' })).rejects.toMatchObject({ code: 'CGK_QUERY', sqlState: '57014' });
      const { tx } = await driver.begin([]);
      await expect(tx.query({ text: 'select pg_sleep(5)' })).rejects.toMatchObject({ sqlState: '57014' });
      await tx.rollback();
    } finally {
      await driver.end();
    }
  });
});
