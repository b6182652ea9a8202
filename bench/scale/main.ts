/**
 * The many-tenant run on ONE PostgreSQL server: how far does schema-per-tenant go, and what grows?
 * Findings and the recorded 10,000-tenant run: docs/SCALING.md.
 *
 *   npm run bench:scale                       10,000 tenants (about 10 minutes on a shared 2-core machine)
 *   npx tsx bench/scale/main.ts --tenants 60       smoke run (under a minute)
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
 * The phases are in bench/scale/phases.ts, the measuring tools in bench/scale/measure.ts, the report in
 * bench/scale/report.ts.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database, setupDatabase } from '../../packages/db/src/index.js';
import { parsePoolSettings } from '../../packages/db/src/drivers/pool-settings.js';
import { createFleet, createScratchDatabase, isMain, positiveInt } from '../lib.js';
import { machineInfo, resultsDir, timestamp } from '../run.js';
import { catalogSize, countingSource, dropScratch, interruption, log, mb, round, Sampler } from './measure.js';
import { fleetChecks, fleetMigrationPhase, latencyPhase, oneMorePhase, provisionPhase, type ScaleRun } from './phases.js';
import { buildReport, printScaleReport } from './report.js';

export interface ScaleOptions {
  tenants: number;
  concurrency: number;
  scopes: number;
  keep: boolean;
}

type Scratch = Awaited<ReturnType<typeof createScratchDatabase>>;

/** Runs every phase on two scratch databases, writes the JSON report, and always cleans up. */
export async function runScale(options: ScaleOptions) {
  const started = performance.now();
  const startedAt = new Date();
  const big = await createScratchDatabase('cgk_scale');
  const small = await createScratchDatabase('cgk_scale_small');
  log(`scratch databases ${big.name} (N=${options.tenants}) and ${small.name} (10 tenants)`);
  const db = new Database({ url: big.url });
  const smallDb = new Database({ url: small.url });
  const sampler = new Sampler(big.name);
  const cleanup = cleanupOnce(options, sampler, [db, smallDb], big, small);
  const tmp = await mkdtemp(join(tmpdir(), 'cgk-scale-'));
  try {
    await sampler.start();
    const run: ScaleRun = {
      ...options,
      db,
      smallDb,
      smallUrl: small.url,
      sampler,
      counter: countingSource(db),
      width: String(options.tenants).length,
      started,
    };
    const report = await measure(run, options, big.name, tmp, startedAt);
    report.report.cleanup = await cleanup();
    report.report.totalMs = round(performance.now() - started, 0);
    await writeReport(report.report, startedAt);
    return report;
  } finally {
    await cleanup().catch((error: unknown) => log(`cleanup failed: ${(error as Error).message}`));
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The phases in order, and the report built from them. */
async function measure(run: ScaleRun, options: ScaleOptions, database: string, tmp: string, startedAt: Date) {
  const { db, smallDb } = run;
  const server = (
    await db.sql.query(`select current_setting('server_version') as version,
      current_setting('max_connections')::int as max_connections,
      current_setting('superuser_reserved_connections')::int as reserved, current_setting('shared_buffers') as shared_buffers,
      current_setting('max_locks_per_transaction')::int as max_locks`)
  ).rows[0]!;
  await setupDatabase({ db });
  await setupDatabase({ db: smallDb });
  const empty = await catalogSize(db, database);
  await run.sampler.phase();
  const provisioning = await provisionPhase(run);
  const { created } = provisioning;
  const provisioned = await catalogSize(db, database);
  log(
    `provisioned ${created} in ${(provisioning.provisionMs / 1000).toFixed(1)} s; database ${mb(provisioned.databaseBytes)} MiB`,
  );
  // The 10-tenant comparison database.
  await createFleet(
    smallDb,
    Array.from({ length: 10 }, (_, i) => `s${i + 1}`),
    { label: 'Scale', concurrency: 1, log },
  );
  const checks = await fleetChecks(run, created);
  const migration = await fleetMigrationPhase(run, tmp, created);
  const migrated = await catalogSize(db, database);
  const poolSize = parsePoolSettings(db.config.url!).max;
  const latency = await latencyPhase(run, created, poolSize);
  const atScale = await oneMorePhase(run, created);
  const final = await run.sampler.phase();
  const report = buildReport({
    options,
    startedAt,
    machine: await machineInfo(db),
    server,
    poolSize,
    concurrency: run.concurrency,
    provisioning,
    checks,
    migration,
    latency,
    atScale,
    final,
    sizes: { empty, provisioned, migrated },
  });
  return { report, latencyRows: latency.latencyRows };
}

/**
 * One cleanup, shared: a signal and the normal end (or an error) wait for the same drop. Drops both scratch
 * databases and their tenant roles, unless `--keep`.
 */
function cleanupOnce(options: ScaleOptions, sampler: Sampler, dbs: Database[], big: Scratch, small: Scratch) {
  let cleaning: Promise<Record<string, number>> | undefined;
  const dropAll = async (): Promise<Record<string, number>> => {
    await sampler.stop();
    await Promise.all(dbs.map((d) => d.end()));
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
  const cleanup = (): Promise<Record<string, number>> => (cleaning ??= dropAll());
  const onSignal = (signal: string) => {
    interruption.stopped = true;
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return cleanup;
}

async function writeReport(report: object, startedAt: Date): Promise<void> {
  await mkdir(resultsDir, { recursive: true });
  const json = JSON.stringify(report, null, 2);
  await writeFile(join(resultsDir, `scale-${timestamp(startedAt)}.json`), json);
  await writeFile(join(resultsDir, 'scale-latest.json'), json);
  log(`wrote ${join('bench/results', 'scale-latest.json')}`);
}

export function parseScaleArgs(argv: string[]): ScaleOptions {
  const options: ScaleOptions = { tenants: 10_000, concurrency: 4, scopes: 2000, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => positiveInt(argv, i++);
    if (arg === '--tenants') options.tenants = value();
    else if (arg === '--concurrency') options.concurrency = value();
    else if (arg === '--scopes') options.scopes = value();
    else if (arg === '--keep') options.keep = true;
    else if (arg === '--help' || arg === '-h') {
      console.log('usage: tsx bench/scale/main.ts [--tenants N (10000)] [--concurrency C (4)] [--scopes S (2000)] [--keep]');
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (try --help)`);
  }
  return options;
}

if (isMain(import.meta.url)) {
  const { report, latencyRows } = await runScale(parseScaleArgs(process.argv.slice(2)));
  printScaleReport(report, latencyRows);
}
