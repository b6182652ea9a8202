import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CgkError, Database, createTenant, setupDatabase } from '../src/index.js';
import { adminQuery, createAppDatabase } from './helpers/database.js';

/**
 * Whatever a scope does to its connection's session is gone when the connection goes back to the pool.
 * One connection (pool_max=1, and the embedded database) so the query after a scope surely runs on the
 * connection the scope used.
 */

interface Setup {
  db: Database;
  teardown(): Promise<void>;
}

const drivers: Array<[string, () => Promise<Setup>]> = [
  [
    'pg',
    async () => {
      // As production connects: a non-superuser application role owning its database (issue #14's acceptance).
      const scratch = await createAppDatabase('cgk_session');
      const db = new Database({ url: `${scratch.url}?pool_max=1` });
      return {
        db,
        teardown: async () => {
          await db.end();
          await scratch.drop();
        },
      };
    },
  ],
  [
    'pglite',
    async () => {
      const db = new Database({ driver: 'pglite', dataDir: ':memory:' });
      return { db, teardown: () => db.end() };
    },
  ],
];

describe.each(drivers)('session state after a scope (%s)', (name, open) => {
  let setup: Setup;
  let db: Database;

  beforeAll(async () => {
    setup = await open();
    db = setup.db;
    await setupDatabase({ db });
    for (const slug of ['a', 'b']) await createTenant({ slug }, { db });
    await db.sql`insert into tenant_b.orders (order_number, total_cents, currency) values ('B-SECRET', 100, 'USD')`;
  }, 120_000);
  afterAll(async () => setup?.teardown(), 120_000);

  const outside = async () =>
    (
      await db.sql<{ path: string; role: string; timeout: string }>`
    select current_setting('search_path') as path, current_user::text as role, current_setting('statement_timeout') as timeout`
    ).rows[0]!;

  it('a plain SET search_path inside a scope does not leak: the next query outside reads no tenant', async () => {
    const before = await outside();
    await db.withTenant('a', async (sql) => {
      await sql`set search_path = tenant_b`;
      await sql.query("select set_config('statement_timeout', '1234', false)");
      // Inside, the scope sees what it set (that is the scope's own business).
      expect((await sql<{ p: string }>`select current_setting('search_path') as p`).rows[0]!.p).toBe('tenant_b');
    });
    expect(await outside()).toEqual(before);
    const error = await db.sql`select order_number from orders`.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CgkError);
    expect(error).toMatchObject({ code: 'CGK_QUERY', sqlState: '42P01' });
  });

  it('a temporary table made in a scope does not shadow a platform table afterwards', async () => {
    await db.withTenant('a', async (sql) => {
      await sql`create temp table organizations (slug text)`;
      await sql`insert into organizations values ('shadow')`;
    });
    const { rows } = await db.sql<{ slug: string }>`select slug from organizations order by slug`;
    expect(rows.map((r) => r.slug)).toEqual(['a', 'b']);
  });

  it('role and session authorization changes do not leak', async () => {
    const before = await outside();
    const login = before.role;
    const other = `ct_${name}_other_${Date.now() % 100000}`;
    await db.sql.query(`create role ${other}`);
    // A non-superuser may SET ROLE only to a role it belongs to (PostgreSQL 15 does not grant it to the creator).
    await db.sql.query(`grant ${other} to ${login}`);
    try {
      await db.withTenant('a', async (sql) => {
        await sql.query('reset role');
        await sql.query(`set session authorization ${login}`);
        await sql.query(`set role ${other}`);
      });
      expect(await outside()).toEqual(before);
    } finally {
      await db.sql.query(`drop role ${other}`);
    }
  });

  it('a scope that failed (error swallowed) commits nothing and leaks nothing', async () => {
    const before = await outside();
    const error = await db
      .withTenant('a', async (sql) => {
        await sql`set search_path = tenant_b`;
        await sql`select 1/0`.catch(() => undefined);
        return 'swallowed';
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toMatchObject({ code: 'CGK_TRANSACTION_ABORTED' });
    expect(await outside()).toEqual(before);
    // The connection is still good.
    expect((await db.withTenant('a', (sql) => sql`select count(*)::int as n from orders`)).rows[0]!.n).toBe(0);
  });

  it('a scope that throws leaves no session advisory lock and no setting', async () => {
    const before = await outside();
    await db
      .withTenant('a', async (sql) => {
        await sql`select pg_advisory_lock(4242)`;
        await sql`set search_path = tenant_b`;
        throw new Error('boom');
      })
      .catch(() => undefined);
    expect(await outside()).toEqual(before);
    const { rows } = await db.sql`select count(*)::int as n from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()`;
    expect(rows[0]!.n).toBe(0);
  });
});

describe('session state after a scope, seen from the server (pg)', () => {
  it('the connection back in the pool has the login role and the default search_path', async () => {
    const scratch = await createAppDatabase('cgk_session');
    const db = new Database({ url: `${scratch.url}?pool_max=1&application_name=cgk_session_probe` });
    try {
      await setupDatabase({ db });
      await createTenant({ slug: 'c' }, { db });
      await db.withTenant('c', (sql) => sql`set search_path = tenant_c`);
      const { rows } = await adminQuery<{ state: string; usename: string }>(
        "select state, usename::text from pg_stat_activity where datname = $1 and application_name = 'cgk_session_probe'",
        [scratch.name],
      );
      expect(rows).toEqual([{ state: 'idle', usename: scratch.role }]);
      expect((await db.sql<{ p: string }>`select current_setting('search_path') as p`).rows[0]!.p).toBe('"$user", public');
    } finally {
      await db.end();
      await scratch.drop();
    }
  });
});
