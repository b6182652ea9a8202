import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Database,
  FleetRunError,
  InvalidSlugError,
  createTenant,
  fleetTenants,
  forEachTenant,
  getFleetRun,
  setupDatabase,
  sqlTask,
  suspendTenant,
  type FleetRunInfo,
  type ForEachTenantOptions,
  type TenantTask,
  type TenantResult,
} from '../src/index.js';
import { createAppDatabase, DROP_TIMEOUT_MS, type AppDatabase } from './helpers/database.js';

/** forEachTenant on a real server: scopes, failures, selection, records, resume, no-transaction scripts. */

const SLUGS = Array.from({ length: 12 }, (_, i) => `f${String(i + 1).padStart(2, '0')}`);

async function collect<T>(run: AsyncIterable<TenantResult<T>>): Promise<TenantResult<T>[]> {
  const out: TenantResult<T>[] = [];
  for await (const r of run) out.push(r);
  return out.sort((a, b) => a.slug.localeCompare(b.slug));
}

describe('forEachTenant (pg)', () => {
  let scratch: AppDatabase;
  let db: Database;

  beforeAll(async () => {
    scratch = await createAppDatabase('cgk_fleet');
    db = new Database({ url: scratch.url });
    await setupDatabase({ db });
    for (const slug of SLUGS) await createTenant({ slug }, { db });
    await suspendTenant('f11', { db });
    await suspendTenant('f12', { db });
  }, 120_000);
  afterAll(async () => {
    await db?.end();
    await scratch?.drop();
  }, DROP_TIMEOUT_MS);

  /** The search_path a withTenant scope of `slug` has (what a fleet run's session must have too). */
  const scopePath = async (slug: string) =>
    (await db.withTenant(slug, (sql) => sql<{ path: string }>`select current_setting('search_path') as path`)).rows[0]!.path;

  const customers = async (slug: string, like: string) =>
    (await db.withTenant(slug, (sql) => sql<{ n: number }>`select count(*)::int as n from customers where email like ${like}`))
      .rows[0]!.n;

  it('runs each tenant in its scope (its role, its path, one transaction), goes on past failures', async () => {
    const seen: string[] = [];
    const run = forEachTenant(
      async (sql, tenant) => {
        await sql`insert into customers (email) values (${`fleet-a@${tenant.slug}.test`})`;
        if (tenant.slug === 'f03' || tenant.slug === 'f07') await sql`select 1 / 0`;
        const { rows } = await sql<{
          who: string;
          path: string;
        }>`select current_user as who, current_setting('search_path') as path`;
        seen.push(rows[0]!.who);
        return rows[0]!.path;
      },
      { db, label: 'test a' },
    );
    const results = await collect(run);
    expect(results.map((r) => r.slug)).toEqual(SLUGS);
    const failed = results.filter((r) => !r.ok);
    expect(failed.map((r) => [r.slug, r.error?.code])).toEqual([
      ['f03', 'CGK_QUERY'],
      ['f07', 'CGK_QUERY'],
    ]);
    expect(results.find((r) => r.slug === 'f01')?.value).toBe(await scopePath('f01'));
    expect(await scopePath('f01')).toMatch(/^tenant_f01, /);
    expect(new Set(seen).size).toBe(10);
    for (const who of seen) expect(who).toMatch(/^ct_/);
    // The failing tenants' inserts were rolled back with their transactions; the others committed.
    for (const slug of SLUGS) expect(await customers(slug, 'fleet-a%')).toBe(slug === 'f03' || slug === 'f07' ? 0 : 1);
  });

  it('records the run and each tenant, and a resume runs only the tenants that did not succeed', async () => {
    let id: string | undefined;
    const fail = new Set(['f02', 'f05']);
    const task = async (sql: Parameters<Parameters<typeof forEachTenant>[0]>[0], tenant: { slug: string }) => {
      await sql`insert into customers (email) values (${`fleet-b@${tenant.slug}.test`})`;
      if (fail.has(tenant.slug)) throw new Error(`no ${tenant.slug}`);
      return tenant.slug;
    };
    const first = await collect(forEachTenant(task, { db, digest: 'b', label: 'test b', onStart: (info) => (id = info.id) }));
    expect(first.filter((r) => !r.ok).map((r) => [r.slug, r.error?.code, r.error?.message])).toEqual([
      ['f02', 'CGK_EXEC_FAILED', "The tenant's task failed: no f02"],
      ['f05', 'CGK_EXEC_FAILED', "The tenant's task failed: no f05"],
    ]);
    const record = await getFleetRun(id!, { db });
    expect(record).toMatchObject({ label: 'test b', digest: 'b', status: 'finished', total: 12, succeeded: 10, failed: 2 });
    const { rows } = await db.sql<{ slug: string; status: string; error_code: string | null }>`
      select slug, status, error_code from public.fleet_run_tenants where run_id = ${id}::uuid and status <> 'succeeded' order by slug`;
    expect(rows).toEqual([
      { slug: 'f02', status: 'failed', error_code: 'CGK_EXEC_FAILED' },
      { slug: 'f05', status: 'failed', error_code: 'CGK_EXEC_FAILED' },
    ]);
    // Dry run of the resume: what is left.
    const left: string[] = [];
    for await (const t of fleetTenants({ db, resume: id! })) left.push(t.slug);
    expect(left).toEqual(['f02', 'f05']);
    fail.clear();
    let info: { total: number; resumed: boolean } | undefined;
    const second = await collect(forEachTenant(task, { db, digest: 'b', resume: id!, onStart: (i) => (info = i) }));
    expect(info).toMatchObject({ total: 2, resumed: true });
    expect(second.map((r) => [r.slug, r.ok])).toEqual([
      ['f02', true],
      ['f05', true],
    ]);
    expect(await getFleetRun(id!, { db })).toMatchObject({ status: 'finished', total: 12, succeeded: 12, failed: 0 });
    for (const slug of SLUGS) {
      const { rows: c } = await db.withTenant(
        slug,
        (sql) => sql<{ n: number }>`select count(*)::int as n from customers where email like 'fleet-b%'`,
      );
      expect(c[0]!.n, slug).toBe(1);
    }
    // Nothing left: a second resume runs nothing.
    expect(await collect(forEachTenant(task, { db, digest: 'b', resume: id! }))).toEqual([]);
  });

  it('refuses a resume with other work, another selection or an unknown run, before running anything', async () => {
    let id: string | undefined;
    await collect(forEachTenant(async () => 1, { db, digest: 'one', tenants: ['f01'], onStart: (i) => (id = i.id) }));
    const refused = async (options: ForEachTenantOptions) => {
      const error = await collect(forEachTenant(async () => 1, { db, ...options })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FleetRunError);
      return (error as FleetRunError).message;
    };
    expect(await refused({ resume: id!, digest: 'two' })).toMatch(/ran other work/);
    expect(await refused({ resume: id!, status: 'active' })).toMatch(/keeps the selection/);
    expect(await refused({ resume: '00000000-0000-0000-0000-000000000000' })).toMatch(/No run/);
    expect(await refused({ resume: 'nope' })).toMatch(/not a run id/);
  });

  it('selects by slugs (an unknown one is a not-found result), by status, and refuses a bad slug first', async () => {
    const slugsOf = async (options: ForEachTenantOptions) =>
      (await collect(forEachTenant(async () => 1, { db, record: false, ...options }))).map((r) => [
        r.slug,
        r.error?.code ?? 'ok',
      ]);
    expect(await slugsOf({ tenants: ['f04', 'f01', 'nosuch', 'f01'] })).toEqual([
      ['f01', 'ok'],
      ['f04', 'ok'],
      ['nosuch', 'CGK_TENANT_NOT_FOUND'],
    ]);
    expect(await slugsOf({ status: 'suspended' })).toEqual([
      ['f11', 'ok'],
      ['f12', 'ok'],
    ]);
    expect((await slugsOf({ status: 'active' })).length).toBe(10);
    expect(await slugsOf({ status: 'suspended', tenants: ['f01', 'f11'] })).toEqual([['f11', 'ok']]);
    const error = await collect(forEachTenant(async () => 1, { db, tenants: ['f01', 'Bad-Slug'] })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidSlugError);
  });

  it('runs a -- cgk:no-transaction script statement by statement, each committing, as the tenant role', async () => {
    const script = (marker: string) =>
      `${marker}insert into customers (email) values ('fleet-nt@x.test');\n` +
      "select current_user as who, current_setting('search_path') as path;\nselect 1 / (count(*) - 1) from customers where email = 'fleet-nt@x.test';";
    const plain = sqlTask(script(''));
    const marked = sqlTask(script('-- cgk:no-transaction\n'));
    expect([plain.transaction, marked.transaction, marked.statements]).toEqual([true, false, 3]);
    // In a transaction the failing last statement takes the insert with it; without one, the insert stays.
    const inTx = await collect(forEachTenant(plain.task, { db, record: false, tenants: ['f01'] }));
    expect(inTx[0]?.error?.code).toBe('CGK_QUERY');
    expect(await customers('f01', 'fleet-nt%')).toBe(0);
    const results = await collect(forEachTenant(marked.task, { db, transaction: false, tenants: ['f01', 'f02'] }));
    for (const r of results) expect(r.error?.message).toMatch(/division by zero/);
    expect(await customers('f01', 'fleet-nt%')).toBe(1);
    expect(await customers('f02', 'fleet-nt%')).toBe(1);
    const who = await collect(
      forEachTenant((sql) => sql`select current_user as who, current_setting('search_path') as path`, {
        db,
        transaction: false,
        tenants: ['f02'],
      }),
    );
    // The same path as a scope's (scope/tenant-scope.ts): the session must find what the scope finds.
    expect(who[0]?.value?.rows[0]).toMatchObject({ who: expect.stringMatching(/^ct_/), path: await scopePath('f02') });
    // The session's path and role were reset before its connection went back to the pool.
    const after = await Promise.all(
      Array.from({ length: 4 }, () => db.sql`select current_user as who, current_setting('search_path') as path`),
    );
    for (const r of after) expect(r.rows[0]).toMatchObject({ who: expect.not.stringMatching(/^ct_/), path: '"$user", public' });
  });

  it('bounds the concurrency by the pool and streams: a consumer that stops early stops the run', async () => {
    const small = new Database({ url: `${scratch.url}?pool_max=4` });
    try {
      let inFlight = 0;
      let most = 0;
      let info: { concurrency: number; id: string | undefined } | undefined;
      const run = forEachTenant(
        async () => {
          most = Math.max(most, ++inFlight);
          await new Promise((r) => setTimeout(r, 20));
          inFlight--;
        },
        { db: small, concurrency: 8, pageSize: 3, onStart: (i) => (info = i) },
      );
      let taken = 0;
      for await (const _ of run) if (++taken === 3) break;
      expect(info?.concurrency).toBe(2);
      expect(most).toBe(2);
      const record = await getFleetRun(info!.id!, { db });
      expect(record.status).toBe('stopped');
      // At most the tenants taken plus those in flight and queued ran.
      expect(record.succeeded).toBeLessThanOrEqual(3 + 2 + 4);
    } finally {
      await small.end();
    }
  });

  it('lets one process at a time run a run: a resume while it runs is refused, having run nothing', {
    timeout: 30_000,
  }, async () => {
    let id: string | undefined;
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const run = forEachTenant(() => gate, { db, tenants: ['f01'], onStart: (info) => (id = info.id) });
    const first = run.next();
    while (id === undefined) await new Promise((r) => setTimeout(r, 10));
    let ran = 0;
    const error = await collect(forEachTenant(async () => ran++, { db, resume: id })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FleetRunError);
    expect((error as FleetRunError).message).toMatch(/being run by another process/);
    expect(ran).toBe(0);
    release();
    expect((await first).value).toMatchObject({ slug: 'f01', ok: true });
    expect((await run.next()).done).toBe(true);
    expect((await getFleetRun(id, { db })).status).toBe('finished');
  });

  it("keeps the run records out of the tenant roles' reach", async () => {
    const results = await collect(
      forEachTenant((sql) => sql`select count(*) from public.fleet_runs`, { db, record: false, tenants: ['f01'] }),
    );
    expect(results[0]?.error?.code).toBe('CGK_QUERY');
    expect(results[0]?.error?.message).toMatch(/permission denied/);
  });
});

describe('forEachTenant on the embedded database (one connection)', () => {
  it('runs one tenant at a time, records after each commit, and resumes', { timeout: 120_000 }, async () => {
    const db = new Database({ dataDir: ':memory:' });
    try {
      await setupDatabase({ db });
      for (const slug of ['e1', 'e2', 'e3']) await createTenant({ slug }, { db });
      let failE2 = true;
      let info: FleetRunInfo | undefined;
      const task: TenantTask<string> = async (sql, t) => {
        await sql`insert into customers (email) values ('emb@x.test')`;
        if (t.slug === 'e2' && failE2) throw new Error('not yet');
        return t.slug;
      };
      const first = await collect(forEachTenant(task, { db, concurrency: 4, onStart: (i) => (info = i) }));
      expect(info).toMatchObject({ concurrency: 1, recording: 'after-commit' });
      expect(first.map((r) => [r.slug, r.ok])).toEqual([
        ['e1', true],
        ['e2', false],
        ['e3', true],
      ]);
      failE2 = false;
      const second = await collect(forEachTenant(task, { db, resume: info!.id! }));
      expect(second.map((r) => [r.slug, r.ok])).toEqual([['e2', true]]);
      for (const slug of ['e1', 'e2', 'e3']) {
        const { rows } = await db.withTenant(slug, (sql) => sql<{ n: number }>`select count(*)::int as n from customers`);
        expect(rows[0]!.n, slug).toBe(1);
      }
    } finally {
      await db.end();
    }
  });
});
