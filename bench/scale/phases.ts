import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTenant, type Database, migrateTenants, migrationStatus } from '../../packages/db/src/index.js';
import { parsePoolSettings } from '../../packages/db/src/drivers/pool-settings.js';
import { DEFAULT_TENANT_DIR } from '../../packages/db/src/migrations/runner.js';
import { type BenchRow, createFleet, interleave, median, row } from '../lib.js';
import { backendMemory, type countingSource, interruption, log, mb, percentile, round, type Sampler } from './measure.js';

/** The phases of the scale run, in order; each returns what the report needs from it. */

/** What every phase works with. */
export interface ScaleRun {
  tenants: number;
  concurrency: number;
  scopes: number;
  /** The N-tenant database, and the 10-tenant one it is compared with. */
  db: Database;
  smallDb: Database;
  smallUrl: string;
  sampler: Sampler;
  counter: ReturnType<typeof countingSource>;
  /** Digits of the slugs `t0001`…: slugs sort like numbers. */
  width: number;
  started: number;
}

/** The new migration of the fleet-migration step. (`orders.note` already exists in 001_orders.sql.) */
export const NEW_MIGRATION = { name: 'add_bench_note', sql: 'alter table orders add column bench_note text;\n' };

/** 1. createTenant() for every tenant, `concurrency` at a time, with a progress line now and then. */
export async function provisionPhase(run: ScaleRun) {
  const { tenants: n, concurrency, db } = run;
  const slugs = Array.from({ length: n }, (_, i) => `t${String(i + 1).padStart(run.width, '0')}`);
  log(`createTenant: tenants 1-${n}, ${concurrency} at a time`);
  const provisionStarted = performance.now();
  const outcome = await createFleet(db, slugs, {
    label: 'Scale',
    concurrency,
    every: Math.max(50, Math.round(n / 40)),
    log,
    tolerate: true,
  });
  const provisionMs = performance.now() - provisionStarted;
  const provisionPeak = await run.sampler.phase();
  const { failures, retries } = outcome;
  if (failures.length > 0) log(`${failures.length} failures, first: ${failures[0]!.slug}: ${failures[0]!.error}`);
  if (retries.length > 0)
    log(`${retries.length} retries after transient errors, first: ${retries[0]!.slug}: ${retries[0]!.error}`);
  if (interruption.stopped) throw new Error('interrupted');
  const trend = provisionTrend(outcome.durations, outcome.doneAt);
  for (const t of trend)
    log(`  tenants ${t.tenants}: median ${t.medianMs} ms, p95 ${t.p95Ms} ms, ${t.tenantsPerSecond} tenants/s`);
  return { outcome, provisionMs, provisionPeak, trend, created: outcome.durations.length };
}

/**
 * Slices of a tenth of the run (1,000 tenants at 10,000): per-tenant median / p95 by start order, and the
 * wall-clock rate at which that many tenants were completed.
 */
function provisionTrend(durations: number[], doneAt: number[]) {
  const buckets = Math.min(10, Math.max(1, Math.floor(durations.length / 50)));
  return Array.from({ length: buckets }, (_, b) => {
    const from = Math.floor((b * durations.length) / buckets);
    const to = Math.floor(((b + 1) * durations.length) / buckets);
    const slice = durations.slice(from, to);
    const wallMs = doneAt[to - 1]! - (from === 0 ? 0 : doneAt[from - 1]!);
    return {
      tenants: `${from + 1}-${to}`,
      medianMs: round(median(slice), 1),
      p95Ms: round(percentile(slice, 95), 1),
      tenantsPerSecond: round(slice.length / (wallMs / 1000), 1),
    };
  });
}

/** 2. The no-op fleet check, migrationStatus and a verify run, counting driver calls. */
export async function fleetChecks(run: ScaleRun, created: number) {
  const { counter } = run;
  const noop: Array<{ ms: number; calls: number; total: number; pending: number }> = [];
  for (let i = 0; i < 7; i++) {
    counter.reset();
    const result = await migrateTenants(counter.source, { concurrency: 4 });
    if (result.error) throw result.error;
    noop.push({ ms: result.durationMs, calls: counter.total(), total: result.total, pending: result.pending });
  }
  // The first call in a process also checks the summary table.
  const noopWarm = noop.slice(1);
  const warmMs = median(noopWarm.map((x) => x.ms)).toFixed(1);
  log(
    `no-op fleet check: first ${noop[0]!.ms.toFixed(1)} ms (${noop[0]!.calls} calls), ` +
      `then median ${warmMs} ms (${noopWarm[0]!.calls} calls)`,
  );
  const statusRuns: Array<{ ms: number; calls: number }> = [];
  for (let i = 0; i < 5; i++) {
    counter.reset();
    const t = performance.now();
    const status = await migrationStatus(counter.source);
    statusRuns.push({ ms: performance.now() - t, calls: counter.total() });
    if (status.tenants.total !== created || status.tenants.pending !== 0) {
      throw new Error(
        `migrationStatus: ${status.tenants.total} tenants, ${status.tenants.pending} pending (expected ${created}, 0)`,
      );
    }
  }
  log(`migrationStatus: median ${median(statusRuns.map((x) => x.ms)).toFixed(1)} ms, ${statusRuns[0]!.calls} calls`);
  counter.reset();
  const verify = await migrateTenants(counter.source, { concurrency: 4, verify: true });
  const verifyCalls = counter.total();
  log(
    `verify run: ${verify.durationMs.toFixed(0)} ms, ${verifyCalls} calls, ` +
      `${verify.disagreements.length} disagreements, ${verify.failed.length} failed`,
  );
  return { noop, noopWarm, statusRuns, verify, verifyCalls };
}

/** 3. A one-line fleet migration, from a temp copy of the tenant migrations plus one file. */
export async function fleetMigrationPhase(run: ScaleRun, tmp: string, created: number) {
  const { counter } = run;
  const files = (await readdir(DEFAULT_TENANT_DIR)).filter((f) => f.endsWith('.sql')).sort();
  const tenantDir = join(tmp, 'tenant');
  await mkdir(tenantDir);
  for (const f of files) await copyFile(join(DEFAULT_TENANT_DIR, f), join(tenantDir, f));
  const newFile = `${String(files.length + 1).padStart(3, '0')}_${NEW_MIGRATION.name}.sql`;
  await writeFile(join(tenantDir, newFile), NEW_MIGRATION.sql);
  await run.sampler.phase();
  counter.reset();
  let migrated = 0;
  const migrateEvery = Math.max(50, Math.round(run.tenants / 10));
  log(`fleet migration ${newFile} over ${created} tenants, concurrency 4`);
  const onProgress = ({ done, total }: { done: number; total: number }) => {
    migrated = done;
    if (done % migrateEvery === 0) log(`  migrated ${done}/${total}`);
  };
  const migration = await migrateTenants(counter.source, { tenantDir, concurrency: 4, onProgress });
  const migrationCalls = counter.total();
  const migrationPeak = await run.sampler.phase();
  const seconds = (migration.durationMs / 1000).toFixed(1);
  log(
    `fleet migration: ${seconds} s, ${migrated} tenants, ${migration.failed.length} failed, ${migrationCalls} calls, ` +
      `peak RSS ${mb(migrationPeak.rssBytes)} MiB`,
  );
  counter.reset();
  const after = await migrateTenants(counter.source, { tenantDir });
  const afterCheck = { ms: after.durationMs, calls: counter.total(), pending: after.pending };
  return { files, newFile, migration, migrationCalls, migrationPeak, afterCheck };
}

/** 4. withTenant latency on random tenants: N tenants vs 10, interleaved, same server, same run. */
export async function latencyPhase(run: ScaleRun, created: number, poolSize: number) {
  const { db, smallDb, width } = run;
  const perRound = 250;
  const rounds = Math.max(1, Math.round(run.scopes / perRound));
  const random = (count: number) => 1 + Math.floor(Math.random() * count);
  const bigSlug = () => `t${String(random(created)).padStart(width, '0')}`;
  const smallSlug = () => `s${random(10)}`;
  const readOrder = (sql: Database['sql']) => sql`select id from orders where id = ${'00000000-0000-0000-0000-000000000000'}`;
  log(`withTenant latency: ${rounds * perRound} scopes per side, interleaved`);
  const runs = {
    bigSelect1: () => db.withTenant(bigSlug(), (sql) => sql`select 1`),
    smallSelect1: () => smallDb.withTenant(smallSlug(), (sql) => sql`select 1`),
    bigRead: () => db.withTenant(bigSlug(), readOrder),
    smallRead: () => smallDb.withTenant(smallSlug(), readOrder),
  };
  const latency = await interleave(runs, rounds, perRound);
  const memory = {
    big: await backendMemory(db, poolSize),
    small: await backendMemory(smallDb, parsePoolSettings(run.smallUrl).max),
  };
  const latencyRows: BenchRow[] = [
    row(`withTenant(select 1), random tenant: ${created} vs 10 tenants`, 'µs', latency.smallSelect1!, latency.bigSelect1!),
    row(`withTenant(orders by id), random tenant: ${created} vs 10 tenants`, 'µs', latency.smallRead!, latency.bigRead!),
  ];
  return { latency, scopesPerSide: rounds * perRound, memory, latencyRows };
}

/** 5. One tenant more at N against one more on the 10-tenant database: createTenant both, alternated. */
export async function oneMorePhase(run: ScaleRun, created: number) {
  const extra = 6;
  const atScale = { big: [] as number[], small: [] as number[] };
  log(`one more tenant: ${extra} createTenant calls at ${created} tenants alternated with ${extra} on the 10-tenant database`);
  for (let i = 0; i < extra; i++) {
    const order: Array<[keyof typeof atScale, () => Promise<unknown>]> = [
      ['big', () => createTenant({ slug: `zc${i}` }, { db: run.db })],
      ['small', () => createTenant({ slug: `zs${i}` }, { db: run.smallDb })],
    ];
    if (i % 2 === 1) order.reverse();
    for (const [name, make] of order) {
      const t = performance.now();
      await make();
      atScale[name].push(performance.now() - t);
    }
  }
  log(
    `  createTenant median at ${created} tenants ${median(atScale.big).toFixed(0)} ms, ` +
      `at 10 tenants ${median(atScale.small).toFixed(0)} ms`,
  );
  return atScale;
}
