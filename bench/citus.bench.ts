/**
 * The library on Citus (a coordinator and two workers on loopback, `npm run bench:citus` brings them up),
 * each figure against a raw baseline measured in the same run on the same cluster:
 * - createTenant() vs the same DDL replayed raw: BEGIN, create schema, search_path, every statement of the
 *   tenant migration files one per message (Citus refuses several in one), COMMIT, all pipelined on
 *   node-postgres. Ours adds the registry row, the bookkeeping rows, the tenant role (LOGIN on Citus) and
 *   its grants, and the queryable check. Alternated tenant by tenant.
 * - withTenant(one indexed read) vs its pipelined floor: BEGIN + set_config(search_path) + the query sent
 *   together, then COMMIT; ours also switches to the tenant role. Random tenant per scope, interleaved.
 * - a one-line fleet migration (`alter table orders add column ...`) over N tenants with migrateTenants()
 *   vs the same ALTER sent raw to each tenant, both 4 at a time, twice each, order alternated.
 *
 * - many tenants (bench/citus-tenants.ts): 32 callers on random tenants, tenant roles on (set-role, login) and
 *   off, scopes routed to their node or through the coordinator, at 200 and 1,000 tenants.
 *
 *   npm run bench:citus                      # 20 tenants created per side, fleet of 100, then 200 and 1,000 tenants
 *   npx tsx bench/citus.bench.ts --fleet 30 --many 0          # smaller, without the many-tenant rows
 *   npx tsx bench/citus.bench.ts --only many --many 200 --scopes 1000
 */
import { mkdtempSync, cpSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import {
  clearMigrationCache,
  createTenant,
  Database,
  migrateTenants,
  setupDatabase,
  throwIfFailed,
} from '../packages/db/src/index.js';
import { splitStatements } from '../packages/db/src/sql/split.js';
import { DEFAULT_TENANT_DIR } from '../packages/db/src/migrations/runner.js';
import { createCitusDatabase } from '../packages/db/test/helpers/citus.js';
import { runCitusTenantsBench } from './citus-tenants.js';
import {
  interleave,
  isMain,
  median,
  printTable,
  rawPool,
  replayAgainstCreate,
  row,
  tenantTemplate,
  timed,
  type BenchRow,
} from './lib.js';

type Pool = pg.Pool;

async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

/** BEGIN, the statements one per message, COMMIT: sent without waiting, on one pipelined connection. */
async function rawScript(pool: Pool, statements: readonly string[]): Promise<void> {
  const client = await pool.connect();
  try {
    const sent = ['BEGIN', ...statements].map((text) => client.query(text));
    const commit = client.query('COMMIT');
    await Promise.all([...sent, commit]);
  } finally {
    client.release();
  }
}

async function provisioning(db: Database, raw: Pool, count: number): Promise<BenchRow> {
  const { files, texts } = await tenantTemplate();
  const ddl = texts.flatMap((text) => splitStatements(text).map((s) => s.text));
  const { baseline, ours } = await replayAgainstCreate(
    count,
    (i) => rawScript(raw, [`create schema tenant_raw${i}`, `set local search_path to tenant_raw${i}`, ...ddl]),
    (i) => createTenant({ slug: `bench${i}` }, { db }),
  );
  const name = `createTenant (${files.length} files, ${ddl.length} statements), median of ${count}`;
  return row(name, 'ms', median(baseline), median(ours), { goal: '≤ 1.2x' });
}

async function scopes(db: Database, noRoles: Database, raw: Pool, slugs: readonly string[]): Promise<BenchRow[]> {
  const pick = () => slugs[Math.floor(Math.random() * slugs.length)]!;
  const id = '00000000-0000-0000-0000-000000000000';
  const floor = async () => {
    const client = await raw.connect();
    try {
      const begin = client.query('BEGIN');
      const set = client.query("select set_config('search_path', $1, true)", [`tenant_${pick()}, public`]);
      const result = client.query('select id from orders where id = $1', [id]);
      await Promise.all([begin, set, result]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  };
  const ours = () => db.withTenant(pick(), (sql) => sql`select id from orders where id = ${id}`);
  const oursNoRoles = () => noRoles.withTenant(pick(), (sql) => sql`select id from orders where id = ${id}`);
  const times = await interleave({ floor, ours, oursNoRoles }, 8, 40);
  const name = `withTenant(indexed read on orders), random of ${slugs.length} tenants, vs pipelined floor`;
  return [
    row(name, 'ms', times.floor! / 1000, times.ours! / 1000, {
      note: 'tenant roles on: the worker is reached as the tenant role',
    }),
    row(`${name}, tenant roles off`, 'ms', times.floor! / 1000, times.oursNoRoles! / 1000, {
      note: 'search_path only, as the floor',
    }),
  ];
}

async function fleetMigration(db: Database, raw: Pool, slugs: readonly string[], tenantDir: string): Promise<BenchRow> {
  const ours: number[] = [];
  const baseline: number[] = [];
  let version = readdirSync(tenantDir).filter((f) => f.endsWith('.sql')).length;
  const viaLibrary = async (column: string) => {
    version++;
    const file = join(tenantDir, `${String(version).padStart(3, '0')}_${column}.sql`);
    writeFileSync(file, `alter table orders add column ${column} text;\n`);
    clearMigrationCache(); // loadMigrations reads a directory once per process
    await timed(ours, async () => {
      const run = throwIfFailed(await migrateTenants(db, { tenantDir, concurrency: 4 }));
      if (run.tenants.length !== slugs.length)
        throw new Error(`${column}: ${run.tenants.length} tenants migrated, not ${slugs.length}`);
    });
  };
  const alter = (column: string) => (slug: string) => raw.query(`alter table tenant_${slug}.orders add column ${column} text`);
  const viaRaw = (column: string) => timed(baseline, () => inParallel(slugs, 4, alter(column)));
  await viaRaw('raw_a');
  await viaLibrary('ours_a');
  await viaLibrary('ours_b');
  await viaRaw('raw_b');
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  return row(`one-line migration over ${slugs.length} tenants, 4 at a time (mean of 2 runs)`, 'ms', mean(baseline), mean(ours), {
    note: `per tenant: raw ${(mean(baseline) / slugs.length).toFixed(1)} ms, ours ${(mean(ours) / slugs.length).toFixed(1)} ms`,
  });
}

export async function runCitusBench(options: { tenants?: number; fleet?: number } = {}): Promise<BenchRow[]> {
  const cluster = await createCitusDatabase('cgk_bench_citus');
  const db = new Database({ url: cluster.url, tenantRoles: true });
  const noRoles = new Database({ url: cluster.url, tenantRoles: false });
  const raw = rawPool({ connectionString: cluster.url, max: 8, pipeline: true });
  const tenantDir = mkdtempSync(join(tmpdir(), 'cgk-bench-citus-'));
  try {
    cpSync(DEFAULT_TENANT_DIR, tenantDir, { recursive: true });
    await setupDatabase({ db });
    const created = options.tenants ?? 20;
    const rows = [await provisioning(db, raw, created)];
    // The fleet: the tenants createTenant() made above, and more up to `fleet` in all.
    const more = Array.from({ length: Math.max(0, (options.fleet ?? 100) - created) }, (_, i) => `fleet${i}`);
    await inParallel(more, 3, (slug) => createTenant({ slug }, { db }));
    const fleet = [...Array.from({ length: created }, (_, i) => `bench${i}`), ...more];
    rows.push(...(await scopes(db, noRoles, raw, fleet.slice(0, 20))));
    rows.push(await fleetMigration(db, raw, fleet, tenantDir));
    return rows;
  } finally {
    await Promise.all([db.end(), noRoles.end(), raw.end()]);
    await cluster.drop();
    rmSync(tenantDir, { recursive: true, force: true });
  }
}

function flag(name: string): number | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? undefined : Number(process.argv[at + 1]);
}

/** `--many 200,1000` (the default; `--many 0` skips them), `--only many` (those rows alone). */
function manyCounts(): number[] {
  const at = process.argv.indexOf('--many');
  const text = at === -1 ? '200,1000' : (process.argv[at + 1] ?? '');
  return text
    .split(',')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0)
    .sort((a, b) => a - b);
}

if (isMain(import.meta.url)) {
  const started = performance.now();
  const onlyMany = process.argv.includes('--only') && process.argv[process.argv.indexOf('--only') + 1] === 'many';
  const rows = onlyMany ? [] : await runCitusBench({ tenants: flag('tenants'), fleet: flag('fleet') });
  const counts = manyCounts();
  if (counts.length > 0) rows.push(...(await runCitusTenantsBench(counts, flag('scopes'))));
  printTable('Citus 13 (coordinator + 2 workers, loopback)', rows);
  console.log(`\n${((performance.now() - started) / 1000).toFixed(0)} s in all`);
}
