import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, repairTenantRoles, setupDatabase } from '../../src/index.js';
import { nodeDriversOf, placementOf } from '../../src/drivers/citus-router.js';
import { CITUS_NODES, createCitusDatabase, nodeUrl, onNode, type CitusDatabase } from '../helpers/citus.js';

/**
 * Many tenants on Citus with tenant roles on (set-role and login): 200 tenant schemas over two workers at
 * `max_connections` 100, the library's default pool (10), 32 callers running scopes on random tenants (a read
 * and an insert each). Scopes are routed to the worker that holds their schema (drivers/citus-router.ts), so
 * the workers' connections are bounded by the pools, not by the tenant count: through the coordinator, each
 * pooled connection would keep a worker connection per tenant role it served, and most scopes failed.
 */

const TENANTS = Number(process.env.CGK_CITUS_MANY ?? 200);
const CALLERS = 32;
const SCOPES = 1200;
const WORKERS = CITUS_NODES.slice(1);

let cluster: CitusDatabase;
let slugs: string[];
const secret = randomBytes(32).toString('base64');

async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

/** Samples every worker's client connections to the test database (all users) until stopped; keeps the peak. */
function sampleWorkers(database: string): { stop(): Promise<Map<number, number>> } {
  const peaks = new Map<number, number>(WORKERS.map((port) => [port, 0]));
  let running = true;
  const loops = WORKERS.map(async (port) => {
    const client = new pg.Client({ connectionString: nodeUrl(port, 'postgres') });
    await client.connect();
    try {
      while (running) {
        const { rows } = await client.query(
          "select count(*)::int as n from pg_stat_activity where datname = $1 and backend_type = 'client backend'",
          [database],
        );
        peaks.set(port, Math.max(peaks.get(port)!, rows[0].n as number));
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    } finally {
      await client.end();
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return peaks;
    },
  };
}

/** `SCOPES` scopes on random tenants, `CALLERS` at a time; resolves to the failures (there must be none). */
async function load(db: Database, tag: string): Promise<{ failures: unknown[]; done: number }> {
  const failures: unknown[] = [];
  let done = 0;
  await inParallel(
    Array.from({ length: SCOPES }, (_, i) => i),
    CALLERS,
    async (i) => {
      const slug = slugs[Math.floor(Math.random() * slugs.length)]!;
      try {
        await db.withTenant(slug, async (sql) => {
          await sql`select count(*) from customers`;
          await sql`insert into customers (email) values (${`${tag}${i}@example.com`})`;
        });
        done++;
      } catch (error) {
        failures.push(error);
      }
    },
  );
  return { failures, done };
}

beforeAll(async () => {
  cluster = await createCitusDatabase('cgk_citus_many');
  const creator = new Database({ url: cluster.url, tenantRoles: 'login', tenantRoleSecret: secret });
  try {
    await setupDatabase({ db: creator });
    slugs = Array.from({ length: TENANTS }, (_, i) => `m${i}`);
    // Tenants of one table (what the load touches): a distributed schema each, made raw to keep the setup short
    // (a full createTenant() takes seconds on Citus on a loaded machine). Then each role, by the login mode's
    // repair: LOGIN and its derived password, so both modes run on these tenants. One at a time: concurrent
    // role grants race on the database's ACL ("tuple concurrently updated").
    const driver = await creator.driver();
    await inParallel(slugs, 3, (slug) =>
      driver.exec(`create schema tenant_${slug};
        create table tenant_${slug}.customers (id uuid primary key default gen_random_uuid(), email text not null)`),
    );
    for (const slug of slugs) await repairTenantRoles({ db: creator, slug });
  } finally {
    await creator.end();
  }
}, 900_000);

afterAll(async () => {
  await cluster?.drop();
});

describe(`${TENANTS} tenants on Citus, tenant roles on, ${CALLERS} callers, the default pool`, () => {
  it('the workers run at max_connections 100', async () => {
    for (const port of WORKERS) {
      const [result] = await onNode(port, 'postgres', 'show max_connections');
      expect(result!.rows[0].max_connections).toBe('100');
    }
  });

  for (const mode of ['set-role', 'login'] as const) {
    it(`${mode}: ${SCOPES} scopes on random tenants, 0 failures, worker connections bounded by the pools`, async () => {
      const db = new Database({ url: cluster.url, tenantRoles: mode, tenantRoleSecret: secret });
      const sampler = sampleWorkers(cluster.name);
      try {
        const { failures, done } = await load(db, mode);
        const peaks = await sampler.stop();
        expect(failures.slice(0, 3)).toEqual([]);
        expect(done).toBe(SCOPES);
        // Routed: one pool per worker (10, plus 10 per-tenant connections in login mode) and the coordinator's
        // own connections to the worker (none of them as a tenant role). Not routed, the same load reached
        // the workers' 97 usable slots and failed most scopes.
        const bound = mode === 'login' ? 10 + 10 + 10 : 10 + 10;
        for (const port of WORKERS) expect(peaks.get(port), `worker ${port}`).toBeLessThanOrEqual(bound);
        const driver = await db.driver();
        expect([...nodeDriversOf(driver).keys()].sort()).toEqual(WORKERS.map((port) => `127.0.0.1:${port}`));
        const counts = placementOf(driver)!.counts();
        expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(TENANTS);
      } finally {
        await sampler.stop().catch(() => undefined);
        await db.end();
      }
      // Every insert of the run landed, each in its own tenant.
      const [total] = await onNode(
        CITUS_NODES[0]!,
        cluster.name,
        `select count(*)::int as n from (${slugs.map((s) => `select email from tenant_${s}.customers`).join(' union all ')}) c where email like '${mode}%'`,
      );
      expect(total!.rows[0].n).toBe(SCOPES);
    });
  }
});
