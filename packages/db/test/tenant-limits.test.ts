import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Database,
  InvalidLimitError,
  StatementTimeoutError,
  TenantNotFoundError,
  configureTenantLimits,
  createTenant,
  getTenantLimits,
  setTenantLimits,
  setupDatabase,
} from '../src/index.js';
import { tenantRoleName } from '../src/roles/tenant-role.js';
import { adminQuery, createTestDatabase, DROP_TIMEOUT_MS, type TestDatabase } from './helpers/database.js';
import { loginModeDatabase } from './helpers/login.js';
import { startPgProxy } from './helpers/pg-proxy.js';
import type { AppDatabase } from './helpers/database.js';

/** Per-tenant limits (lifecycle/limits.ts), stored in public.tenant_limits and applied by every scope. */

let scratch: TestDatabase;
let db: Database;

beforeAll(async () => {
  scratch = await createTestDatabase('cgk_limits');
  db = new Database({ url: scratch.url });
  await setupDatabase({ db });
  for (const slug of ['slow', 'other', 'third']) await createTenant({ slug }, { db });
});
afterAll(async () => {
  await db?.end();
  await scratch?.drop();
}, DROP_TIMEOUT_MS);

const setting = (d: Database, slug: string, name: string) =>
  d.withTenant(slug, async (sql) => (await sql<{ v: string }>`select current_setting(${name}) as v`).rows[0]!.v);

describe('per-tenant limits', () => {
  it("times a tenant's statement out at its limit, typed, while another tenant's scope runs the same statement", async () => {
    await setTenantLimits('slow', { statementTimeout: '100ms' }, { db });
    const started = performance.now();
    const [limited, free] = await Promise.allSettled([
      db.withTenant('slow', (sql) => sql`select pg_sleep(1)`),
      db.withTenant('other', (sql) => sql`select pg_sleep(1)`),
    ]);
    expect(free.status).toBe('fulfilled');
    expect(limited.status).toBe('rejected');
    const error = (limited as PromiseRejectedResult).reason;
    expect(error).toBeInstanceOf(StatementTimeoutError);
    expect(error).toMatchObject({ code: 'CGK_STATEMENT_TIMEOUT', slug: 'slow', timeoutMs: 100, sqlState: '57014' });
    expect(error.message).toMatch(/tenant "slow" ran past its statement timeout of 100 ms/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);
    // Transaction-local: the connection went back to the pool without it.
    expect(await db.sql`select current_setting('statement_timeout') as v`.then((r) => r.rows[0]!.v)).toBe('0');
    await setTenantLimits('slow', { statementTimeout: null }, { db });
    await db.withTenant('slow', (sql) => sql`select pg_sleep(0.2)`);
  });

  it('applies work_mem to that tenant only, and a later statement of the scope too', async () => {
    const report = await setTenantLimits('other', { workMem: '8MB' }, { db });
    expect(report.own).toEqual({ statementTimeoutMs: null, workMemKb: 8192, maxScopes: null });
    expect(await setting(db, 'other', 'work_mem')).toBe('8MB');
    expect(await setting(db, 'third', 'work_mem')).toBe('4MB');
    const second = await db.withTenant('other', async (sql) => {
      await sql`select 1`;
      return (await sql<{ v: string }>`select current_setting('work_mem') as v`).rows[0]!.v;
    });
    expect(second).toBe('8MB');
    await setTenantLimits('other', { workMem: 'default' }, { db });
    expect(await setting(db, 'other', 'work_mem')).toBe('4MB');
  });

  it('refuses bad limits and unknown tenants, changing nothing', async () => {
    await setTenantLimits('third', { maxScopes: 3 }, { db });
    for (const input of [
      { statementTimeout: 'soon' },
      { statementTimeout: '0ms' },
      { workMem: '10kB' },
      { maxScopes: 0 },
      { maxScopes: '2.5' },
    ]) {
      await expect(setTenantLimits('third', { workMem: '1MB', ...input }, { db })).rejects.toBeInstanceOf(InvalidLimitError);
    }
    const error = await setTenantLimits('third', { statementTimeout: 'soon' }, { db }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CGK_INVALID_LIMIT', hint: expect.stringMatching(/250ms/) });
    expect((await getTenantLimits('third', { db })).own).toEqual({ statementTimeoutMs: null, workMemKb: null, maxScopes: 3 });
    await expect(setTenantLimits('nobody', { maxScopes: 2 }, { db })).rejects.toBeInstanceOf(TenantNotFoundError);
  });

  it('applies defaults to every tenant, a tenant of its own overriding them', async () => {
    const other = new Database({ url: scratch.url });
    try {
      configureTenantLimits(other, { statementTimeout: '2s', workMem: '2MB' });
      await setTenantLimits('third', { workMem: '16MB' }, { db });
      expect(await setting(other, 'slow', 'statement_timeout')).toBe('2s');
      expect(await setting(other, 'slow', 'work_mem')).toBe('2MB');
      expect(await setting(other, 'third', 'work_mem')).toBe('16MB');
      expect(() => configureTenantLimits(other, { statementTimeout: 'x' })).toThrow(InvalidLimitError);
      expect(() => configureTenantLimits(other, { share: 1.5 })).toThrow(/share .*above 0 and at most 1/);
      expect(() => configureTenantLimits(other, { refreshMs: 0 })).toThrow(InvalidLimitError);
    } finally {
      await other.end();
    }
  });

  it('reaches another process within its refresh interval', async () => {
    const reader = new Database({ url: scratch.url });
    try {
      configureTenantLimits(reader, { refreshMs: 50 });
      expect(await setting(reader, 'slow', 'work_mem')).toBe('4MB');
      await setTenantLimits('slow', { workMem: '3MB' }, { db }); // another Database: another process's view
      await new Promise((resolve) => setTimeout(resolve, 100));
      await setting(reader, 'slow', 'work_mem'); // finds its copy stale: re-reads in the background
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await setting(reader, 'slow', 'work_mem')).toBe('3MB');
    } finally {
      await reader.end();
      await setTenantLimits('slow', { workMem: null }, { db });
    }
  });

  it('costs no round trip of its own: a one-query scope of a limited tenant still takes 2', async () => {
    await setTenantLimits('third', { statementTimeout: '5s', workMem: '2MB' }, { db });
    const proxy = await startPgProxy(scratch.url);
    const viaProxy = new Database({ url: `${proxy.url}?pool_max=1` });
    try {
      expect(await setting(viaProxy, 'third', 'statement_timeout')).toBe('5s'); // warm: connection, limits read
      const before = proxy.roundTrips;
      expect(await setting(viaProxy, 'third', 'work_mem')).toBe('2MB');
      expect(proxy.roundTrips - before).toBe(2);
    } finally {
      await viaProxy.end();
      await proxy.stop();
      await setTenantLimits('third', { statementTimeout: null, workMem: null }, { db });
    }
  });

  it('applies the limits with tenant roles off (search_path only)', async () => {
    const off = new Database({ url: scratch.url, tenantRoles: false });
    try {
      await setTenantLimits('slow', { statementTimeout: '150ms' }, { db });
      await expect(off.withTenant('slow', (sql) => sql`select pg_sleep(1)`)).rejects.toBeInstanceOf(StatementTimeoutError);
    } finally {
      await off.end();
      await setTenantLimits('slow', { statementTimeout: null }, { db });
    }
  });
});

describe('per-tenant limits in login mode', () => {
  const secret = 'limits-test-secret-0123456789abcdef0123456789';
  let app: AppDatabase;
  let login: Database;

  beforeAll(async () => {
    app = await loginModeDatabase('cgk_limits_login', { secret, appPassword: 'app-pw', slugs: ['lm'] });
    login = new Database({ url: app.url, tenantRoles: 'login', tenantRoleSecret: secret });
  });
  afterAll(async () => {
    await login?.end();
    await app?.drop();
  }, DROP_TIMEOUT_MS);

  it("sets the role's CONNECTION LIMIT and settings, and applies the timeout in the scope", async () => {
    await setTenantLimits('lm', { maxScopes: 3, statementTimeout: '100ms' }, { db: login });
    const role = tenantRoleName('lm', app.name);
    const { rows } = await adminQuery<{ rolconnlimit: number; config: string[] | null }>(
      `select rolconnlimit, (select setconfig from pg_db_role_setting where setrole = r.oid and setdatabase = 0) as config
         from pg_roles r where rolname = $1`,
      [role],
    );
    expect(rows[0]).toEqual({ rolconnlimit: 3, config: ['statement_timeout=100'] });
    await expect(login.withTenant('lm', (sql) => sql`select pg_sleep(1)`)).rejects.toBeInstanceOf(StatementTimeoutError);
    await setTenantLimits('lm', { maxScopes: null, statementTimeout: null }, { db: login });
    const after = await adminQuery(`select rolconnlimit from pg_roles where rolname = $1`, [role]);
    expect(after.rows[0]).toEqual({ rolconnlimit: -1 });
  });
});
