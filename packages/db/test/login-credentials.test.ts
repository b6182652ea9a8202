import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  Database,
  createTenant,
  diagnose,
  repairTenantRoles,
  setupDatabase,
  tenantRoleModeFromEnv,
} from '../src/index.js';
import { tenantRoleName } from '../src/roles/tenant-role.js';
import { formerTenantRoleSecrets, scramVerifier, tenantRoleVerifier } from '../src/roles/credentials.js';
import { createAppDatabase, type AppDatabase, DROP_TIMEOUT_MS, adminQuery } from './helpers/database.js';
import { startPgBouncer, type PgBouncerInstance } from './helpers/pgbouncer.js';

/**
 * Login mode's configuration and credentials: the mode's names, the refusals (no secret, a short one, a driver
 * that cannot log in as a tenant), the SCRAM verifiers createTenant and tenant:repair store (compared with
 * pg_authid, and checked by a real PgBouncer in scram-sha-256 mode), rotation of the secret, and `doctor`.
 */

const SECRET = randomBytes(32).toString('base64');
const ROTATED = randomBytes(32).toString('base64');
const APP_PASSWORD = 'app-password-for-pgbouncer';
let app: AppDatabase;
let bouncer: PgBouncerInstance;
const saved = process.env.CGK_TENANT_ROLE_SECRET;

beforeAll(async () => {
  delete process.env.CGK_TENANT_ROLE_SECRET;
  app = await createAppDatabase('cgk_lcred');
  await adminQuery(`alter role "${app.role}" password '${APP_PASSWORD}'`);
  const db = new Database({ url: app.url, tenantRoles: 'set-role' });
  try {
    await setupDatabase({ db });
    // Made in set-role mode: its role is NOLOGIN, without a password.
    await createTenant({ slug: 'old' }, { db });
  } finally {
    await db.end();
  }
  bouncer = await startPgBouncer({ targetUrl: app.url, auth: 'scram-sha-256', defaultPoolSize: 1 });
}, 120_000);

afterAll(async () => {
  if (saved !== undefined) process.env.CGK_TENANT_ROLE_SECRET = saved;
  await bouncer?.stop();
  await app?.drop();
}, DROP_TIMEOUT_MS);

const opened: Database[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((db) => db.end()));
});

function login(secret: string | undefined, url = app.url): Database {
  const db = new Database({ url, tenantRoles: 'login', ...(secret === undefined ? {} : { tenantRoleSecret: secret }) });
  opened.push(db);
  return db;
}

const viaBouncer = () => {
  const url = new URL(bouncer.url);
  url.password = APP_PASSWORD;
  return url.toString();
};

async function stored(slug: string): Promise<{ login: boolean; password: string | null }> {
  const { rows } = await adminQuery<{ login: boolean; password: string | null }>(
    'select rolcanlogin as login, rolpassword as password from pg_authid where rolname = $1',
    [tenantRoleName(slug, app.name)],
  );
  return rows[0]!;
}

const failed = (work: Promise<unknown>) =>
  work.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('the isolation mode setting', () => {
  it('reads CGK_TENANT_ROLES: off, on, set-role, login; refuses anything else', () => {
    expect(tenantRoleModeFromEnv({})).toBe('set-role');
    expect(tenantRoleModeFromEnv({ CGK_TENANT_ROLES: 'off' })).toBe('off');
    expect(tenantRoleModeFromEnv({ CGK_TENANT_ROLES: 'on' })).toBe('set-role');
    expect(tenantRoleModeFromEnv({ CGK_TENANT_ROLES: 'set-role' })).toBe('set-role');
    expect(tenantRoleModeFromEnv({ CGK_TENANT_ROLES: 'LOGIN' })).toBe('login');
    expect(() => tenantRoleModeFromEnv({ CGK_TENANT_ROLES: 'strict' })).toThrow(ConfigError);
    expect(new Database({ url: app.url, tenantRoles: true }).tenantRoleMode).toBe('set-role');
    expect(new Database({ url: app.url, tenantRoles: false }).tenantRoleMode).toBe('off');
  });

  it.each(['pglite', 'neon', 'vercel'] as const)(
    'refuses login mode on the %s driver with a ConfigError saying why',
    (driver) => {
      const make = () =>
        new Database(
          driver === 'pglite'
            ? { driver, dataDir: ':memory:', tenantRoles: 'login', tenantRoleSecret: SECRET }
            : { driver, url: app.url, tenantRoles: 'login', tenantRoleSecret: SECRET },
        );
      expect(make).toThrow(ConfigError);
      expect(make).toThrow(/not supported on the \w+ driver/);
    },
  );

  it('refuses a scope, and tenant creation, without a secret or with a short one: ConfigError, nothing created', async () => {
    const none = await failed(login(undefined).withTenant('old', (sql) => sql`select 1`));
    expect(none).toBeInstanceOf(ConfigError);
    expect(none).toMatchObject({ code: 'CGK_CONFIG', message: expect.stringMatching(/CGK_TENANT_ROLE_SECRET/) });
    expect((none as ConfigError).hint).toMatch(/openssl rand/);
    const short = await failed(login('too-short').withTenant('old', (sql) => sql`select 1`));
    expect(short).toMatchObject({ code: 'CGK_CONFIG', message: expect.stringMatching(/at least 32/) });
    const db = login(undefined);
    expect(await failed(createTenant({ slug: 'nosecret' }, { db }))).toBeInstanceOf(ConfigError);
    expect((await db.sql`select 1 from public.organizations where slug = 'nosecret'`).rows).toEqual([]);
  });
});

describe('tenant role credentials', () => {
  it('computes the SCRAM-SHA-256 verifier PostgreSQL computes for the same password and salt', async () => {
    const role = `cgk_scram_${randomBytes(3).toString('hex')}`;
    await adminQuery(`create role ${role} password 'Some-password_1'`);
    try {
      const { rows } = await adminQuery<{ v: string }>('select rolpassword as v from pg_authid where rolname = $1', [role]);
      const [, iterations, salt] = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(rows[0]!.v)!;
      expect(await scramVerifier('Some-password_1', Buffer.from(salt!, 'base64'), Number(iterations))).toBe(rows[0]!.v);
    } finally {
      await adminQuery(`drop role ${role}`);
    }
  });

  it('createTenant gives the role LOGIN and the verifier of its derived password; a wrong secret cannot log in', async () => {
    await createTenant({ slug: 'fresh' }, { db: login(SECRET) });
    const role = tenantRoleName('fresh', app.name);
    expect(await stored('fresh')).toEqual({ login: true, password: await tenantRoleVerifier(SECRET, role) });
    const { rows } = await login(SECRET, viaBouncer()).withTenant('fresh', (sql) => sql`select session_user::text as who`);
    expect(rows).toEqual([{ who: role }]);
    const error = await failed(login(ROTATED, viaBouncer()).withTenant('fresh', (sql) => sql`select 1`));
    expect(error).toMatchObject({ code: 'CGK_CONNECTION' });
  });

  it('tenant:repair turns a set-role tenant into a login one, and rotates the secret', async () => {
    expect(await stored('old')).toEqual({ login: false, password: null });
    expect(await failed(login(SECRET, viaBouncer()).withTenant('old', (sql) => sql`select 1`))).toMatchObject({
      code: expect.stringMatching(/^CGK_(ROLE|CONNECTION)$/),
    });
    await repairTenantRoles({ db: login(SECRET), slug: 'old' });
    const role = tenantRoleName('old', app.name);
    expect(await stored('old')).toEqual({ login: true, password: await tenantRoleVerifier(SECRET, role) });
    expect((await login(SECRET, viaBouncer()).withTenant('old', (sql) => sql`select 1 as one`)).rows).toEqual([{ one: 1 }]);
    // Rotation: repair every tenant with the new secret; the old one no longer logs in, the new one does.
    expect(await repairTenantRoles({ db: login(ROTATED) })).toEqual(['fresh', 'old']);
    expect(await stored('old')).toEqual({ login: true, password: await tenantRoleVerifier(ROTATED, role) });
    expect(await failed(login(SECRET, viaBouncer()).withTenant('old', (sql) => sql`select 1`))).toMatchObject({
      code: 'CGK_CONNECTION',
    });
    expect((await login(ROTATED, viaBouncer()).withTenant('fresh', (sql) => sql`select 1 as one`)).rows).toEqual([{ one: 1 }]);
  });
});

describe('doctor in login mode', () => {
  const checks = async (db: Database) => {
    const report = await diagnose({ db, env: { DATABASE_URL: db.config.url }, redisTimeoutMs: 500 });
    return Object.fromEntries(report.checks.map((c) => [c.name, c]));
  };

  it('passes with the secret and LOGIN roles, logging in as a tenant through PgBouncer with its derived password', async () => {
    const found = await checks(login(ROTATED, viaBouncer()));
    expect(found['tenant roles']).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^login: /) });
    expect(found['login secret']).toMatchObject({ status: 'ok' });
    expect(found['tenant pools']).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/^at most 10 connections \(tenant_pool_max\) for at most 10 tenants/),
    });
    expect(found['login secret']!.detail).not.toContain(ROTATED);
    expect(found['tenant role attributes']).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/^2 tenant roles for 2 tenants/),
    });
    expect(found['tenant login']).toMatchObject({ status: 'ok', detail: expect.stringMatching(/logged in as tenant "old"/) });
  });

  it('fails a wrong secret, a tenant role without LOGIN, and a tenant role with a power', async () => {
    const wrong = await checks(login(SECRET, viaBouncer()));
    expect(wrong['tenant login']).toMatchObject({ status: 'fail', hint: expect.stringMatching(/tenant:repair/) });
    const role = tenantRoleName('fresh', app.name);
    await adminQuery(`alter role "${role}" nologin`);
    try {
      const nologin = await checks(login(ROTATED, viaBouncer()));
      expect(nologin['tenant role attributes']).toMatchObject({
        status: 'fail',
        detail: expect.stringMatching(/1 cannot log in/),
      });
      await adminQuery(`alter role "${role}" login createdb`);
      const powerful = await checks(login(ROTATED, viaBouncer()));
      expect(powerful['tenant role attributes']).toMatchObject({
        status: 'fail',
        detail: expect.stringMatching(/1 with SUPERUSER/),
      });
    } finally {
      await adminQuery(`alter role "${role}" login nocreatedb`);
    }
  });

  it('fails "login secret" when there is none, and says why', async () => {
    const found = await checks(login(undefined));
    expect(found['login secret']).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/^CGK_CONFIG: .*CGK_TENANT_ROLE_SECRET/),
    });
    expect(found['tenant logins']).toMatchObject({ status: 'warn' });
  });
});

describe('rotating the secret without refused logins', () => {
  it('reads former secrets from CGK_TENANT_ROLE_SECRETS_OLD, comma-separated', () => {
    expect(formerTenantRoleSecrets(undefined, { CGK_TENANT_ROLE_SECRETS_OLD: ' one, ,two ' })).toEqual(['one', 'two']);
    expect(formerTenantRoleSecrets(undefined, {})).toEqual([]);
  });

  it('logs in with a former secret until tenant:repair has run with the new one, then with the new one', async () => {
    const next = randomBytes(32).toString('base64');
    const rotating = () => {
      const db = new Database({
        url: viaBouncer(),
        tenantRoles: 'login',
        tenantRoleSecret: next,
        formerTenantRoleSecrets: [ROTATED],
      });
      opened.push(db);
      return db;
    };
    const who = (db: Database) => db.withTenant('fresh', (sql) => sql<{ who: string }>`select session_user::text as who`);
    const role = tenantRoleName('fresh', app.name);
    // The server still has the former secret's verifier: the new password is refused, the former one is not.
    expect(await failed(who(login(next, viaBouncer())))).toMatchObject({ code: 'CGK_CONNECTION' });
    expect((await who(rotating())).rows).toEqual([{ who: role }]);
    await repairTenantRoles({ db: login(next) });
    expect((await who(rotating())).rows).toEqual([{ who: role }]);
    expect((await who(login(next, viaBouncer()))).rows).toEqual([{ who: role }]);
    expect(await failed(who(login(ROTATED, viaBouncer())))).toMatchObject({ code: 'CGK_CONNECTION' });
  });
});
