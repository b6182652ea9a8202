import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CgkError,
  clearMigrationCache,
  createTenant,
  Database,
  describeCitus,
  diagnose,
  dropTenant,
  migrateTenants,
  migrationStatus,
  repairTenantRoles,
  setupDatabase,
} from '../../src/index.js';
import { DEFAULT_TENANT_DIR } from '../../src/migrations/runner.js';
import { createCitusDatabase, CITUS_NODES, CITUS_PORT, onNode, type CitusDatabase } from '../helpers/citus.js';
import { createMarkedTenants, runIsolationScenario } from '../helpers/isolation.js';

/**
 * The library on a real distributed engine: a Citus 13 coordinator and two workers on loopback (brought up by
 * `npm run test:citus`), schema-based sharding on, tenant roles on. One database for the file; the tests run
 * in order and build on each other (setup, tenants, isolation, fleet migration, drop, doctor).
 */

const FLEET = 50;
let cluster: CitusDatabase;
let db: Database;
let tenantDir: string;

const rows = async (text: string, values: unknown[] = []) => (await db.query({ text, values })).rows;
const roleOf = async (slug: string) =>
  (await rows("select 'ct_' || left(md5(current_database()), 8) || '_' || $1::text as role", [slug]))[0]!.role as string;

async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

beforeAll(async () => {
  cluster = await createCitusDatabase();
  db = new Database({ url: cluster.url, tenantRoles: true });
  tenantDir = mkdtempSync(join(tmpdir(), 'cgk-citus-migrations-'));
  cpSync(DEFAULT_TENANT_DIR, tenantDir, { recursive: true });
});

afterAll(async () => {
  await db?.end();
  await cluster?.drop();
  if (tenantDir) rmSync(tenantDir, { recursive: true, force: true });
});

describe('on Citus (coordinator + 2 workers)', () => {
  it('setupDatabase creates the platform tables as plain tables on the coordinator and reports the cluster', async () => {
    const report = await setupDatabase({ db });
    expect(report.applied.length).toBeGreaterThan(0);
    expect(report.citus).toMatchObject({
      schemaBasedSharding: true,
      unsafeTriggers: true,
      distributedTenants: 0,
      localTenants: 0,
    });
    expect(report.citus!.nodes.map((n) => [n.port, n.role, n.active])).toEqual([
      [CITUS_PORT + 1, 'worker', true],
      [CITUS_PORT + 2, 'worker', true],
    ]);
    const distributed = await rows(
      "select count(*)::int as n from pg_dist_partition where logicalrelid::text like 'organizations%' or logicalrelid::regclass::text in ('users', 'sessions')",
    );
    expect(distributed[0]!.n).toBe(0);
    // Idempotent, as on PostgreSQL.
    expect((await setupDatabase({ db })).applied).toEqual([]);
  });

  it('createTenant distributes each tenant schema whole onto the workers; its LOGIN role exists on every node', async () => {
    const slugs = Array.from({ length: 6 }, (_, i) => `shop${i}`);
    await inParallel(slugs, 2, (slug) => createTenant({ slug }, { db }));
    const placement =
      await rows(`select s.schema_name::text as schema, count(distinct sh.nodeport)::int as nodes, min(sh.nodeport) as port
      from citus_schemas s join citus_shards sh on sh.colocation_id = s.colocation_id group by 1 order by 1`);
    expect(placement.map((p) => p.schema)).toEqual(slugs.map((s) => `tenant_${s}`));
    expect(placement.every((p) => p.nodes === 1)).toBe(true);
    expect(new Set(placement.map((p) => p.port))).toEqual(new Set([CITUS_PORT + 1, CITUS_PORT + 2]));
    const role = await roleOf('shop0');
    for (const port of CITUS_NODES) {
      const [found] = await onNode(port, cluster.name, `select rolcanlogin from pg_roles where rolname = '${role}'`);
      expect(found!.rows).toEqual([{ rolcanlogin: true }]);
    }
    const seen = await db.withTenant('shop0', async (sql) => {
      await sql`insert into customers (email) values ('a@example.com')`;
      return (await sql<{ who: string; n: string }>`select current_user::text as who, count(*)::text as n from customers`)
        .rows[0];
    });
    expect(seen).toEqual({ who: role, n: '1' });
  });

  it('a tenant scope cannot reach another tenant, even by schema-qualified name, on its worker', async () => {
    const other = await db
      .withTenant('shop0', (sql) => sql.query('select count(*) from tenant_shop1.customers'))
      .catch((error: unknown) => error);
    expect(other).toBeInstanceOf(CgkError);
    expect((other as CgkError).message).toMatch(/permission denied/);
  });

  it('600 concurrent scopes over 8 tenants with tenant roles on: no leak between tenants', async () => {
    const slugs = await createMarkedTenants(db, 'iso', 8);
    // Those schemas were made by hand: their roles come from repair, which gives them LOGIN on Citus.
    for (const slug of slugs) await repairTenantRoles({ db, slug });
    await runIsolationScenario(db, slugs, 600);
  });

  it('a tenant role that may not log in: routed scopes still run; through the coordinator CGK_ROLE names the repair', async () => {
    const role = await roleOf('shop1');
    await db.query({ text: `alter role "${role}" nologin` });
    // Routed, the scope runs on its worker in the application's connection (SET LOCAL ROLE): no login as the role.
    expect((await db.withTenant('shop1', (sql) => sql`select count(*)::int as n from customers`)).rows).toEqual([{ n: 0 }]);
    // Through the coordinator, Citus logs in to the worker as the tenant role.
    const through = new Database({ url: `${cluster.url}?citus_routing=off`, tenantRoles: true });
    const failed = await through
      .withTenant('shop1', (sql) => sql`select count(*) from customers`)
      .catch((error: unknown) => error)
      .finally(() => through.end());
    expect(failed).toMatchObject({ code: 'CGK_ROLE' });
    expect((failed as CgkError).hint).toContain('tenant:repair shop1');
    expect((await describeCitus(db))!.tenantRolesWithoutLogin).toBe(1);
    expect((await diagnose({ db, env: {} })).checks.find((c) => c.name === 'citus')).toMatchObject({ status: 'fail' });
    await repairTenantRoles({ db, slug: 'shop1' });
    expect((await db.withTenant('shop1', (sql) => sql`select count(*)::int as n from customers`)).rows).toEqual([{ n: 0 }]);
  });

  it(`migrates a fleet of ${FLEET} tenants with a multi-statement file (BEGIN ATOMIC included); the next check is a no-op`, async () => {
    const more = Array.from({ length: FLEET - 6 }, (_, i) => `fleet${i}`);
    await inParallel(more, 3, (slug) => createTenant({ slug }, { db }));
    writeFileSync(
      join(tenantDir, '014_order_notes.sql'),
      `alter table orders add column gift_note text;
create index orders_gift_note_idx on orders (gift_note);
create function order_note_length(n text) returns int language sql immutable
begin atomic
  select case when n is null then 0 else length(n) end;
end;
`,
    );
    const before = await migrationStatus(db, { tenantDir });
    expect(before.tenants).toMatchObject({ total: FLEET, pending: FLEET });
    const run = await migrateTenants(db, { tenantDir, concurrency: 4 });
    expect(run.error).toBeUndefined();
    expect(run.tenants.filter((t) => t.status === 'Success')).toHaveLength(FLEET);
    expect(run.tenants.every((t) => t.applied.join() === '014_order_notes.sql')).toBe(true);
    const again = await migrateTenants(db, { tenantDir });
    expect(again).toMatchObject({ total: FLEET, pending: 0, tenants: [] });
    expect((await migrationStatus(db, { tenantDir })).tenants).toMatchObject({ total: FLEET, pending: 0, upToDate: FLEET });
    const noted = await db.withTenant(
      'fleet7',
      async (sql) =>
        (await sql<{ n: number }>`select order_note_length('hello') as n, (select count(gift_note) from orders)::int as notes`)
          .rows[0],
    );
    expect(noted).toEqual({ n: 5, notes: 0 });
  });

  it('a failing multi-statement file names its line and leaves nothing behind; a no-transaction file runs', async () => {
    writeFileSync(
      join(tenantDir, '015_broken.sql'),
      `alter table orders add column broken_note text;

select no_such_column from orders;
`,
    );
    clearMigrationCache();
    const failed = await migrateTenants(db, { tenantDir, concurrency: 4 });
    expect(failed.failed).toHaveLength(FLEET);
    expect(failed.failed[0]!.error).toMatchObject({ code: 'CGK_MIGRATION', file: '015_broken.sql', line: 3 });
    expect(await rows("select count(*)::int as n from information_schema.columns where column_name = 'broken_note'")).toEqual([
      { n: 0 },
    ]);
    writeFileSync(
      join(tenantDir, '015_broken.sql'),
      `-- cgk:no-transaction
create index concurrently if not exists orders_gift_note_created_idx on orders (gift_note, created_at);
`,
    );
    clearMigrationCache();
    const fixed = await migrateTenants(db, { tenantDir, concurrency: 4 });
    expect(fixed.error).toBeUndefined();
    expect(fixed.tenants.filter((t) => t.status === 'Success')).toHaveLength(FLEET);
    const indexes = await rows("select count(*)::int as n from pg_indexes where indexname = 'orders_gift_note_created_idx'");
    expect(indexes).toEqual([{ n: FLEET }]);
  });

  it('dropTenant removes the schema, its shards, the registry row and the role on every node', async () => {
    const role = await roleOf('shop5');
    await dropTenant('shop5', { db, confirm: true });
    expect(await rows("select 1 from citus_schemas where schema_name::text = 'tenant_shop5'")).toEqual([]);
    expect(await rows("select 1 from public.organizations where slug = 'shop5'")).toEqual([]);
    for (const port of CITUS_NODES) {
      const [left] = await onNode(
        port,
        cluster.name,
        `select (select count(*) from pg_roles where rolname = '${role}')::int as roles, (select count(*) from pg_namespace where nspname = 'tenant_shop5')::int as schemas`,
      );
      expect(left!.rows).toEqual([{ roles: 0, schemas: 0 }]);
    }
  });

  it('doctor reports the cluster: nodes, tenant placement, settings; everything ok', async () => {
    const report = await diagnose({ db, env: {} });
    const citus = report.checks.find((c) => c.name === 'citus');
    expect(citus).toMatchObject({ status: 'ok' });
    expect(citus!.detail).toMatch(new RegExp(`127\\.0\\.0\\.1:${CITUS_PORT + 1} \\d+, 127\\.0\\.0\\.1:${CITUS_PORT + 2} \\d+`));
    const described = (await describeCitus(db))!;
    expect(described.distributedTenants).toBe(FLEET - 1 + 8);
    expect(described.nodes.reduce((sum, n) => sum + n.tenants, 0)).toBe(FLEET - 1 + 8);
  });
});
