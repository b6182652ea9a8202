/**
 * The many-tenant run on ONE PostgreSQL server: how far does schema-per-tenant go, and what grows?
 * Findings and the recorded 10,000-tenant run: docs/SCALING.md.
 *
 *   npm run bench:scale                       10,000 tenants (about 10 minutes on a shared 2-core machine; the recorded run took ~9)
 *   npx tsx bench/scale.ts --tenants 60       smoke run (under a minute)
 *
 * Options: --tenants N (default 10000), --concurrency C (parallel creations, default 4), --scopes S
 * (withTenant scopes per side, default 2000), --keep (leave the scratch databases; default: drop them and
 * their tenant roles at the end, also on Ctrl-C).
 *
 * In a scratch database of its own it runs setupDatabase, provisions N tenants with the library's
 * createTenant() (bounded concurrency, one Database; per-tenant median / p95 by slices of a tenth of the run,
 * so a cost that grows with the tenant count shows), then measures: the no-op fleet check (migrateTenants
 * with nothing pending, counting every driver call it makes), migrationStatus, a verify run, a one-line fleet
 * migration (the real tenant migrations plus one `alter table orders add column ...` file, concurrency 4:
 * time, failures, peak RSS), disk and catalog size, server connections, withTenant latency on random tenants
 * at N tenants against the same scopes on a 10-tenant database created in the same run, interleaved, and one
 * more createTenant() at N tenants against one on the 10-tenant database, alternated. Prints a table and
 * writes bench/results/scale-latest.json and a copy named by the run's start time, like bench/run.ts does.
 */
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Database, createTenant, migrateTenants, migrationStatus, setupDatabase } from '../packages/db/src/index.js';
import { DEFAULT_TENANT_DIR } from '../packages/db/src/migrations/runner.js';
import { parsePoolSettings } from '../packages/db/src/drivers/pool-settings.js';
import type { Driver, Statement, Transaction } from '../packages/db/src/drivers/types.js';
import { ADMIN_URL, createScratchDatabase, interleave, isMain, median, type BenchRow, row } from './lib.js';
import { machineInfo, resultsDir, timestamp } from './run.js';

export interface ScaleOptions {
  tenants: number;
  concurrency: number;
  scopes: number;
  keep: boolean;
}

/** The new migration of the fleet-migration step. (`orders.note` already exists in 001_orders.sql.) */
const NEW_MIGRATION = { name: 'add_bench_note', sql: 'alter table orders add column bench_note text;\n' };

// --- small helpers -----------------------------------------------------------------------------------------

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
const mb = (bytes: number) => round(bytes / 1024 / 1024, 1);
const log = (message: string) => console.log(`[scale ${new Date().toISOString().slice(11, 19)}] ${message}`);

/** Counts every call a driver receives (each is one round trip on the pg driver, a pipelined begin included). */
function countingSource(db: Database) {
  const counts = { query: 0, exec: 0, begin: 0, txQuery: 0, txExec: 0, commit: 0, rollback: 0, acquire: 0, sessionQuery: 0, sessionExec: 0 };
  let wrapped: Driver | undefined;
  const wrapTx = (tx: Transaction): Transaction => ({
    query: (s: Statement) => (counts.txQuery++, tx.query(s)),
    exec: (script: string) => (counts.txExec++, tx.exec(script)),
    commit: () => (counts.commit++, tx.commit()),
    rollback: () => (counts.rollback++, tx.rollback()),
  });
  const wrap = (d: Driver): Driver => ({
    name: d.name,
    query: (s) => (counts.query++, d.query(s)),
    exec: (script) => (counts.exec++, d.exec(script)),
    begin: async (prelude) => {
      counts.begin++;
      const { tx, results } = await d.begin(prelude);
      return { tx: wrapTx(tx), results };
    },
    acquire: async () => {
      counts.acquire++;
      const session = await d.acquire();
      return {
        query: (s: Statement) => (counts.sessionQuery++, session.query(s)),
        exec: (script: string) => (counts.sessionExec++, session.exec(script)),
        release: (destroy?: boolean) => session.release(destroy),
      };
    },
    end: () => d.end(),
  });
  return {
    source: { driver: async () => (wrapped ??= wrap(await db.driver())) },
    total: () => Object.values(counts).reduce((a, b) => a + b, 0),
    reset: () => { for (const k of Object.keys(counts) as Array<keyof typeof counts>) counts[k] = 0; },
  };
}

/** Polls the server's connection counts (and this process's RSS) in the background; tracks the peaks per phase. */
class Sampler {
  #client = new pg.Client({ connectionString: ADMIN_URL });
  #timer: NodeJS.Timeout | undefined;
  #rssTimer: NodeJS.Timeout | undefined;
  #busy = false;
  peak = { ours: 0, server: 0, rssBytes: 0 };
  /** What the scratch database's active backends were waiting on, sample counts since the last phase(). */
  waits: Record<string, number> = {};

  constructor(private readonly database: string) {}

  async start(): Promise<void> {
    await this.#client.connect();
    this.#timer = setInterval(() => void this.#sample(), 500);
    this.#rssTimer = setInterval(() => { this.peak.rssBytes = Math.max(this.peak.rssBytes, process.memoryUsage.rss()); }, 100);
  }

  /** Returns the peaks since the last reset and starts over. */
  async phase(): Promise<{ ours: number; server: number; rssBytes: number; waits: Record<string, number> }> {
    await this.#sample();
    this.peak.rssBytes = Math.max(this.peak.rssBytes, process.memoryUsage.rss());
    const peak = { ...this.peak, waits: Object.fromEntries(Object.entries(this.waits).sort((a, b) => b[1] - a[1]).slice(0, 8)) };
    this.peak = { ours: 0, server: 0, rssBytes: 0 };
    this.waits = {};
    return peak;
  }

  async #sample(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const { rows } = await this.#client.query(
        `select count(*) filter (where datname = $1)::int as ours, count(*)::int as server from pg_stat_activity where backend_type = 'client backend'`,
        [this.database],
      );
      this.peak.ours = Math.max(this.peak.ours, rows[0].ours);
      this.peak.server = Math.max(this.peak.server, rows[0].server);
      const waits = await this.#client.query(
        `select coalesce(wait_event_type || ':' || wait_event, 'running (CPU)') as w, count(*)::int as n
         from pg_stat_activity where datname = $1 and state = 'active' group by 1`,
        [this.database],
      );
      for (const w of waits.rows) this.waits[w.w] = (this.waits[w.w] ?? 0) + w.n;
    } catch {
      // sampling is best effort
    } finally {
      this.#busy = false;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    clearInterval(this.#rssTimer);
    await this.#client.end().catch(() => undefined);
  }
}

interface CatalogSize {
  databaseBytes: number;
  pgClass: number;
  /** Relations with files on disk (tables, indexes, TOAST, sequences). */
  relationsWithStorage: number;
  pgAttribute: number;
  pgDepend: number;
  pgType: number;
  pgNamespace: number;
  /** Bytes of the pg_catalog tables and their indexes. */
  catalogBytes: number;
}

async function catalogSize(db: Database, database: string): Promise<CatalogSize> {
  const { rows } = await db.sql.query(`select
    pg_database_size($1)::bigint as database_bytes,
    (select count(*) from pg_class)::int as pg_class,
    (select count(*) from pg_class where relkind in ('r', 'i', 't', 'S', 'm'))::int as with_storage,
    (select count(*) from pg_attribute)::int as pg_attribute,
    (select count(*) from pg_depend)::int as pg_depend,
    (select count(*) from pg_type)::int as pg_type,
    (select count(*) from pg_namespace)::int as pg_namespace,
    (select sum(pg_total_relation_size(c.oid)) from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'pg_catalog' and c.relkind = 'r')::bigint as catalog_bytes`, [database]);
  const r = rows[0]!;
  return {
    databaseBytes: Number(r.database_bytes),
    pgClass: Number(r.pg_class),
    relationsWithStorage: Number(r.with_storage),
    pgAttribute: Number(r.pg_attribute),
    pgDepend: Number(r.pg_depend),
    pgType: Number(r.pg_type),
    pgNamespace: Number(r.pg_namespace),
    catalogBytes: Number(r.catalog_bytes),
  };
}

function perTenant(before: CatalogSize, after: CatalogSize, n: number) {
  const d = (k: keyof CatalogSize) => round((after[k] - before[k]) / n, 1);
  return {
    databaseKiB: round((after.databaseBytes - before.databaseBytes) / n / 1024, 1),
    catalogKiB: round((after.catalogBytes - before.catalogBytes) / n / 1024, 1),
    pgClass: d('pgClass'),
    relationsWithStorage: d('relationsWithStorage'),
    pgAttribute: d('pgAttribute'),
    pgDepend: d('pgDepend'),
    pgType: d('pgType'),
  };
}

/** Drops a scratch database and its tenant roles (the shared helper batches DROP ROLE); resolves to the time taken. */
async function dropScratch(scratch: { drop(): Promise<void> }): Promise<number> {
  const started = performance.now();
  await scratch.drop();
  return performance.now() - started;
}

/** Set by SIGINT / SIGTERM: provisioning stops taking new tenants. */
let stopped = false;

const TRANSIENT = /out of shared memory|too many (clients|connections)|deadlock detected|could not serialize/i;

interface Provisioned {
  /** Per-tenant wall time in ms, in the order the tenants were started (slug order). */
  durations: number[];
  /** `doneAt[k]`: ms since the start when the (k+1)-th tenant was done (completion order). */
  doneAt: number[];
  failures: Array<{ slug: string; error: string }>;
  retries: Array<{ slug: string; error: string }>;
}

/** Creates tenants with `concurrency` parallel calls of `create`; a transient server error is retried. */
export async function provision(create: (slug: string) => Promise<unknown>, slugs: string[], concurrency: number, progress?: (done: number, ms: number[]) => void): Promise<Provisioned> {
  const durations: number[] = new Array(slugs.length);
  const doneAt: number[] = [];
  const failures: Array<{ slug: string; error: string }> = [];
  const retries: Array<{ slug: string; error: string }> = [];
  const begun = performance.now();
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < slugs.length && failures.length < 100 && !stopped) {
      const i = next++;
      const slug = slugs[i]!;
      for (let attempt = 1; ; attempt++) {
        const started = performance.now();
        try {
          await create(slug);
          durations[i] = performance.now() - started;
          break;
        } catch (error) {
          const message = (error as Error).message;
          // The server is shared: another process can exhaust the lock table or the connections for a
          // moment. createTenant is all-or-nothing, so such a tenant is simply created again.
          if (attempt < 5 && TRANSIENT.test(message)) {
            retries.push({ slug, error: message });
            await new Promise((r) => setTimeout(r, 250 * attempt));
            continue;
          }
          failures.push({ slug, error: message });
          break;
        }
      }
      done++;
      doneAt.push(performance.now() - begun);
      progress?.(done, durations);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { durations: durations.filter((d) => d !== undefined), doneAt, failures, retries };
}

/** Backend memory of every pooled connection: `pool` concurrent sleeps so that each connection answers once. */
async function backendMemory(db: Database, pool: number): Promise<{ medianMiB: number; maxMiB: number; cacheMedianMiB: number; cacheMaxMiB: number }> {
  const answers = await Promise.all(Array.from({ length: pool }, () => db.sql.query(`select pg_backend_pid() as pid, pg_sleep(0.2),
      (select sum(total_bytes) from pg_backend_memory_contexts)::bigint as total,
      (select sum(total_bytes) from pg_backend_memory_contexts where name = 'CacheMemoryContext' or parent = 'CacheMemoryContext')::bigint as cache`)));
  const byPid = new Map(answers.map((a) => [a.rows[0]!.pid, a.rows[0]!]));
  const totals = [...byPid.values()].map((r) => Number(r.total) / 1024 / 1024);
  const caches = [...byPid.values()].map((r) => Number(r.cache) / 1024 / 1024);
  return { medianMiB: round(median(totals), 1), maxMiB: round(Math.max(...totals), 1), cacheMedianMiB: round(median(caches), 1), cacheMaxMiB: round(Math.max(...caches), 1) };
}

// --- the run ---------------------------------------------------------------------------------------------

export async function runScale(options: ScaleOptions) {
  const { tenants: n, concurrency } = options;
  const started = performance.now();
  const startedAt = new Date();
  const big = await createScratchDatabase('cgk_scale');
  const small = await createScratchDatabase('cgk_scale_small');
  log(`scratch databases ${big.name} (N=${n}) and ${small.name} (10 tenants)`);
  const db = new Database({ url: big.url });
  const smallDb = new Database({ url: small.url });
  /** Connections per Database object: the library's pool size for this URL (pool_max / connection_limit, default 10). */
  const poolSize = parsePoolSettings(big.url).max;
  const sampler = new Sampler(big.name);
  let cleaning: Promise<Record<string, number>> | undefined;
  // One cleanup, shared: a signal and the normal end (or an error) wait for the same drop.
  const cleanup = (): Promise<Record<string, number>> => (cleaning ??= dropAll());
  const dropAll = async (): Promise<Record<string, number>> => {
    await sampler.stop();
    await Promise.all([db.end(), smallDb.end()]);
    if (options.keep) {
      log(`--keep: left ${big.name} and ${small.name} (drop them with: drop database ... with (force))`);
      return {};
    }
    log(`dropping ${big.name} and its tenant roles`);
    const bigMs = await dropScratch(big);
    const smallMs = await dropScratch(small);
    log(`dropped in ${(bigMs / 1000).toFixed(1)} s`);
    return { dropBigDatabaseMs: round(bigMs, 0), dropSmallDatabaseMs: round(smallMs, 0) };
  };
  const onSignal = (signal: string) => {
    stopped = true;
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const tmp = await mkdtemp(join(tmpdir(), 'cgk-scale-'));
  try {
    await sampler.start();
    const server = (await db.sql.query(`select current_setting('server_version') as version, current_setting('max_connections')::int as max_connections,
      current_setting('superuser_reserved_connections')::int as reserved, current_setting('shared_buffers') as shared_buffers,
      current_setting('max_locks_per_transaction')::int as max_locks`)).rows[0]!;
    await setupDatabase({ db });
    await setupDatabase({ db: smallDb });
    const empty = await catalogSize(db, big.name);
    await sampler.phase();

    // 1. Provisioning: createTenant() for every tenant, `concurrency` at a time.
    const width = String(n).length;
    const slugs = Array.from({ length: n }, (_, i) => `t${String(i + 1).padStart(width, '0')}`);
    const every = Math.max(50, Math.round(n / 40));
    log(`createTenant: tenants 1-${n}, ${concurrency} at a time`);
    const provisionStarted = performance.now();
    let lastMark = provisionStarted;
    let lastDone = 0;
    const outcome = await provision((slug) => createTenant({ slug, name: `Scale ${slug}` }, { db }), slugs, concurrency, (done, ms) => {
      if (done % every !== 0 && done !== n) return;
      const now = performance.now();
      const recent = ms.slice(lastDone, done).filter((d) => d !== undefined);
      log(`${done}/${n} tenants, ${((now - started) / 1000).toFixed(0)} s, ${((done - lastDone) / ((now - lastMark) / 1000)).toFixed(1)} tenants/s lately, median ${median(recent).toFixed(1)} ms`);
      lastMark = now;
      lastDone = done;
    });
    const provisionMs = performance.now() - provisionStarted;
    const provisionPeak = await sampler.phase();
    const { durations, doneAt, failures, retries } = outcome;
    if (failures.length > 0) log(`${failures.length} failures, first: ${failures[0]!.slug}: ${failures[0]!.error}`);
    if (retries.length > 0) log(`${retries.length} retries after transient errors, first: ${retries[0]!.slug}: ${retries[0]!.error}`);
    if (stopped) throw new Error('interrupted');
    // Slices of a tenth of the run (1,000 tenants at 10,000): per-tenant median / p95 by start order, and the
    // wall-clock rate at which that many tenants were completed.
    const buckets = Math.min(10, Math.max(1, Math.floor(durations.length / 50)));
    const trend = Array.from({ length: buckets }, (_, b) => {
      const from = Math.floor((b * durations.length) / buckets);
      const to = Math.floor(((b + 1) * durations.length) / buckets);
      const slice = durations.slice(from, to);
      const wallMs = doneAt[to - 1]! - (from === 0 ? 0 : doneAt[from - 1]!);
      return { tenants: `${from + 1}-${to}`, medianMs: round(median(slice), 1), p95Ms: round(percentile(slice, 95), 1), tenantsPerSecond: round(slice.length / (wallMs / 1000), 1) };
    });
    for (const t of trend) log(`  tenants ${t.tenants}: median ${t.medianMs} ms, p95 ${t.p95Ms} ms, ${t.tenantsPerSecond} tenants/s`);
    const provisioned = await catalogSize(db, big.name);
    const created = durations.length;
    log(`provisioned ${created} in ${(provisionMs / 1000).toFixed(1)} s; database ${mb(provisioned.databaseBytes)} MiB, pg_class ${provisioned.pgClass}`);

    // 10-tenant comparison database.
    await provision((slug) => createTenant({ slug, name: `Scale ${slug}` }, { db: smallDb }), Array.from({ length: 10 }, (_, i) => `s${i + 1}`), 1);

    // 2. No-op fleet check, counting driver calls. The first call in a process also checks the summary table.
    const counter = countingSource(db);
    const noop: Array<{ ms: number; calls: number; total: number; pending: number }> = [];
    for (let i = 0; i < 7; i++) {
      counter.reset();
      const result = await migrateTenants(counter.source, { concurrency: 4 });
      if (result.error) throw result.error;
      noop.push({ ms: result.durationMs, calls: counter.total(), total: result.total, pending: result.pending });
    }
    const noopWarm = noop.slice(1);
    log(`no-op fleet check: first ${noop[0]!.ms.toFixed(1)} ms (${noop[0]!.calls} calls), then median ${median(noopWarm.map((x) => x.ms)).toFixed(1)} ms (${noopWarm[0]!.calls} calls), ${noop[0]!.total} tenants, ${noop[0]!.pending} pending`);

    const statusRuns: Array<{ ms: number; calls: number }> = [];
    for (let i = 0; i < 5; i++) {
      counter.reset();
      const t = performance.now();
      const status = await migrationStatus(counter.source);
      statusRuns.push({ ms: performance.now() - t, calls: counter.total() });
      if (status.tenants.total !== created || status.tenants.pending !== 0) throw new Error(`migrationStatus: ${status.tenants.total} tenants, ${status.tenants.pending} pending (expected ${created}, 0)`);
    }
    log(`migrationStatus: median ${median(statusRuns.map((x) => x.ms)).toFixed(1)} ms, ${statusRuns[0]!.calls} calls`);

    counter.reset();
    const verify = await migrateTenants(counter.source, { concurrency: 4, verify: true });
    const verifyCalls = counter.total();
    log(`verify run (reads every tenant's schema_migrations): ${verify.durationMs.toFixed(0)} ms, ${verifyCalls} calls, ${verify.disagreements.length} disagreements, ${verify.failed.length} failed`);

    // 3. One-line fleet migration from a temp copy of the tenant migrations.
    const files = (await readdir(DEFAULT_TENANT_DIR)).filter((f) => f.endsWith('.sql')).sort();
    await mkdir(join(tmp, 'tenant'));
    for (const f of files) await copyFile(join(DEFAULT_TENANT_DIR, f), join(tmp, 'tenant', f));
    const newFile = `${String(files.length + 1).padStart(3, '0')}_${NEW_MIGRATION.name}.sql`;
    await writeFile(join(tmp, 'tenant', newFile), NEW_MIGRATION.sql);
    const tenantDir = join(tmp, 'tenant');
    await sampler.phase();
    counter.reset();
    let migrated = 0;
    const migrateEvery = Math.max(50, Math.round(n / 10));
    log(`fleet migration ${newFile} over ${created} tenants, concurrency 4`);
    const migration = await migrateTenants(counter.source, {
      tenantDir,
      concurrency: 4,
      onProgress: ({ done, total }) => {
        migrated = done;
        if (done % migrateEvery === 0) log(`  migrated ${done}/${total}`);
      },
    });
    const migrationCalls = counter.total();
    const migrationPeak = await sampler.phase();
    log(`fleet migration: ${(migration.durationMs / 1000).toFixed(1)} s, ${migrated} tenants, ${migration.failed.length} failed, ${migrationCalls} calls, peak RSS ${mb(migrationPeak.rssBytes)} MiB`);
    counter.reset();
    const after = await migrateTenants(counter.source, { tenantDir });
    const afterCheck = { ms: after.durationMs, calls: counter.total(), pending: after.pending };
    const migratedSize = await catalogSize(db, big.name);

    // 4. withTenant latency on random tenants: N tenants vs 10, interleaved, same server, same run.
    const perRound = 250;
    const rounds = Math.max(1, Math.round(options.scopes / perRound));
    const pick = (prefix: string, count: number) => `${prefix}${prefix === 't' ? String(1 + Math.floor(Math.random() * count)).padStart(width, '0') : 1 + Math.floor(Math.random() * count)}`;
    const readOrder = (sql: Database['sql']) => sql`select id from orders where id = ${'00000000-0000-0000-0000-000000000000'}`;
    log(`withTenant latency: ${rounds * perRound} scopes per side, interleaved`);
    const latency = await interleave({
      bigSelect1: () => db.withTenant(pick('t', created), (sql) => sql`select 1`),
      smallSelect1: () => smallDb.withTenant(pick('s', 10), (sql) => sql`select 1`),
      bigRead: () => db.withTenant(pick('t', created), readOrder),
      smallRead: () => smallDb.withTenant(pick('s', 10), readOrder),
    }, rounds, perRound);
    const memory = { big: await backendMemory(db, poolSize), small: await backendMemory(smallDb, parsePoolSettings(small.url).max) };
    const latencyRows: BenchRow[] = [
      row(`withTenant(select 1), random tenant: ${created} vs 10 tenants`, 'µs', latency.smallSelect1!, latency.bigSelect1!),
      row(`withTenant(orders by id), random tenant: ${created} vs 10 tenants`, 'µs', latency.smallRead!, latency.bigRead!),
    ];
    // 5. One tenant more at N against one more on the 10-tenant database: createTenant both, alternated, one at a time.
    const extra = 6;
    const atScale = { big: [] as number[], small: [] as number[] };
    log(`one more tenant: ${extra} createTenant calls at ${created} tenants alternated with ${extra} on the 10-tenant database`);
    for (let i = 0; i < extra; i++) {
      const order: Array<[keyof typeof atScale, () => Promise<unknown>]> = [
        ['big', () => createTenant({ slug: `zc${i}` }, { db })],
        ['small', () => createTenant({ slug: `zs${i}` }, { db: smallDb })],
      ];
      if (i % 2 === 1) order.reverse();
      for (const [name, make] of order) {
        const t = performance.now();
        await make();
        atScale[name].push(performance.now() - t);
      }
    }
    log(`  createTenant median at ${created} tenants ${median(atScale.big).toFixed(0)} ms, at 10 tenants ${median(atScale.small).toFixed(0)} ms`);

    const final = await sampler.phase();

    const report = {
      kind: 'scale',
      date: startedAt.toISOString(),
      options,
      machine: await machineInfo(db),
      server: {
        version: String(server.version),
        maxConnections: Number(server.max_connections),
        superuserReservedConnections: Number(server.reserved),
        sharedBuffers: String(server.shared_buffers),
        maxLocksPerTransaction: Number(server.max_locks),
        poolSizePerDatabaseObject: poolSize,
        peakConnectionsToScratchDb: Math.max(provisionPeak.ours, migrationPeak.ours, final.ours),
        peakConnectionsOnServer: Math.max(provisionPeak.server, migrationPeak.server, final.server),
      },
      tenantMigrations: files.length,
      provisioning: {
        tenants: created,
        concurrency,
        totalMs: round(provisionMs, 0),
        tenantsPerSecond: round(created / (provisionMs / 1000), 1),
        medianMs: round(median(durations), 1),
        p95Ms: round(percentile(durations, 95), 1),
        p99Ms: round(percentile(durations, 99), 1),
        maxMs: round(Math.max(...durations), 1),
        /** Per-tenant wall time and completion rate by slices of a tenth of the run. */
        trend,
        /** One more createTenant() at N tenants vs one on the 10-tenant database (which grows to 10 + extra). */
        atScale: {
          tenants: created,
          createTenantMs: atScale.big.map((x) => round(x, 0)),
          tenTenantsMs: atScale.small.map((x) => round(x, 0)),
          createTenantMedianMs: round(median(atScale.big), 0),
          tenTenantsMedianMs: round(median(atScale.small), 0),
          ratio: round(median(atScale.big) / median(atScale.small), 2),
        },
        failures,
        retries: retries.length,
        retryReasons: [...new Set(retries.map((r) => r.error.replace(/tenant_t\d+/g, 'tenant_…')))],
        peakConnections: provisionPeak.ours,
        peakRssMiB: mb(provisionPeak.rssBytes),
        /** Samples (every 0.5 s) of what the provisioning backends were doing. */
        waitSamples: provisionPeak.waits,
      },
      noopFleetCheck: {
        firstMs: round(noop[0]!.ms, 1),
        firstDriverCalls: noop[0]!.calls,
        medianMs: round(median(noopWarm.map((x) => x.ms)), 1),
        driverCalls: noopWarm[0]!.calls,
        total: noop[0]!.total,
        pending: noop[0]!.pending,
      },
      migrationStatus: { medianMs: round(median(statusRuns.map((x) => x.ms)), 1), driverCalls: statusRuns[0]!.calls },
      verifyRun: { ms: round(verify.durationMs, 0), driverCalls: verifyCalls, disagreements: verify.disagreements.length, failed: verify.failed.length },
      fleetMigration: {
        file: newFile,
        sql: NEW_MIGRATION.sql.trim(),
        tenants: migration.tenants.length,
        succeeded: migration.tenants.filter((t) => t.status === 'Success').length,
        failed: migration.failed.length,
        firstFailure: migration.failed[0] ? `${migration.failed[0].slug}: ${migration.failed[0].error?.message}` : null,
        ms: round(migration.durationMs, 0),
        tenantsPerSecond: round(migration.tenants.length / (migration.durationMs / 1000), 1),
        driverCalls: migrationCalls,
        driverCallsPerTenant: round(migrationCalls / Math.max(1, migration.tenants.length), 2),
        peakRssMiB: mb(migrationPeak.rssBytes),
        processMaxRssMiB: round(process.resourceUsage().maxRSS / 1024, 1),
        peakConnections: migrationPeak.ours,
        waitSamples: migrationPeak.waits,
        checkAfter: { ms: round(afterCheck.ms, 1), driverCalls: afterCheck.calls, pending: afterCheck.pending },
      },
      size: {
        empty,
        provisioned,
        migrated: migratedSize,
        perTenant: perTenant(empty, provisioned, created),
      },
      withTenant: {
        scopesPerSide: rounds * perRound,
        select1: { tenantsMedianUs: round(latency.bigSelect1!, 1), tenTenantsMedianUs: round(latency.smallSelect1!, 1), ratio: round(latency.bigSelect1! / latency.smallSelect1!, 3) },
        ordersById: { tenantsMedianUs: round(latency.bigRead!, 1), tenTenantsMedianUs: round(latency.smallRead!, 1), ratio: round(latency.bigRead! / latency.smallRead!, 3) },
        backendMemoryAfter: memory,
      },
      totalMs: 0,
      cleanup: {} as Record<string, number>,
    };
    report.cleanup = await cleanup();
    report.totalMs = round(performance.now() - started, 0);
    await mkdir(resultsDir, { recursive: true });
    const json = JSON.stringify(report, null, 2);
    await writeFile(join(resultsDir, `scale-${timestamp(startedAt)}.json`), json);
    await writeFile(join(resultsDir, 'scale-latest.json'), json);
    log(`wrote ${join('bench/results', 'scale-latest.json')}`);
    return { report, latencyRows };
  } finally {
    await cleanup().catch((error: unknown) => log(`cleanup failed: ${(error as Error).message}`));
    await rm(tmp, { recursive: true, force: true });
  }
}

type ScaleReport = Awaited<ReturnType<typeof runScale>>['report'];

/** Prints a scale run as a two-column table plus the withTenant ratio rows. */
export function printScaleReport(r: ScaleReport, latencyRows: BenchRow[]): void {
  const p = r.provisioning;
  const lines: Array<[string, string]> = [
    ['tenants (tenant migrations each)', `${p.tenants} (${r.tenantMigrations})`],
    ['provisioning: total (createTenant)', `${(p.totalMs / 1000).toFixed(1)} s for ${p.tenants} tenants, ${p.tenantsPerSecond} tenants/s, concurrency ${p.concurrency}`],
    ['createTenant: per tenant', `median ${p.medianMs} ms, p95 ${p.p95Ms} ms, p99 ${p.p99Ms} ms, max ${p.maxMs} ms`],
    ...p.trend.map((t): [string, string] => [`  tenants ${t.tenants}`, `median ${t.medianMs} ms, p95 ${t.p95Ms} ms, ${t.tenantsPerSecond} tenants/s`]),
    [`one more createTenant at ${p.atScale.tenants}`, `${p.atScale.createTenantMedianMs} ms vs ${p.atScale.tenTenantsMedianMs} ms on the 10-tenant database (${p.atScale.ratio}x)`],
    ['provisioning: failures / retries', `${p.failures.length} / ${p.retries}`],
    ['provisioning: backends waiting on', Object.entries(p.waitSamples).slice(0, 4).map(([k, v]) => `${k} ${v}`).join(', ')],
    ['no-op fleet check (warm)', `${r.noopFleetCheck.medianMs} ms, ${r.noopFleetCheck.driverCalls} driver call(s); first in process ${r.noopFleetCheck.firstMs} ms, ${r.noopFleetCheck.firstDriverCalls} calls`],
    ['migrationStatus', `${r.migrationStatus.medianMs} ms, ${r.migrationStatus.driverCalls} driver calls`],
    ['verify run (every schema read)', `${(r.verifyRun.ms / 1000).toFixed(2)} s, ${r.verifyRun.driverCalls} driver calls, ${r.verifyRun.disagreements} disagreements`],
    ['fleet migration (1 line)', `${(r.fleetMigration.ms / 1000).toFixed(1)} s, ${r.fleetMigration.tenantsPerSecond} tenants/s, ${r.fleetMigration.failed} failed, ${r.fleetMigration.driverCallsPerTenant} calls/tenant`],
    ['fleet migration: peak RSS', `${r.fleetMigration.peakRssMiB} MiB (process max ${r.fleetMigration.processMaxRssMiB} MiB)`],
    ['check after migration', `${r.fleetMigration.checkAfter.ms} ms, ${r.fleetMigration.checkAfter.driverCalls} calls, ${r.fleetMigration.checkAfter.pending} pending`],
    ['database size', `${mb(r.size.empty.databaseBytes)} MiB empty → ${mb(r.size.provisioned.databaseBytes)} MiB (${r.size.perTenant.databaseKiB} KiB/tenant)`],
    ['catalog (pg_catalog tables)', `${mb(r.size.empty.catalogBytes)} MiB → ${mb(r.size.provisioned.catalogBytes)} MiB (${r.size.perTenant.catalogKiB} KiB/tenant)`],
    ['pg_class rows', `${r.size.empty.pgClass} → ${r.size.provisioned.pgClass} (${r.size.perTenant.pgClass}/tenant, ${r.size.perTenant.relationsWithStorage} with files)`],
    ['pg_attribute rows', `${r.size.empty.pgAttribute} → ${r.size.provisioned.pgAttribute} (${r.size.perTenant.pgAttribute}/tenant)`],
    ['pg_depend rows', `${r.size.empty.pgDepend} → ${r.size.provisioned.pgDepend} (${r.size.perTenant.pgDepend}/tenant)`],
    ['pg_type rows', `${r.size.empty.pgType} → ${r.size.provisioned.pgType} (${r.size.perTenant.pgType}/tenant)`],
    ['connections', `max_connections ${r.server.maxConnections} (${r.server.superuserReservedConnections} reserved); pool ${r.server.poolSizePerDatabaseObject}; peak ${r.server.peakConnectionsToScratchDb} to the scratch db, ${r.server.peakConnectionsOnServer} on the server`],
    ['backend memory after random scopes', `N tenants: median ${r.withTenant.backendMemoryAfter.big.medianMiB} MiB (cache ${r.withTenant.backendMemoryAfter.big.cacheMedianMiB}); 10 tenants: ${r.withTenant.backendMemoryAfter.small.medianMiB} MiB (cache ${r.withTenant.backendMemoryAfter.small.cacheMedianMiB})`],
    ['drop scratch database + roles', r.cleanup.dropBigDatabaseMs === undefined ? 'kept' : `${(r.cleanup.dropBigDatabaseMs / 1000).toFixed(1)} s`],
    ['total run', `${(r.totalMs / 1000 / 60).toFixed(1)} min`],
  ];
  const w = Math.max(...lines.map(([k]) => k.length));
  console.log(`\nOne server, ${p.tenants} tenants (PostgreSQL ${r.server.version})`);
  for (const [k, v] of lines) console.log(`${k.padEnd(w)}  ${v}`);
  const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  console.log(`\nwithTenant, ${r.withTenant.scopesPerSide} scopes per side on random tenants, interleaved (baseline: 10-tenant database, same run)`);
  for (const l of latencyRows) console.log(`${l.name.padEnd(62)}  ${fmt(l.baseline)} µs → ${fmt(l.ours)} µs  ${l.ratio.toFixed(2)}x`);
}

export function parseScaleArgs(argv: string[]): ScaleOptions {
  const options: ScaleOptions = { tenants: 10_000, concurrency: 4, scopes: 2000, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${arg} needs a positive integer`);
      return v;
    };
    if (arg === '--tenants') options.tenants = value();
    else if (arg === '--concurrency') options.concurrency = value();
    else if (arg === '--scopes') options.scopes = value();
    else if (arg === '--keep') options.keep = true;
    else if (arg === '--help' || arg === '-h') {
      console.log('usage: tsx bench/scale.ts [--tenants N (10000)] [--concurrency C (4)] [--scopes S (2000)] [--keep]');
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (try --help)`);
  }
  return options;
}

if (isMain(import.meta.url)) {
  const { report, latencyRows } = await runScale(parseScaleArgs(process.argv.slice(2)));
  printScaleReport(report, latencyRows);
}
