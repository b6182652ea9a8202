import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, createPendingTenants, createTenant, renameTenant } from '../src/index.js';
import { tenantRoleVerifier } from '../src/roles/credentials.js';
import { tenantRoleName } from '../src/roles/tenant-role.js';
import { adminQuery, DROP_TIMEOUT_MS, type AppDatabase } from './helpers/database.js';
import { loginModeDatabase } from './helpers/login.js';

// Login mode: a tenant role's password derives from the role's NAME, so a claimed pending tenant and a renamed
// tenant must leave the transaction with the verifier of their new name (and nothing of the old one).

const SECRET = 'lifecycle-login-secret-0123456789abcdef';

describe('pending tenants and rename in login mode (pg)', () => {
  let app: AppDatabase;
  let db: Database;

  beforeAll(async () => {
    app = await loginModeDatabase('cgk_login_lifecycle', { secret: SECRET, appPassword: 'app-pw-lifecycle', slugs: [] });
    db = new Database({ url: app.url, tenantRoles: 'login', tenantRoleSecret: SECRET });
  }, 120_000);
  afterAll(async () => {
    await db?.end();
    await app?.drop();
  }, DROP_TIMEOUT_MS);

  async function storedVerifier(slug: string): Promise<string | undefined> {
    const { rows } = await adminQuery<{ v: string | null }>('select rolpassword as v from pg_authid where rolname = $1', [
      tenantRoleName(slug, app.name),
    ]);
    return rows[0]?.v ?? undefined;
  }

  it('gives a claimed pending tenant the password of its new role name, and it can log in', async () => {
    await createPendingTenants(1, { db });
    const { claimed } = await createTenant({ slug: 'claimed_login' }, { db });
    expect(claimed).toBe(true);
    expect(await storedVerifier('claimed_login')).toBe(
      await tenantRoleVerifier(SECRET, tenantRoleName('claimed_login', app.name)),
    );
    const { rows } = await db.withTenant('claimed_login', (sql) => sql<{ who: string }>`select session_user as who`);
    expect(rows[0]!.who).toBe(tenantRoleName('claimed_login', app.name));
  });

  it('gives a pending tenant built while tenant roles were off its role when it is claimed', async () => {
    const off = new Database({ url: app.url, tenantRoles: 'off' });
    try {
      await createPendingTenants(1, { db: off });
    } finally {
      await off.end();
    }
    const { claimed } = await createTenant({ slug: 'roleless' }, { db });
    expect(claimed).toBe(true);
    expect(await storedVerifier('roleless')).toBe(await tenantRoleVerifier(SECRET, tenantRoleName('roleless', app.name)));
    const { rows } = await db.withTenant(
      'roleless',
      (sql) => sql<{ who: string; n: number }>`
      select session_user as who, (select count(*)::int from customers) as n`,
    );
    expect(rows[0]).toEqual({ who: tenantRoleName('roleless', app.name), n: 0 });
  });

  it('gives a renamed tenant the password of its new role name; the old slug logs in no more', async () => {
    await db.withTenant('claimed_login', (sql) => sql`insert into customers (email) values ('l@example.com')`);
    await renameTenant('claimed_login', 'renamed_login', { db, cache: false });
    expect(await storedVerifier('renamed_login')).toBe(
      await tenantRoleVerifier(SECRET, tenantRoleName('renamed_login', app.name)),
    );
    expect(await storedVerifier('claimed_login')).toBeUndefined();
    const { rows } = await db.withTenant(
      'renamed_login',
      (sql) => sql<{ who: string; n: number }>`
      select session_user as who, (select count(*)::int from customers) as n`,
    );
    expect(rows[0]).toEqual({ who: tenantRoleName('renamed_login', app.name), n: 1 });
    await expect(db.withTenant('claimed_login', (sql) => sql`select 1`)).rejects.toMatchObject({ code: 'CGK_TENANT_NOT_FOUND' });
  });
});
