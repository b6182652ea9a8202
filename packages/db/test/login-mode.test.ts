import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CgkError, Database, type QueryError, type Sql } from '../src/index.js';
import { tenantRoleName } from '../src/roles/tenant-role.js';
import { type AppDatabase, DROP_TIMEOUT_MS, adminQuery } from './helpers/database.js';
import { loginModeDatabase } from './helpers/login.js';
import { startPgBouncer, type PgBouncerInstance } from './helpers/pgbouncer.js';

/**
 * Issue #14, item 5: inside withTenant('a'), SQL that changes role. In set-role mode the connection is logged
 * in as the application role, a member of every tenant role, so each of these four statements gets back to
 * it, and then tenant b's orders and the platform's organizations are readable. In login mode the connection
 * is logged in as tenant a's role: the same four statements leave the scope in tenant a (or are refused).
 * Run as a non-superuser application role, directly and through a real PgBouncer that checks SCRAM passwords
 * against what the server stores (auth_query), so the derived passwords are proven right too.
 */

const SECRET = randomBytes(32).toString('base64');
const APP_PASSWORD = 'app-password-for-pgbouncer';

/** The four escapes of the issue, for an application role called `app`. */
const escapes = (app: string): Array<[string, string]> => [
  ['reset role', 'reset role'],
  ['set role <app role>', `set role "${app}"`],
  ["set_config('role', <app role>, false)", `select set_config('role', '${app}', false)`],
  ['set session authorization default', 'set session authorization default'],
];

interface Attempt {
  /** The escape statement's own outcome: ok, or its SQLSTATE. */
  escape: string;
  user: string;
  /** What reading tenant b's orders gave: the order numbers, or the SQLSTATE. */
  otherTenant: string[] | string;
  /** What reading public.organizations gave: the slugs, or the SQLSTATE. */
  platform: string[] | string;
}

/** Runs `statement` in a savepoint (so a refusal leaves the scope usable) and reports its outcome. */
async function attempt(sql: Sql, statement: string): Promise<string> {
  await sql.query('savepoint escape');
  try {
    await sql.query(statement);
    return 'ok';
  } catch (error) {
    await sql.query('rollback to savepoint escape');
    return (error as QueryError).sqlState ?? String(error);
  }
}

/** Reads `text` in a savepoint: the rows' `v`, or the SQLSTATE of the refusal. */
async function read(sql: Sql, text: string): Promise<string[] | string> {
  await sql.query('savepoint reading');
  try {
    const { rows } = await sql.query<{ v: string }>(text);
    await sql.query('release savepoint reading');
    return rows.map((r) => r.v);
  } catch (error) {
    await sql.query('rollback to savepoint reading');
    return (error as QueryError).sqlState ?? String(error);
  }
}

async function tryEscape(db: Database, statement: string): Promise<Attempt> {
  return db.withTenant('a', async (sql) => {
    const escaped = await attempt(sql, statement);
    const who = await sql<{ user: string }>`select current_user::text as user`;
    const otherTenant = await read(sql, 'select order_number as v from tenant_b.orders');
    const platform = await read(sql, 'select slug as v, shopify_access_token from public.organizations order by slug');
    return { escape: escaped, user: who.rows[0]!.user, otherTenant, platform };
  });
}

let app: AppDatabase;
let bouncer: PgBouncerInstance;
let roleA: string;

beforeAll(async () => {
  app = await loginModeDatabase('cgk_login', {
    secret: SECRET,
    appPassword: APP_PASSWORD,
    slugs: ['a', 'b'],
    seed: (db) => db.sql`insert into tenant_b.orders (order_number, currency, total_cents) values ('B-SECRET', 'USD', 100)`,
  });
  roleA = tenantRoleName('a', app.name);
  bouncer = await startPgBouncer({ targetUrl: app.url, auth: 'scram-sha-256', defaultPoolSize: 2 });
}, 120_000);

afterAll(async () => {
  await bouncer?.stop();
  await app?.drop();
}, DROP_TIMEOUT_MS);

const bouncerUrl = () => {
  const url = new URL(bouncer.url);
  url.password = APP_PASSWORD;
  return url.toString();
};

const targets: Array<[string, () => string]> = [
  ['directly', () => app.url],
  ['through PgBouncer (scram-sha-256)', bouncerUrl],
];

describe.each(targets)('the four escapes of issue #14, %s', (_, url) => {
  let login: Database;
  let setRole: Database;
  beforeAll(() => {
    login = new Database({ url: url(), tenantRoles: 'login', tenantRoleSecret: SECRET });
    setRole = new Database({ url: url(), tenantRoles: 'set-role' });
  });
  afterAll(async () => {
    await login?.end();
    await setRole?.end();
  });

  it.each(escapes('APP').map(([name]) => name))('login mode: "%s" stays in tenant a', async (name) => {
    const statement = escapes(app.role).find(([n]) => n === name)![1];
    const result = await tryEscape(login, statement);
    // Refused (42501) or allowed, the scope is still tenant a's role, which reaches nothing else.
    expect(['ok', '42501']).toContain(result.escape);
    expect(result).toMatchObject({ user: roleA, otherTenant: '42501', platform: '42501' });
  });

  it.each(escapes('APP').map(([name]) => name))('set-role mode: "%s" escapes (the documented difference)', async (name) => {
    const statement = escapes(app.role).find(([n]) => n === name)![1];
    const result = await tryEscape(setRole, statement);
    expect(result).toEqual({ escape: 'ok', user: app.role, otherTenant: ['B-SECRET'], platform: ['a', 'b'] });
  });

  it('login mode: the scope reads its own tenant, and the session is logged in as the tenant role', async () => {
    const { rows } = await login.withTenant(
      'b',
      (sql) => sql<{ n: number; who: string; session: string }>`
        select count(*)::int as n, current_user::text as who, session_user::text as session from orders`,
    );
    expect(rows).toEqual([{ n: 1, who: tenantRoleName('b', app.name), session: tenantRoleName('b', app.name) }]);
    // Outside a scope, the application role as before.
    const outside = await login.sql<{ who: string }>`select current_user::text as who`;
    expect(outside.rows[0]!.who).toBe(app.role);
  });
});

describe('login mode credentials', () => {
  it('refuses a wrong secret through PgBouncer with a typed CGK_CONNECTION error naming the secret', async () => {
    const wrong = new Database({ url: bouncerUrl(), tenantRoles: 'login', tenantRoleSecret: `${SECRET}-not-the-one` });
    try {
      const error = await wrong
        .withTenant('a', (sql) => sql`select 1`)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(CgkError);
      expect(error).toMatchObject({ code: 'CGK_CONNECTION' });
      expect((error as CgkError).message).toMatch(/refused the tenant role's password/);
      expect((error as CgkError).hint).toMatch(/CGK_TENANT_ROLE_SECRET/);
      expect((error as CgkError).message).not.toContain(SECRET);
    } finally {
      await wrong.end();
    }
  });

  it('a tenant that does not exist is CGK_TENANT_NOT_FOUND, not a login failure', async () => {
    const db = new Database({ url: bouncerUrl(), tenantRoles: 'login', tenantRoleSecret: SECRET });
    try {
      const error = await db
        .withTenant('nobody', (sql) => sql`select 1`)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toMatchObject({ code: 'CGK_TENANT_NOT_FOUND' });
    } finally {
      await db.end();
    }
  });
});

describe('login mode through PgBouncer: a server pool per tenant role', () => {
  it('PgBouncer keeps at most default_pool_size server connections per tenant role', async () => {
    const db = new Database({ url: bouncerUrl(), tenantRoles: 'login', tenantRoleSecret: SECRET });
    try {
      const scopes = Array.from({ length: 40 }, (_, i) =>
        db.withTenant(i % 2 ? 'a' : 'b', (sql) => sql`select pg_sleep(0.01), current_user::text as who`),
      );
      await Promise.all(scopes);
      const { rows } = await adminQuery<{ usename: string; n: number }>(
        'select usename::text, count(*)::int as n from pg_stat_activity where datname = $1 and usename like $2 group by usename order by 1',
        [app.name, 'ct\\_%'],
      );
      // Client side, up to pool_max (10) connections of the two tenants; server side, PgBouncer's pool per user.
      expect(rows.map((r) => r.usename)).toEqual([roleA, tenantRoleName('b', app.name)].sort());
      for (const r of rows) expect(r.n).toBeLessThanOrEqual(2);
    } finally {
      await db.end();
    }
  });
});
