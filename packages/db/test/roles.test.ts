import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CgkError, Database, QueryError, createTenant, repairTenantRoles, setupDatabase } from '../src/index.js';
import { tenantRoleName } from '../src/roles/tenant-role.js';
import { createAppDatabase, type AppDatabase, DROP_TIMEOUT_MS } from './helpers/database.js';
import { startPgBouncer, type PgBouncerInstance } from './helpers/pgbouncer.js';
import { onLocalhost, openThroughRelay, startWsRelay, type WsRelay } from './helpers/ws-relay.js';

// Isolation enforced by PostgreSQL: inside withTenant('a') the connection runs as tenant a's own role. The
// application connects as an ordinary role (owner of the database, may create roles), never a superuser: a
// superuser would pass every permission check these tests expect to fail. The same checks run on every driver:
// node-postgres directly and through PgBouncer in transaction mode, @neondatabase/serverless and
// @vercel/postgres through a local WebSocket relay, and the embedded PostgreSQL (whose only user is the
// superuser postgres; inside a scope the tenant role's rights apply all the same).

type Target = 'pg' | 'pgbouncer' | 'neon' | 'vercel' | 'pglite';

interface Fixture {
  /** The database the tests run through. */
  db: Database;
  /** The role the application connects as. */
  appRole: string;
  /** Name of the database (for the role names it implies). */
  database: string;
  /** The same database through node-postgres directly (set-up and checks from outside the driver under test). */
  direct: Database;
  teardown(): Promise<void>;
}

async function populate(db: Database): Promise<void> {
  await setupDatabase({ db });
  await createTenant({ slug: 'a' }, { db });
  await createTenant({ slug: 'b' }, { db });
  await db.sql`insert into tenant_b.orders (order_number, currency, total_cents) values ('B-1', 'USD', 100)`;
  await db.sql`insert into tenant_b.customers (email) values ('b@example.com')`;
}

async function open(target: Target): Promise<Fixture> {
  if (target === 'pglite') {
    const db = new Database({ driver: 'pglite', dataDir: ':memory:', tenantRoles: true });
    await populate(db);
    const { rows } = await db.sql<{ name: string }>`select current_database() as name`;
    return { db, direct: db, appRole: 'postgres', database: rows[0]!.name, teardown: () => db.end() };
  }
  const app: AppDatabase = await createAppDatabase('cgk_roles');
  const direct = new Database({ url: app.url, tenantRoles: true });
  let bouncer: PgBouncerInstance | undefined;
  let relay: WsRelay | undefined;
  let db: Database | undefined;
  const teardown = async () => {
    if (db !== direct) await db?.end();
    await direct.end();
    await bouncer?.stop();
    await relay?.stop();
    await app.drop();
  };
  try {
    await populate(direct);
    if (target === 'pg') db = direct;
    else if (target === 'pgbouncer') {
      bouncer = await startPgBouncer({ targetUrl: app.url, poolMode: 'transaction', defaultPoolSize: 1 });
      db = new Database({ url: bouncer.url, tenantRoles: true });
    } else {
      relay = await startWsRelay();
      db = new Database({ url: onLocalhost(app.url), driver: target, tenantRoles: true });
      await openThroughRelay(db, relay);
    }
  } catch (error) {
    await teardown().catch(() => {});
    throw error;
  }
  return { db, direct, appRole: app.role, database: app.name, teardown };
}

const denied = async (run: Promise<unknown>) => {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(QueryError);
  expect((error as QueryError).sqlState).toBe('42501');
  expect((error as Error).message).toMatch(/permission denied|must be owner/);
};

describe.each(['pg', 'pgbouncer', 'neon', 'vercel', 'pglite'] as const)('a role per tenant, on %s', (target) => {
  let f: Fixture;

  beforeAll(async () => {
    f = await open(target);
  }, 120_000);
  afterAll(async () => {
    await f?.teardown();
  }, DROP_TIMEOUT_MS);

  it("connects as the application role, which is not a superuser (except the embedded database's only user)", async () => {
    const { rows } = await f.db.sql<{
      who: string;
      su: boolean;
    }>`select current_user as who, rolsuper as su from pg_roles where rolname = current_user`;
    expect(rows).toEqual([{ who: f.appRole, su: target === 'pglite' }]);
  });

  it("runs as the tenant role whose name carries this database's tag, in the first scope and in later ones", async () => {
    const expected = tenantRoleName('a', f.database);
    for (let i = 0; i < 3; i++) {
      const { rows } = await f.db.withTenant(
        'a',
        (sql) =>
          sql<{
            who: string;
            su: boolean;
          }>`select current_user as who, rolsuper as su from pg_roles where rolname = current_user`,
      );
      expect(rows).toEqual([{ who: expected, su: false }]);
    }
    expect(f.db.databaseTag).toBe(expected.slice(3, 11));
  });

  it('works on its own tables', async () => {
    const rows = await f.db.withTenant('a', async (sql) => {
      await sql`insert into customers (email) values (${'a@example.com'})`;
      await sql`update customers set first_name = 'A' where email = ${'a@example.com'}`;
      return (await sql<{ email: string; first_name: string }>`select email, first_name from customers`).rows;
    });
    expect(rows).toEqual([{ email: 'a@example.com', first_name: 'A' }]);
    await f.db.withTenant('a', (sql) => sql`delete from customers`);
  });

  it("refuses another tenant's schema, for reading and for writing", async () => {
    await denied(f.db.withTenant('a', (sql) => sql`select * from tenant_b.customers`));
    await denied(f.db.withTenant('a', (sql) => sql`select * from tenant_b.orders`));
    await denied(f.db.withTenant('a', (sql) => sql`insert into tenant_b.customers (email) values ('x@example.com')`));
    await denied(f.db.withTenant('a', (sql) => sql`update tenant_b.orders set total_cents = 0`));
    await denied(f.db.withTenant('a', (sql) => sql`delete from tenant_b.orders`));
    // Nothing changed there.
    const { rows } = await f.direct.sql<{ total: string }>`select total_cents::text as total from tenant_b.orders`;
    expect(rows).toEqual([{ total: '100' }]);
  });

  it('refuses the platform tables that hold identities and secrets', async () => {
    for (const table of ['users', 'sessions', 'api_keys', 'magic_links', 'billing', 'organizations']) {
      await denied(f.db.withTenant('a', (sql) => sql.query(`select * from public.${table}`)));
    }
    await denied(f.db.withTenant('a', (sql) => sql`update public.organizations set name = 'pwned'`));
  });

  it('cannot rewrite its own migration history', async () => {
    await denied(f.db.withTenant('a', (sql) => sql`delete from schema_migrations`));
    await denied(f.db.withTenant('a', (sql) => sql`select * from schema_migrations`));
  });

  it('runs no DDL: no table created in its own schema or in public, none altered or dropped', async () => {
    await denied(f.db.withTenant('a', (sql) => sql`create table scratch_in_scope (id int)`));
    await denied(f.db.withTenant('a', (sql) => sql`create table tenant_a.scratch_in_scope (id int)`));
    await denied(f.db.withTenant('a', (sql) => sql`create table public.scratch_in_scope (id int)`));
    await denied(f.db.withTenant('a', (sql) => sql`create view scratch_view as select 1 as x`));
    await denied(f.db.withTenant('a', (sql) => sql`alter table orders add column pwned int`));
    await denied(f.db.withTenant('a', (sql) => sql`drop table orders`));
    const { rows } = await f.direct.sql<{
      n: number;
    }>`select count(*)::int as n from pg_class where relname in ('scratch_in_scope', 'scratch_view')`;
    expect(rows[0]!.n).toBe(0);
  });

  it('returns the connection to the application role after the scope', async () => {
    const inside = await f.db.withTenant('a', (sql) => sql<{ who: string }>`select current_user as who`);
    expect(inside.rows[0]!.who).toMatch(/^ct_[0-9a-f]{8}_a$/);
    for (let i = 0; i < 5; i++) {
      const { rows } = await f.db.sql<{
        who: string;
        path: string;
      }>`select current_user as who, current_setting('search_path') as path`;
      expect(rows[0]!.who).toBe(f.appRole);
      expect(rows[0]!.path).not.toContain('tenant_');
    }
    // A failed scope too.
    await denied(f.db.withTenant('a', (sql) => sql`select * from tenant_b.orders`));
    const { rows } = await f.db.sql<{ who: string }>`select current_user as who`;
    expect(rows[0]!.who).toBe(f.appRole);
  });
});

describe('a role per tenant: naming and repair (node-postgres, non-superuser application role)', () => {
  let app: AppDatabase;
  let db: Database;

  beforeAll(async () => {
    app = await createAppDatabase('cgk_roles');
    db = new Database({ url: app.url, tenantRoles: true });
    await setupDatabase({ db });
  }, 120_000);
  afterAll(async () => {
    await db?.end();
    await app?.drop();
  }, DROP_TIMEOUT_MS);

  it('gives two long slugs sharing a 55-character prefix two different roles, each kept to its own schema', async () => {
    const prefix = 'longshop_'.repeat(6).slice(0, 55);
    const [one, two] = [`${prefix}x`, `${prefix}y`];
    await createTenant({ slug: one }, { db });
    await createTenant({ slug: two }, { db });
    const who = async (slug: string) =>
      (await db.withTenant(slug, (sql) => sql<{ who: string }>`select current_user as who`)).rows[0]!.who;
    const [roleOne, roleTwo] = [await who(one), await who(two)];
    expect(roleOne).toBe(tenantRoleName(one, app.name));
    expect(roleTwo).toBe(tenantRoleName(two, app.name));
    expect(roleOne).not.toBe(roleTwo);
    await denied(db.withTenant(one, (sql) => sql.query(`select * from tenant_${two}.orders`)));
    await denied(db.withTenant(two, (sql) => sql.query(`select * from tenant_${one}.orders`)));
  });

  it('refuses a scope whose tenant has no role, with a hint, and repairs it', async () => {
    await db.sql`create schema tenant_legacy`;
    await db.sql`create table tenant_legacy.orders (id int)`;
    const error = await db.withTenant('legacy', (sql) => sql`select * from orders`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CgkError);
    expect(error).toMatchObject({ code: 'CGK_ROLE' });
    expect((error as CgkError).hint).toMatch(/tenant:repair legacy/);
    const repaired = await repairTenantRoles({ db, slug: 'legacy' });
    expect(repaired).toEqual(['legacy']);
    const { rows } = await db.withTenant('legacy', (sql) => sql`select * from orders`);
    expect(rows).toEqual([]);
    await denied(db.withTenant('legacy', (sql) => sql`create table more (id int)`));
  });

  it('can be switched off (search_path-only isolation), explicitly', async () => {
    const off = new Database({ url: app.url, tenantRoles: false });
    try {
      const { rows } = await off.withTenant('legacy', (sql) => sql<{ who: string }>`select current_user as who`);
      expect(rows[0]!.who).toBe(app.role);
    } finally {
      await off.end();
    }
  });
});
