import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, PoolExhaustedError, createTenant, dropTenant } from '../src/index.js';
import { parsePoolSettings } from '../src/drivers/pool-settings.js';
import { tenantRoleName } from '../src/roles/tenant-role.js';
import { type AppDatabase, DROP_TIMEOUT_MS, adminQuery } from './helpers/database.js';
import { loginModeDatabase } from './helpers/login.js';
import { startPgBouncer } from './helpers/pgbouncer.js';

/**
 * The per-tenant pools of login mode, counted on the server (pg_stat_activity by user name), never timed:
 * an LRU bounds the tenants that keep connections, one cap bounds the connections of all of them, a scope
 * that finds every connection busy waits (and gets CGK_POOL_EXHAUSTED after the connect timeout), and an
 * evicted tenant's busy connection closes when its scope ends. Non-scope work keeps the application role.
 */

const SECRET = randomBytes(32).toString('base64');
const SLUGS = ['t0', 't1', 't2', 't3', 't4'];
let app: AppDatabase;

beforeAll(async () => {
  app = await loginModeDatabase('cgk_lpools', { secret: SECRET, appPassword: 'app-password', slugs: SLUGS });
}, 120_000);

afterAll(async () => app?.drop(), DROP_TIMEOUT_MS);

/** Server connections of tenant roles in the test database, by slug (slugs without one are left out). */
async function connections(): Promise<Record<string, number>> {
  const { rows } = await adminQuery<{ usename: string; n: number }>(
    'select usename::text, count(*)::int as n from pg_stat_activity where datname = $1 group by usename',
    [app.name],
  );
  const bySlug: Record<string, number> = {};
  for (const slug of SLUGS) {
    const row = rows.find((r) => r.usename === tenantRoleName(slug, app.name));
    if (row) bySlug[slug] = row.n;
  }
  return bySlug;
}

/** Polls the server until its count equals `expected` (a closed socket leaves pg_stat_activity shortly after). */
async function expectConnections(expected: Record<string, number>): Promise<void> {
  let seen = await connections();
  for (let i = 0; i < 100 && JSON.stringify(seen) !== JSON.stringify(expected); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    seen = await connections();
  }
  expect(seen).toEqual(expected);
}

const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/** Samples the server's count of tenant connections until stopped; resolves to the most seen at once. */
function sampleMax(): { stop(): Promise<number> } {
  let running = true;
  let max = 0;
  const loop = (async () => {
    while (running) max = Math.max(max, total(await connections()));
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return max;
    },
  };
}

/** A scope of `slug` that ran a query and stays open until `release()`. */
function hold(db: Database, slug: string) {
  let release!: () => void;
  let entered!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const inside = new Promise<void>((resolve) => (entered = resolve));
  const done = db.withTenant(slug, async (sql) => {
    await sql`select 1`;
    entered();
    await gate;
  });
  return { inside, release, done };
}

function open(query = '', pools = { maxConnections: 3, maxTenants: 2 }): Database {
  return new Database({ url: `${app.url}${query}`, tenantRoles: 'login', tenantRoleSecret: SECRET, tenantPools: pools });
}

describe('login mode pools', () => {
  it('keeps connections for the most recently used tenants only (LRU of 2)', async () => {
    const db = open();
    try {
      for (const [i, slug] of SLUGS.entries()) {
        await db.withTenant(slug, (sql) => sql`select 1`);
        const recent = SLUGS.slice(Math.max(0, i - 1), i + 1);
        await expectConnections(Object.fromEntries(recent.map((s) => [s, 1])));
      }
      // Outside a scope: the application role's pool, no tenant connection.
      const { rows } = await db.sql<{ who: string }>`select current_user::text as who`;
      expect(rows[0]!.who).toBe(app.role);
      expect((await db.driver()).tenantPoolStats?.()).toMatchObject({ open: 2, tenants: 2, waiting: 0 });
    } finally {
      await db.end();
    }
    await expectConnections({});
  });

  it('reads its bounds from the URL: tenant_pool_max and tenant_pool_tenants (defaults: pool_max)', async () => {
    expect(parsePoolSettings('postgres://u@h/d?pool_max=7')).toMatchObject({ tenantPoolMax: 7, tenantPoolTenants: 7 });
    const parsed = parsePoolSettings('postgres://u@h/d?tenant_pool_max=4&tenant_pool_tenants=2&sslmode=disable');
    expect(parsed).toMatchObject({ max: 10, tenantPoolMax: 4, tenantPoolTenants: 2 });
    expect(parsed.connectionString).toBe('postgres://u@h/d?sslmode=disable');
    const db = new Database({
      url: `${app.url}?tenant_pool_max=2&tenant_pool_tenants=1`,
      tenantRoles: 'login',
      tenantRoleSecret: SECRET,
    });
    try {
      for (const slug of ['t0', 't1', 't2']) await db.withTenant(slug, (sql) => sql`select 1`);
      await expectConnections({ t2: 1 });
      const held = ['t0', 't1'].map((slug) => hold(db, slug));
      await Promise.all(held.map((h) => h.inside));
      const waiting = db.withTenant('t3', (sql) => sql`select 1`);
      const driver = await db.driver();
      while (driver.tenantPoolStats?.().waiting !== 1) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(driver.tenantPoolStats?.()).toMatchObject({ open: 2 });
      for (const h of held) h.release();
      await Promise.all([waiting, ...held.map((h) => h.done)]);
    } finally {
      await db.end();
    }
  });

  it('scopes of tenants that do not exist cost the real tenants none of their connections', async () => {
    const db = open();
    try {
      for (const slug of ['t0', 't1']) await db.withTenant(slug, (sql) => sql`select 1`);
      for (const slug of ['ghost0', 'ghost1', 'ghost2']) {
        await expect(db.withTenant(slug, (sql) => sql`select 1`)).rejects.toMatchObject({ code: 'CGK_TENANT_NOT_FOUND' });
      }
      await expectConnections({ t0: 1, t1: 1 });
      expect((await db.driver()).tenantPoolStats?.()).toMatchObject({ open: 2, tenants: 2, idle: 2 });
    } finally {
      await db.end();
    }
  });

  it('a dropped and re-created tenant gets fresh connections, in this process and in another', async () => {
    const db = open();
    const other = open();
    const role = tenantRoleName('gone', app.name);
    const sessions = async () =>
      (await adminQuery('select count(*)::int as n from pg_stat_activity where usename = $1', [role])).rows[0]!.n as number;
    try {
      await createTenant({ slug: 'gone' }, { db });
      for (const d of [db, other]) await d.withTenant('gone', (sql) => sql`select 1`);
      expect(await sessions()).toBe(2);
      await dropTenant('gone', { confirm: true, db });
      // dropTenant ended every session of the role, this process's and the other's.
      for (let i = 0; i < 100 && (await sessions()) > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await sessions()).toBe(0);
      await createTenant({ slug: 'gone' }, { db });
      for (const d of [db, other]) {
        const { rows } = await d.withTenant('gone', (sql) => sql<{ n: number }>`select count(*)::int as n from orders`);
        expect(rows).toEqual([{ n: 0 }]);
      }
    } finally {
      await db.end();
      await other.end();
    }
  });

  it('at the cap, a tenant without a connection takes the slot of the least recently used idle one', async () => {
    const db = open('', { maxConnections: 2, maxTenants: 5 });
    try {
      await db.withTenant('t0', (sql) => sql`select 1`);
      await db.withTenant('t1', (sql) => sql`select 1`);
      await expectConnections({ t0: 1, t1: 1 });
      await db.withTenant('t2', (sql) => sql`select 1`);
      await expectConnections({ t1: 1, t2: 1 });
      expect((await db.driver()).tenantPoolStats?.()).toMatchObject({ open: 2, idle: 2, waiting: 0 });
    } finally {
      await db.end();
    }
  });

  it("a tenant's second scope at the cap takes another tenant's idle slot instead of waiting for its first", async () => {
    const db = open('?connect_timeout=30', { maxConnections: 2, maxTenants: 5 });
    try {
      await db.withTenant('t1', (sql) => sql`select 1`);
      const first = hold(db, 't0');
      await first.inside;
      await expectConnections({ t0: 1, t1: 1 });
      // t0 has a busy connection, so it first waits for it (about one login's time), then takes t1's idle one.
      const second = await db.withTenant('t0', (sql) => sql<{ who: string }>`select current_user::text as who`);
      expect(second.rows[0]!.who).toBe(tenantRoleName('t0', app.name));
      await expectConnections({ t0: 2 });
      first.release();
      await first.done;
    } finally {
      await db.end();
    }
  });

  it('never opens more than the cap: a scope waits for a busy tenant to finish, and an evicted one closes then', async () => {
    const db = open('?connect_timeout=30');
    const sampler = sampleMax();
    try {
      const held: Array<ReturnType<typeof hold>> = [];
      for (const slug of ['t0', 't1', 't2']) {
        held.push(hold(db, slug));
        await held.at(-1)!.inside;
      }
      // t0 was evicted from the LRU when t2 came, but its scope still runs on its connection.
      await expectConnections({ t0: 1, t1: 1, t2: 1 });
      const waiting = db.withTenant('t3', (sql) => sql<{ who: string }>`select current_user::text as who`);
      const driver = await db.driver();
      while (driver.tenantPoolStats?.().waiting !== 1) await new Promise((resolve) => setTimeout(resolve, 5));
      await expectConnections({ t0: 1, t1: 1, t2: 1 });
      held[0]!.release();
      await held[0]!.done;
      expect((await waiting).rows[0]!.who).toBe(tenantRoleName('t3', app.name));
      held[1]!.release();
      held[2]!.release();
      await Promise.all(held.map((h) => h.done));
      // t0's connection closed with its scope (evicted); t1 was evicted by t3; t2 and t3 remain.
      await expectConnections({ t2: 1, t3: 1 });
    } finally {
      await db.end();
    }
    expect(await sampler.stop()).toBeLessThanOrEqual(3);
  });

  it('gives CGK_POOL_EXHAUSTED to a scope that waited the connect timeout with every connection busy', async () => {
    const db = open('?connect_timeout=1');
    const held = ['t0', 't1', 't2'].map((slug) => hold(db, slug));
    try {
      await Promise.all(held.map((h) => h.inside));
      const error = await db
        .withTenant('t4', (sql) => sql`select 1`)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(PoolExhaustedError);
      expect(error).toMatchObject({ code: 'CGK_POOL_EXHAUSTED', pool: { max: 3, busy: 3, connectTimeoutMs: 1000 } });
      expect(await connections()).toEqual({ t0: 1, t1: 1, t2: 1 });
    } finally {
      for (const h of held) h.release();
      await Promise.all(held.map((h) => h.done));
      await db.end();
    }
  });

  it('a tenant connection the server ends, in a scope or idle, is a typed error, not a crash, and frees its slot', async () => {
    const db = open('', { maxConnections: 2, maxTenants: 2 });
    const terminate = async (pid: unknown) => {
      await adminQuery('select pg_terminate_backend($1)', [pid]);
      for (let i = 0; i < 100 && (await adminQuery('select 1 from pg_stat_activity where pid = $1', [pid])).rows.length; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // Let the client read the server's FATAL message and the close.
      await new Promise((resolve) => setTimeout(resolve, 100));
    };
    try {
      const error = await db
        .withTenant('t0', async (sql) => {
          const { rows } = await sql`select pg_backend_pid() as pid`;
          await terminate(rows[0]!.pid);
          return sql`select 1`;
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toMatchObject({ code: 'CGK_CONNECTION' });
      const idle = await db.withTenant('t1', (sql) => sql<{ pid: number }>`select pg_backend_pid() as pid`);
      await terminate(idle.rows[0]!.pid);
      expect((await db.driver()).tenantPoolStats?.()).toMatchObject({ open: 0, idle: 0 });
      // Both slots are free again: two tenants at once, within the cap of 2.
      const both = await Promise.all(['t0', 't1'].map((slug) => db.withTenant(slug, (sql) => sql`select 1 as one`)));
      expect(both.map((r) => r.rows)).toEqual([[{ one: 1 }], [{ one: 1 }]]);
      await expectConnections({ t0: 1, t1: 1 });
    } finally {
      await db.end();
    }
  });

  it('serves hundreds of concurrent scopes over five tenants within the cap, each in its own tenant', async () => {
    const db = open('', { maxConnections: 4, maxTenants: 3 });
    const sampler = sampleMax();
    try {
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => {
          const slug = SLUGS[i % SLUGS.length]!;
          return db.withTenant(slug, async (sql) => {
            const { rows } = await sql<{
              who: string;
              n: number;
            }>`select current_user::text as who, count(*)::int as n from orders`;
            return rows[0]!.who === tenantRoleName(slug, app.name);
          });
        }),
      );
      expect(results.every(Boolean)).toBe(true);
    } finally {
      await db.end();
    }
    const max = await sampler.stop();
    expect(max).toBeGreaterThan(0);
    expect(max).toBeLessThanOrEqual(4);
    await expectConnections({});
  });

  it('through PgBouncer, max_db_connections bounds the server connections of all tenant roles together', async () => {
    const bouncer = await startPgBouncer({ targetUrl: app.url, auth: 'scram-sha-256', defaultPoolSize: 2, maxDbConnections: 3 });
    const url = new URL(bouncer.url);
    url.password = 'app-password';
    const db = new Database({ url: url.toString(), tenantRoles: 'login', tenantRoleSecret: SECRET });
    try {
      // Client side up to pool_max (10) connections over five tenants; on the server at most 3 at once:
      // PgBouncer closes an idle server connection of one tenant role to open one for another. (Its count,
      // not the server's: a closed backend leaves pg_stat_activity a moment after its successor appears.)
      const seen = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          db.withTenant(
            SLUGS[i % SLUGS.length]!,
            (sql) => sql<{ who: string }>`select pg_sleep(0.005), current_user::text as who`,
          ),
        ),
      );
      expect(seen.map((r, i) => r.rows[0]!.who === tenantRoleName(SLUGS[i % SLUGS.length]!, app.name))).not.toContain(false);
      let settled = total(await connections());
      for (let i = 0; i < 100 && settled > 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        settled = total(await connections());
      }
      expect(settled).toBeGreaterThan(0);
      expect(settled).toBeLessThanOrEqual(3);
    } finally {
      await db.end();
      await bouncer.stop();
    }
  });
});
