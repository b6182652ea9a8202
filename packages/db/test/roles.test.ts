import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CgkError, Database, QueryError, createTenant, repairTenantRoles, setupDatabase } from '../src/index.js';
import { tenantRoleName } from '../src/roles.js';
import { adminQuery, createTestDatabase, type TestDatabase } from './helpers/database.js';
import { startPgBouncer, type PgBouncerInstance } from './helpers/pgbouncer.js';

// Isolation enforced by PostgreSQL: inside withTenant('a') the connection runs as tenant a's own role.
describe('a role per tenant', () => {
  let scratch: TestDatabase;
  let appRole: string;
  let db: Database;
  let bouncer: PgBouncerInstance;
  let pooled: Database;

  beforeAll(async () => {
    scratch = await createTestDatabase('cgk_roles');
    // The application connects as an ordinary role (owner of the database, may create roles), not a superuser:
    // a superuser would pass every permission check the tests below expect to fail.
    appRole = `app_${scratch.name}`;
    await adminQuery(`create role ${appRole} login createrole`);
    await adminQuery(`alter database ${scratch.name} owner to ${appRole}`);
    const url = new URL(scratch.url);
    url.username = appRole;
    const owner = new Database({ url: `postgres://postgres@127.0.0.1:5432/${scratch.name}` });
    await owner.sql.query(`alter schema public owner to ${appRole}`);
    await owner.end();
    db = new Database({ url: url.toString(), tenantRoles: true });
    await setupDatabase({ db });
    await createTenant({ slug: 'a' }, { db });
    await createTenant({ slug: 'b' }, { db });
    await db.sql`insert into tenant_b.orders (order_number, currency, total_cents) values ('B-1', 'USD', 100)`.catch(async () => {
      await db.sql.query('insert into tenant_b.customers (email) values ($1)', ['b@example.com']);
    });
    bouncer = await startPgBouncer({ targetUrl: url.toString(), poolMode: 'transaction', defaultPoolSize: 1 });
    pooled = new Database({ url: bouncer.url, tenantRoles: true });
  });
  afterAll(async () => {
    await pooled?.end();
    await bouncer?.stop();
    await db?.end();
    await scratch?.drop();
    await adminQuery(`drop role if exists ${appRole}`);
  });

  const denied = async (run: Promise<unknown>) => {
    const error = await run.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(QueryError);
    expect((error as QueryError).sqlState).toBe('42501');
    expect((error as Error).message).toMatch(/permission denied/);
  };

  it('runs as the tenant role whose name carries this database\'s tag, in the first scope and in later ones', async () => {
    const fresh = new Database({ url: db.config.url!, tenantRoles: true });
    try {
      const expected = tenantRoleName('a', scratch.name);
      // The first scope computes the name on the server; later ones send the name the first one reported.
      for (let i = 0; i < 3; i++) {
        const { rows } = await fresh.withTenant('a', (sql) => sql<{ who: string }>`select current_user as who`);
        expect(rows[0]!.who).toBe(expected);
      }
      expect(fresh.databaseTag).toBe(expected.slice(3, 11));
    } finally {
      await fresh.end();
    }
  });

  it('works on its own tables', async () => {
    const rows = await db.withTenant('a', async (sql) => {
      await sql`insert into customers (email) values (${'a@example.com'})`;
      await sql`update customers set first_name = 'A' where email = ${'a@example.com'}`;
      return (await sql<{ email: string; first_name: string }>`select email, first_name from customers`).rows;
    });
    expect(rows).toEqual([{ email: 'a@example.com', first_name: 'A' }]);
  });

  it('refuses another tenant\'s schema, for reading and for writing', async () => {
    await denied(db.withTenant('a', (sql) => sql`select * from tenant_b.customers`));
    await denied(db.withTenant('a', (sql) => sql`insert into tenant_b.customers (email) values ('x@example.com')`));
    await denied(db.withTenant('a', (sql) => sql`delete from tenant_b.orders`));
  });

  it('refuses the platform tables that hold identities and secrets', async () => {
    for (const table of ['users', 'sessions', 'api_keys', 'magic_links', 'billing', 'organizations']) {
      await denied(db.withTenant('a', (sql) => sql.query(`select * from public.${table}`)));
    }
  });

  it('cannot rewrite its own migration history', async () => {
    await denied(db.withTenant('a', (sql) => sql`delete from schema_migrations`));
  });

  it('returns the connection to the application role after the scope, directly and through PgBouncer', async () => {
    for (const database of [db, pooled]) {
      const inside = await database.withTenant('a', (sql) => sql<{ who: string }>`select current_user as who`);
      expect(inside.rows[0]!.who).toMatch(/^ct_[0-9a-f]{8}_a$/);
      for (let i = 0; i < 5; i++) {
        const { rows } = await database.sql<{ who: string }>`select current_user as who`;
        expect(rows[0]!.who).toBe(appRole);
      }
    }
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
  });

  it('can be switched off (search_path-only isolation), explicitly', async () => {
    const off = new Database({ url: db.config.url!, tenantRoles: false });
    try {
      const { rows } = await off.withTenant('a', (sql) => sql<{ who: string }>`select current_user as who`);
      expect(rows[0]!.who).toBe(appRole);
    } finally {
      await off.end();
    }
  });
});
