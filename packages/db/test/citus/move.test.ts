import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CgkError, createTenant, Database, diagnose, moveTenantToNode, parseNodeTarget, setupDatabase } from '../../src/index.js';
import { placementOf } from '../../src/drivers/citus-router.js';
import { CITUS_NODES, CITUS_PORT, createCitusDatabase, type CitusDatabase } from '../helpers/citus.js';

/**
 * Moving a tenant to another Citus node (`moveTenantToNode`, `citus_schema_move`) while scopes write to it,
 * from this process (its routing waits for the move) and from another `Database` whose tenant-to-node map
 * still names the old node (another application process): every write that succeeded is in the tenant's
 * tables on the new node, once; any that failed did so with a typed error; both route to the new node after.
 */

let cluster: CitusDatabase;
let db: Database;
let other: Database;

const rows = async (text: string, values: unknown[] = []) => (await db.query({ text, values })).rows;
const nodeOf = async (schema: string) =>
  (
    await rows(
      `select distinct sh.nodeport as port from citus_schemas s join citus_shards sh on sh.colocation_id = s.colocation_id
       where s.schema_name::text = $1`,
      [schema],
    )
  ).map((r) => Number(r.port));

beforeAll(async () => {
  cluster = await createCitusDatabase('cgk_citus_move');
  db = new Database({ url: cluster.url, tenantRoles: true });
  other = new Database({ url: cluster.url, tenantRoles: true });
  await setupDatabase({ db });
  for (const slug of ['mv', 'stay']) await createTenant({ slug }, { db });
});

afterAll(async () => {
  await Promise.all([db?.end(), other?.end()]);
  await cluster?.drop();
});

describe('tenant:move --node on Citus', () => {
  it('bad input is typed and moves nothing', async () => {
    expect(() => parseNodeTarget('127.0.0.1')).toThrow(expect.objectContaining({ code: 'CGK_CITUS' }));
    expect(() => parseNodeTarget('host:99999')).toThrow(expect.objectContaining({ code: 'CGK_CITUS' }));
    expect(parseNodeTarget('[::1]:5432')).toEqual({ host: '::1', port: 5432 });
    const [from] = await nodeOf('tenant_mv');
    const unknownNode = await moveTenantToNode(db, 'mv', { host: '127.0.0.1', port: 1 }).catch((e: unknown) => e);
    expect(unknownNode).toMatchObject({ code: 'CGK_CITUS' });
    expect((unknownNode as CgkError).hint).toContain(`127.0.0.1:${CITUS_PORT + 1}`);
    const coordinator = await moveTenantToNode(db, 'mv', { host: '127.0.0.1', port: CITUS_PORT }).catch((e: unknown) => e);
    expect(coordinator).toMatchObject({ code: 'CGK_CITUS' });
    const noTenant = await moveTenantToNode(db, 'nobody', { host: '127.0.0.1', port: from! }).catch((e: unknown) => e);
    expect(noTenant).toMatchObject({ code: 'CGK_TENANT_NOT_FOUND' });
    const logical = await moveTenantToNode(
      db,
      'mv',
      { host: '127.0.0.1', port: CITUS_NODES.find((p) => p !== from && p !== CITUS_PORT)! },
      {
        transferMode: 'force_logical',
      },
    ).catch((e: unknown) => e);
    // The test cluster runs wal_level = replica: logical replication is refused, typed, with the way out.
    expect(logical).toMatchObject({ code: 'CGK_CITUS' });
    expect((logical as CgkError).hint).toMatch(/block_writes/);
    expect(await nodeOf('tenant_mv')).toEqual([from]);
    const same = await moveTenantToNode(db, 'mv', { host: '127.0.0.1', port: from! });
    expect(same).toMatchObject({ moved: false });
  });

  it('moves a tenant while scopes write to it: no write lost or left behind, typed failures only, routing follows', async () => {
    const [from] = await nodeOf('tenant_mv');
    const to = CITUS_NODES.find((p) => p !== from && p !== CITUS_PORT)!;
    // Both databases have routed a scope of the tenant: their maps name the old node.
    for (const d of [db, other]) await d.withTenant('mv', (sql) => sql`select count(*) from customers`);
    expect((await placementOf(await other.driver())!.nodeOf('tenant_mv'))?.port).toBe(from);
    const written: string[] = [];
    const failures: unknown[] = [];
    let moving = true;
    const writer = (d: Database, name: string) => async () => {
      for (let i = 0; moving || i < 3; i++) {
        const email = `${name}-${i}@example.com`;
        try {
          await d.withTenant('mv', (sql) => sql`insert into customers (email) values (${email})`);
          written.push(email);
        } catch (error) {
          failures.push(error);
        }
      }
    };
    const writers = [
      ...Array.from({ length: 4 }, (_, i) => writer(db, `here${i}`)),
      ...Array.from({ length: 4 }, (_, i) => writer(other, `there${i}`)),
    ].map((run) => run());
    await new Promise((resolve) => setTimeout(resolve, 300));
    const moved = await moveTenantToNode(db, 'mv', { host: '127.0.0.1', port: to }).finally(() => {
      moving = false;
    });
    await Promise.all(writers);
    expect(moved).toMatchObject({ moved: true, from: { port: from }, to: { port: to } });
    expect(await nodeOf('tenant_mv')).toEqual([to]);
    for (const failure of failures) expect(failure).toBeInstanceOf(CgkError);
    expect(written.length).toBeGreaterThan(8 * 3);
    const stored = await db.withTenant('mv', async (sql) => (await sql<{ email: string }>`select email from customers`).rows);
    expect(stored.map((r) => r.email).sort()).toEqual([...written].sort());
    // This process routes to the new node at once; the other finds out on its next scope (locality check).
    expect((await placementOf(await db.driver())!.nodeOf('tenant_mv'))?.port).toBe(to);
    await other.withTenant('mv', (sql) => sql`select count(*) from customers`);
    expect((await placementOf(await other.driver())!.nodeOf('tenant_mv'))?.port).toBe(to);
    expect(await db.withTenant('stay', (sql) => sql`select count(*)::int as n from customers`)).toMatchObject({
      rows: [{ n: 0 }],
    });
  });

  it('doctor reports tenants per node and each worker connection headroom against the pools', async () => {
    const report = await diagnose({ db, env: {} });
    const connections = report.checks.find((c) => c.name === 'citus connections');
    expect(connections).toMatchObject({ status: 'ok' });
    for (const port of CITUS_NODES.slice(1)) {
      expect(connections!.detail).toMatch(
        new RegExp(
          `127\\.0\\.0\\.1:${port} \\d+ free of 97 \\(\\d+ in use\\), a process opens up to 20 \\(10 routed \\+ 10 via the coordinator\\)`,
        ),
      );
    }
    const off = new Database({ url: `${cluster.url}?citus_routing=off`, tenantRoles: true });
    try {
      const unrouted = (await diagnose({ db: off, env: {} })).checks.find((c) => c.name === 'citus connections');
      // Set-role through the coordinator: 10 connections x the tenants of the worker (1 each here) fit.
      expect(unrouted!.detail).toMatch(/a process opens up to 10 \(10 via the coordinator\)/);
    } finally {
      await off.end();
    }
  });
});
