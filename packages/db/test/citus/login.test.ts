import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, Database, type QueryError, setupDatabase } from '../../src/index.js';
import { createCitusDatabase, type CitusDatabase } from '../helpers/citus.js';

/**
 * Login mode (docs/ISOLATION.md) on Citus: a scope's connection to the coordinator is logged in as the
 * tenant's own role, and Citus reaches the tenant's worker as that role. The escapes of set-role mode
 * (RESET ROLE, SET SESSION AUTHORIZATION DEFAULT, SET ROLE <login role>) must leave the scope in the tenant,
 * and another tenant's distributed tables and the platform tables stay refused.
 */

let cluster: CitusDatabase;
let db: Database;
let admin: Database;
/** The same login mode with every scope through the coordinator (`citus_routing=off`). */
let through: Database;

beforeAll(async () => {
  cluster = await createCitusDatabase('cgk_citus_login');
  const secret = randomBytes(32).toString('base64');
  admin = new Database({ url: cluster.url, tenantRoles: true });
  db = new Database({ url: cluster.url, tenantRoles: 'login', tenantRoleSecret: secret });
  through = new Database({ url: `${cluster.url}?citus_routing=off`, tenantRoles: 'login', tenantRoleSecret: secret });
  await setupDatabase({ db });
  for (const slug of ['a', 'b']) await createTenant({ slug }, { db });
  await db.withTenant('b', (sql) => sql`insert into customers (email) values ('b-secret@example.com')`);
});

afterAll(async () => {
  await db?.end();
  await through?.end();
  await admin?.end();
  await cluster?.drop();
});

describe('login mode on Citus (coordinator + 2 workers)', () => {
  it('a scope runs as the tenant role on its worker; no escape reaches another tenant or the platform tables', async () => {
    const login = (await admin.query({ text: 'select current_user::text as u' })).rows[0]!.u as string;
    for (const [how, scopes] of [
      ['routed', db],
      ['through the coordinator', through],
    ] as const) {
      for (const statement of ['reset role', 'set session authorization default', `set role "${login}"`]) {
        const seen = await scopes.withTenant('a', async (sql) => {
          await sql.query('savepoint s');
          const escaped = await sql.query(statement).then(
            () => 'ok',
            async (error: QueryError) => {
              await sql.query('rollback to savepoint s');
              return error.sqlState;
            },
          );
          const user = (await sql<{ u: string }>`select current_user::text as u`).rows[0]!.u;
          const refused = async (text: string) => {
            await sql.query('savepoint r');
            return sql.query(text).then(
              () => 'read',
              async (error: QueryError) => {
                await sql.query('rollback to savepoint r');
                return error.sqlState;
              },
            );
          };
          const own = (await sql<{ n: number }>`select count(*)::int as n from customers`).rows[0]!.n;
          return {
            escaped,
            user,
            own,
            other: await refused('select email from tenant_b.customers'),
            platform: await refused('select shopify_access_token from public.organizations'),
          };
        });
        expect(seen.user, `${how}: ${statement}`).toMatch(/^ct_[0-9a-f]{8}_a$/);
        expect(seen.own, `${how}: ${statement}`).toBe(0);
        expect(seen.other, `${how}: ${statement}`).toBe('42501');
        // Routed, the scope runs on a worker, where the platform tables do not exist at all (42P01).
        expect(seen.platform, `${how}: ${statement}`).toBe(how === 'routed' ? '42P01' : '42501');
        // SET ROLE to the login role is refused outright (a tenant role is a member of no role).
        if (statement.startsWith('set role')) expect(seen.escaped).toBe('42501');
      }
    }
  });

  it("tenant b's scope reads its own distributed rows through its own login", async () => {
    const rows = await db.withTenant('b', async (sql) => (await sql<{ email: string }>`select email from customers`).rows);
    expect(rows).toEqual([{ email: 'b-secret@example.com' }]);
  });
});
