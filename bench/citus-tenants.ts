/**
 * Many tenants on Citus (part of `npm run bench:citus`): tenant roles on and off, scopes routed to their
 * tenant's node or sent through the coordinator, at each tenant count asked (default 200 and 1,000).
 *
 * The load: 32 callers, `scopes` scopes (default 3,000) on random tenants, a read and an insert each, through
 * the library's default pool (`pool_max` 10). The baseline of every row: the same load with tenant roles off,
 * through the coordinator (how the library ran before routing), measured in the same run just before and just
 * after the other variants (its mean). Each row also gives the failed scopes and the peak of client connections
 * seen on a worker (sampled every 25 ms). Then `withTenant` latency on one caller, routed against through the
 * coordinator (roles on), interleaved.
 *
 * Tenants are one table each (`customers`, what the load touches), made raw, their roles by the login mode's
 * repair (LOGIN and a derived password), so that 1,000 of them are made in minutes; the full tenant template is
 * what `createTenant` rows of the main Citus bench measure.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Database, repairTenantRoles, setupDatabase, type TenantRoleMode } from '../packages/db/src/index.js';
import { CITUS_NODES, createCitusDatabase, nodeUrl } from '../packages/db/test/helpers/citus.js';
import { interleave, row, type BenchRow } from './lib.js';

const CALLERS = 32;
const WORKERS = CITUS_NODES.slice(1);

export interface Variant {
  label: string;
  mode: TenantRoleMode;
  routed: boolean;
  /** More connection-string parameters (a Citus setting for the session: `options=-c ...`). */
  params?: string;
}

const VARIANTS: Variant[] = [
  { label: 'roles off, routed', mode: 'off', routed: true },
  { label: 'set-role, routed', mode: 'set-role', routed: true },
  { label: 'login, routed', mode: 'login', routed: true },
  { label: 'set-role, coordinator', mode: 'set-role', routed: false },
  { label: 'login, coordinator', mode: 'login', routed: false },
  // Citus's own knob instead of routing: no worker connection cached past a transaction, so each scope opens one.
  {
    label: 'set-role, coordinator, citus.max_cached_conns_per_worker=0',
    mode: 'set-role',
    routed: false,
    params: `options=${encodeURIComponent('-c citus.max_cached_conns_per_worker=0')}`,
  },
];

interface LoadResult {
  perSecond: number;
  failed: number;
  peak: number;
  firstError?: string;
}

async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

/** The highest count of client connections to `database` seen on any worker while `work` ran. */
async function peakWhile<T>(database: string, work: () => Promise<T>): Promise<{ value: T; peak: number }> {
  let running = true;
  let peak = 0;
  const clients = WORKERS.map((port) => new pg.Client({ connectionString: nodeUrl(port, 'postgres') }));
  await Promise.all(clients.map((c) => c.connect()));
  const sampling = (async () => {
    while (running) {
      for (const client of clients) {
        const { rows } = await client.query(
          "select count(*)::int as n from pg_stat_activity where datname = $1 and backend_type = 'client backend'",
          [database],
        );
        peak = Math.max(peak, rows[0].n as number);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  try {
    return { value: await work(), peak };
  } finally {
    running = false;
    await sampling;
    await Promise.all(clients.map((c) => c.end()));
  }
}

export async function runLoad(url: string, database: string, variant: Variant, slugs: string[], scopes: number, secret: string) {
  const params = [...(variant.routed ? [] : ['citus_routing=off']), ...(variant.params ? [variant.params] : [])];
  const db = new Database({
    url: params.length > 0 ? `${url}?${params.join('&')}` : url,
    tenantRoles: variant.mode,
    tenantRoleSecret: secret,
  });
  let failed = 0;
  let firstError: string | undefined;
  try {
    const started = performance.now();
    const { peak } = await peakWhile(database, () =>
      inParallel(
        Array.from({ length: scopes }, (_, i) => i),
        CALLERS,
        async (i) => {
          const slug = slugs[Math.floor(Math.random() * slugs.length)]!;
          try {
            await db.withTenant(slug, async (sql) => {
              await sql`select count(*) from customers where email = ${'x'}`;
              await sql`insert into customers (email) values (${`b${i}@example.com`})`;
            });
          } catch (error) {
            failed++;
            firstError ??= (error as Error).message.slice(0, 120);
          }
        },
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    return { perSecond: (scopes - failed) / seconds, failed, peak, ...(firstError ? { firstError } : {}) } as LoadResult;
  } finally {
    await db.end();
  }
}

/** Adds tenants `m{from}`..`m{to - 1}`: a schema with `customers`, and the role (LOGIN, derived password). */
export async function addTenants(creator: Database, from: number, to: number): Promise<void> {
  const slugs = Array.from({ length: to - from }, (_, i) => `m${from + i}`);
  const driver = await creator.driver();
  await inParallel(slugs, 3, (slug) =>
    driver.exec(`create schema tenant_${slug};
      create table tenant_${slug}.customers (id uuid primary key default gen_random_uuid(), email text not null)`),
  );
  // One at a time: concurrent role grants race on the database's ACL ("tuple concurrently updated").
  for (const slug of slugs) await repairTenantRoles({ db: creator, slug });
}

async function latencyRows(url: string, slugs: string[], count: number): Promise<BenchRow[]> {
  const routed = new Database({ url, tenantRoles: true });
  const through = new Database({ url: `${url}?citus_routing=off`, tenantRoles: true });
  try {
    const pick = () => slugs[Math.floor(Math.random() * Math.min(20, slugs.length))]!;
    const read = (db: Database) => () => db.withTenant(pick(), (sql) => sql`select count(*) from customers where email = ${'x'}`);
    const times = await interleave({ through: read(through), routed: read(routed) }, 8, 40);
    return [
      row(
        `withTenant(one read), set-role, 1 caller, random of 20 of ${count} tenants: routed vs coordinator`,
        'ms',
        times.through! / 1000,
        times.routed! / 1000,
        {
          note: 'routed saves the coordinator hop',
        },
      ),
    ];
  } finally {
    await Promise.all([routed.end(), through.end()]);
  }
}

/** The many-tenant rows, at each tenant count of `counts` (ascending: tenants are added, never remade). */
export async function runCitusTenantsBench(counts: readonly number[], scopes = 3000): Promise<BenchRow[]> {
  const cluster = await createCitusDatabase('cgk_bench_citus_many');
  const secret = randomBytes(32).toString('base64');
  const creator = new Database({ url: cluster.url, tenantRoles: 'login', tenantRoleSecret: secret });
  const rows: BenchRow[] = [];
  try {
    await setupDatabase({ db: creator });
    let made = 0;
    for (const count of counts) {
      const t0 = performance.now();
      await addTenants(creator, made, count);
      console.error(`${count} tenants: made ${count - made} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      made = count;
      const slugs = Array.from({ length: count }, (_, i) => `m${i}`);
      const load = (v: Variant) => runLoad(cluster.url, cluster.name, v, slugs, scopes, secret);
      const base: Variant = { label: 'roles off, coordinator', mode: 'off', routed: false };
      const before = await load(base);
      const results = [];
      for (const variant of VARIANTS) results.push({ variant, result: await load(variant) });
      const after = await load(base);
      const baseline = (before.perSecond + after.perSecond) / 2;
      const describe = (r: LoadResult) =>
        `${r.failed} failed, worker peak ${r.peak} connections${r.firstError ? ` (${r.firstError})` : ''}`;
      rows.push(
        row(`${count} tenants, ${base.label} (baseline, before / after)`, 'scopes/s', baseline, baseline, {
          note: `${before.perSecond.toFixed(0)} / ${after.perSecond.toFixed(0)}; ${describe(before)}, ${describe(after)}`,
        }),
      );
      for (const { variant, result } of results) {
        const goal = variant.routed && variant.mode !== 'off' ? '≥ 0.8x, 0 failed' : undefined;
        rows.push(
          row(`${count} tenants, ${variant.label}`, 'scopes/s', baseline, result.perSecond, {
            ...(goal ? { goal } : {}),
            note: describe(result),
          }),
        );
      }
      rows.push(...(await latencyRows(cluster.url, slugs, count)));
    }
    return rows;
  } finally {
    await creator.end();
    await cluster.drop();
  }
}
