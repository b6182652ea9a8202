import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, createTenant, diagnose, listTenants, repairTenantRoles, setupDatabase } from '../src/index.js';
import { type AppDatabase, DROP_TIMEOUT_MS, createAppDatabase } from './helpers/database.js';
import { loginModeDatabase } from './helpers/login.js';

/**
 * Issue #23 items 4, 5 and 9 (concurrent createTenant in login mode): what a tenant can do to its own role,
 * what the doctor says about it and about a superuser application role, and what tenant:repair undoes.
 * As a non-superuser application role; the password comparison also as the superuser, who alone may read
 * pg_authid.
 */

const SECRET = randomBytes(32).toString('base64');
let app: AppDatabase;
const env = { CGK_TENANT_ROLES: 'login', CGK_TENANT_ROLE_SECRET: SECRET } as NodeJS.ProcessEnv;
const open = (url: string) => new Database({ url, tenantRoles: 'login', tenantRoleSecret: SECRET });

beforeAll(async () => {
  app = await loginModeDatabase('cgk_doctor_sec', { secret: SECRET, appPassword: 'app-password', slugs: ['a'] });
}, 120_000);
afterAll(async () => app?.drop(), DROP_TIMEOUT_MS);

const check = async (db: Database, name: string) => (await diagnose({ db, env })).checks.find((c) => c.name === name);

describe('doctor and tenant:repair against a hostile tenant (login mode)', () => {
  it('warns on settings a tenant gave its own role, and tenant:repair removes them', async () => {
    const db = open(app.url);
    try {
      await db.withTenant('a', (sql) => sql`alter role current_user set default_transaction_read_only = on`);
      expect(await check(db, 'role settings')).toMatchObject({ status: 'warn', hint: expect.stringContaining('tenant:repair') });
      await repairTenantRoles({ db });
      expect(await check(db, 'role settings')).toMatchObject({ status: 'ok' });
    } finally {
      await db.end();
    }
  });

  it('compares passwords as a superuser (warns after the tenant changed its own), says why not otherwise', async () => {
    const db = open(app.url);
    const admin = open(app.adminUrl);
    try {
      expect(await check(admin, 'role passwords')).toMatchObject({
        status: 'ok',
        detail: expect.stringMatching(/^1 tenant roles have/),
      });
      await db.withTenant('a', (sql) => sql.query("alter role current_user password 'taken-over'"));
      expect(await check(admin, 'role passwords')).toMatchObject({ status: 'warn' });
      expect(await check(db, 'role passwords')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^not checked/) });
      await repairTenantRoles({ db });
      expect(await check(admin, 'role passwords')).toMatchObject({ status: 'ok' });
    } finally {
      await db.end();
      await admin.end();
    }
  });

  it('warns that tenant roles can CONNECT to other databases (PUBLIC has CONNECT on postgres)', async () => {
    const db = open(app.url);
    try {
      const found = await check(db, 'role reach');
      expect(found).toMatchObject({ status: 'warn', hint: expect.stringContaining('REVOKE CONNECT ON DATABASE') });
      expect(found?.detail).toContain('postgres');
    } finally {
      await db.end();
    }
  });

  it('warns on a superuser application role (COPY ... TO PROGRAM), not on the ordinary one', async () => {
    const db = open(app.url);
    const admin = open(app.adminUrl);
    try {
      expect(await check(db, 'app role')).toMatchObject({ status: 'ok' });
      expect(await check(admin, 'app role')).toMatchObject({
        status: 'warn',
        detail: expect.stringContaining('COPY ... TO PROGRAM'),
      });
    } finally {
      await db.end();
      await admin.end();
    }
  });
});

describe('createTenant in login mode, 4 at a time (#23 item 9)', () => {
  let scratch: AppDatabase;
  afterAll(async () => scratch?.drop(), DROP_TIMEOUT_MS);

  it('creates every tenant: no "tuple concurrently updated", nothing half-made', async () => {
    scratch = await createAppDatabase('cgk_login_concurrent');
    const db = open(scratch.url);
    try {
      await setupDatabase({ db });
      const slugs = Array.from({ length: 12 }, (_, i) => `t${i}`);
      const outcomes: unknown[] = [];
      for (let i = 0; i < slugs.length; i += 4) {
        const batch = slugs.slice(i, i + 4).map((slug) =>
          createTenant({ slug }, { db }).then(
            () => 'ok',
            (e: Error) => e.message,
          ),
        );
        outcomes.push(...(await Promise.all(batch)));
      }
      expect(outcomes).toEqual(slugs.map(() => 'ok'));
      expect((await listTenants({ db })).map((t) => t.slug).sort()).toEqual([...slugs].sort());
      const rows = await Promise.all(
        slugs.map((slug) => db.withTenant(slug, (sql) => sql`select count(*)::int as n from orders`)),
      );
      expect(rows.map((r) => r.rows[0]!.n)).toEqual(slugs.map(() => 0));
    } finally {
      await db.end();
    }
  }, 180_000);
});
