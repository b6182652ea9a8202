import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CgkError,
  Database,
  PoolExhaustedError,
  type QueryError,
  createTenant,
  dropTenant,
  setupDatabase,
} from '../src/index.js';
import { migrateTenants } from '../src/migrations/index.js';
import { adminQuery, createAppDatabase, type AppDatabase } from './helpers/database.js';
import { fixtureDirs } from './helpers/migrations.js';

/**
 * Faults of the connection and the pool, against the real server: the server ending a scope's connection
 * (pg_terminate_backend on the test's own backend, never a restart of the shared server), a pool whose
 * connections are all held, and a fleet migration asked for more concurrency than the pool has.
 */

/** As production connects: a non-superuser application role owning its database (issue #14's acceptance). */
let scratch: AppDatabase;
let db: Database;
const fixtures = fixtureDirs();

beforeAll(async () => {
  scratch = await createAppDatabase('cgk_faults');
  db = new Database({ url: `${scratch.url}?pool_max=3` });
  await setupDatabase({ db });
  await createTenant({ slug: 'a' }, { db });
  await db.sql`insert into tenant_a.orders (order_number, total_cents, currency) values ('A-1', 100, 'USD')`;
});

afterAll(async () => {
  fixtures.cleanup();
  await db?.end();
  await scratch?.drop();
}, 120_000);

/**
 * Ends the backend `pid` from another connection, and waits until it is gone. As the superuser: the
 * application role could end its own backends too (same role), but the test must not depend on that.
 */
async function terminate(pid: unknown): Promise<void> {
  await adminQuery('select pg_terminate_backend($1)', [pid]);
  for (let i = 0; i < 100; i++) {
    const { rows } = await adminQuery('select 1 from pg_stat_activity where pid = $1', [pid]);
    if (rows.length === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // Let the client read the server's FATAL message and the close (the 'error' event that used to crash).
  await new Promise((resolve) => setTimeout(resolve, 100));
}

async function caught(work: Promise<unknown>): Promise<CgkError> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CgkError);
  return error as CgkError;
}

describe('a connection the server ends inside a scope', () => {
  it('gives a typed CGK_CONNECTION error saying why, not a crash, and the pool recovers', async () => {
    const error = await caught(
      db.withTenant('a', async (sql) => {
        const { rows } = await sql`select pg_backend_pid() as pid`;
        await terminate(rows[0]!.pid);
        return sql`select count(*) from orders`;
      }),
    );
    expect(error.code).toBe('CGK_CONNECTION');
    expect(error.message).toMatch(/terminating connection due to administrator command/);
    // The broken connection was destroyed: every later scope gets a live one.
    for (let i = 0; i < 6; i++) {
      const { rows } = await db.withTenant('a', (sql) => sql`select count(*)::int as n from orders`);
      expect(rows[0]!.n).toBe(1);
    }
  });

  it('is still an error when the callback swallows it: the scope cannot commit', async () => {
    const error = await caught(
      db.withTenant('a', async (sql) => {
        const { rows } = await sql`select pg_backend_pid() as pid`;
        await terminate(rows[0]!.pid);
        await sql`select 1`.catch(() => undefined);
        return 'swallowed';
      }),
    );
    expect(error.code).toBe('CGK_CONNECTION');
  });

  it('gives a typed error on a transaction of the driver (createTenant, the runner) and destroys the connection', async () => {
    const driver = await db.driver();
    const { tx, results } = await driver.begin([{ text: 'select pg_backend_pid() as pid' }]);
    expect(results[0]!.ok).toBe(true);
    await terminate(results[0]!.ok ? results[0]!.result.rows[0]!.pid : undefined);
    const error = await caught(tx.exec('create table should_not_exist (id int)'));
    expect(error.code).toBe('CGK_CONNECTION');
    await tx.rollback();
    const { rows } = await db.sql`select to_regclass('public.should_not_exist') as t`;
    expect(rows[0]!.t).toBeNull();
  });
});

describe('an exhausted pool', () => {
  it('gives a CgkError naming the pool, its size and the waiters, not "timeout exceeded when trying to connect"', async () => {
    const small = new Database({ url: `${scratch.url}?pool_max=2&connect_timeout=1` });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const entered: Array<Promise<void>> = [];
    const holders = [0, 1].map(() =>
      small.withTenant('a', async (sql) => {
        await sql`select 1`;
        entered.push(Promise.resolve());
        await held;
      }),
    );
    try {
      while (entered.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
      const inScope = await caught(small.withTenant('a', (sql) => sql`select 1`));
      expect(inScope).toBeInstanceOf(PoolExhaustedError);
      expect(inScope.code).toBe('CGK_POOL_EXHAUSTED');
      expect(inScope.message).toMatch(
        new RegExp(
          `^No free connection in the pool for postgres://${scratch.role}@127\\.0\\.0\\.1:5432/${scratch.name}: ` +
            'all 2 of pool_max=2 connections stayed busy for 1 s \\(0 more callers waiting\\)$',
        ),
      );
      expect(inScope.hint).toMatch(/pool_max/);
      expect((inScope as PoolExhaustedError).pool).toMatchObject({ max: 2, busy: 2, waiting: 0, connectTimeoutMs: 1000 });
      // Outside any scope too.
      const outside = await caught(small.sql`select 1`);
      expect(outside.code).toBe('CGK_POOL_EXHAUSTED');
    } finally {
      release();
      await Promise.all(holders);
      await small.end();
    }
  });
});

describe('migrate with a concurrency above the pool size', () => {
  it('migrates every tenant: the fleet runs at most pool_max tenants at once, and says so', async () => {
    const slow = fixtures.dir({ '001_slow.sql': 'select pg_sleep(0.4);\ncreate table t (id int);\n' });
    const fleetDb = new Database({ url: `${scratch.url}?pool_max=2&connect_timeout=1` });
    try {
      await fleetDb.sql.query(`select 1; ${Array.from({ length: 10 }, (_, i) => `create schema tenant_slow${i};`).join(' ')}`);
      const result = await migrateTenants(fleetDb, { tenants: 'schemas', tenantDir: slow, concurrency: 12 });
      // 12 workers on 2 connections would leave 10 waiting up to 2 s for a 1 s connect timeout.
      expect(result.failed.filter((f) => f.slug.startsWith('slow')).map((f) => `${f.slug}: ${f.error?.message}`)).toEqual([]);
      expect(result.tenants.filter((t) => t.slug.startsWith('slow') && t.status === 'Success')).toHaveLength(10);
      expect(result.concurrency).toBe(2);
    } finally {
      await fleetDb.end();
    }
  });
});

describe('a tenant dropped while a scope runs', () => {
  it('gives CGK_TENANT_NOT_FOUND, not 42P01 relation "orders" does not exist', async () => {
    await createTenant({ slug: 'doomed' }, { db });
    const error = await caught(
      db.withTenant('doomed', async (sql) => {
        await sql`select 1`;
        await dropTenant('doomed', { confirm: true, db });
        return sql`select count(*) from orders`;
      }),
    );
    expect(error.code).toBe('CGK_TENANT_NOT_FOUND');
    expect(error.message).toMatch(/Tenant "doomed" does not exist/);
    expect((error.cause as QueryError).sqlState).toBe('42P01');
    // A missing table of a tenant that exists stays what it is.
    const other = await caught(db.withTenant('a', (sql) => sql`select * from no_such_table`));
    expect(other).toMatchObject({ code: 'CGK_QUERY', sqlState: '42P01' });
  });
});
