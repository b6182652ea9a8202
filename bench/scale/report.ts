import { type BenchRow, median } from '../lib.js';
import { type CatalogSize, mb, percentile, perTenant, round } from './measure.js';
import { type fleetChecks, type fleetMigrationPhase, type latencyPhase, NEW_MIGRATION, type provisionPhase } from './phases.js';

/** The scale run's report: built from what each phase returned, printed as a table, written as JSON. */

type Phase<F extends (...args: never[]) => unknown> = Awaited<ReturnType<F>>;

/** What the report is made of. */
export interface ScaleParts {
  options: object;
  startedAt: Date;
  machine: unknown;
  server: Record<string, unknown>;
  poolSize: number;
  concurrency: number;
  provisioning: Phase<typeof provisionPhase>;
  checks: Phase<typeof fleetChecks>;
  migration: Phase<typeof fleetMigrationPhase>;
  latency: Phase<typeof latencyPhase>;
  atScale: { big: number[]; small: number[] };
  final: { ours: number; server: number };
  sizes: { empty: CatalogSize; provisioned: CatalogSize; migrated: CatalogSize };
}

export function buildReport(parts: ScaleParts) {
  const { provisioning, migration, sizes, server } = parts;
  const created = provisioning.created;
  return {
    kind: 'scale',
    date: parts.startedAt.toISOString(),
    options: parts.options,
    machine: parts.machine,
    server: {
      version: String(server.version),
      maxConnections: Number(server.max_connections),
      superuserReservedConnections: Number(server.reserved),
      sharedBuffers: String(server.shared_buffers),
      maxLocksPerTransaction: Number(server.max_locks),
      poolSizePerDatabaseObject: parts.poolSize,
      peakConnectionsToScratchDb: Math.max(provisioning.provisionPeak.ours, migration.migrationPeak.ours, parts.final.ours),
      peakConnectionsOnServer: Math.max(provisioning.provisionPeak.server, migration.migrationPeak.server, parts.final.server),
    },
    tenantMigrations: migration.files.length,
    provisioning: provisioningReport(parts),
    ...checksReport(parts.checks),
    fleetMigration: fleetMigrationReport(migration),
    size: { ...sizes, perTenant: perTenant(sizes.empty, sizes.provisioned, created) },
    withTenant: withTenantReport(parts.latency),
    totalMs: 0,
    cleanup: {} as Record<string, number>,
  };
}

export type ScaleReport = ReturnType<typeof buildReport>;

function provisioningReport(parts: ScaleParts) {
  const { outcome, provisionMs, provisionPeak, trend, created } = parts.provisioning;
  const { durations, failures, retries } = outcome;
  const { big, small } = parts.atScale;
  return {
    tenants: created,
    concurrency: parts.concurrency,
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
      createTenantMs: big.map((x) => round(x, 0)),
      tenTenantsMs: small.map((x) => round(x, 0)),
      createTenantMedianMs: round(median(big), 0),
      tenTenantsMedianMs: round(median(small), 0),
      ratio: round(median(big) / median(small), 2),
    },
    failures,
    retries: retries.length,
    retryReasons: [...new Set(retries.map((r) => r.error.replace(/tenant_t\d+/g, 'tenant_…')))],
    peakConnections: provisionPeak.ours,
    peakRssMiB: mb(provisionPeak.rssBytes),
    /** Samples (every 0.5 s) of what the provisioning backends were doing. */
    waitSamples: provisionPeak.waits,
  };
}

function checksReport(checks: ScaleParts['checks']) {
  const { noop, noopWarm, statusRuns, verify, verifyCalls } = checks;
  return {
    noopFleetCheck: {
      firstMs: round(noop[0]!.ms, 1),
      firstDriverCalls: noop[0]!.calls,
      medianMs: round(median(noopWarm.map((x) => x.ms)), 1),
      driverCalls: noopWarm[0]!.calls,
      total: noop[0]!.total,
      pending: noop[0]!.pending,
    },
    migrationStatus: { medianMs: round(median(statusRuns.map((x) => x.ms)), 1), driverCalls: statusRuns[0]!.calls },
    verifyRun: {
      ms: round(verify.durationMs, 0),
      driverCalls: verifyCalls,
      disagreements: verify.disagreements.length,
      failed: verify.failed.length,
    },
  };
}

function fleetMigrationReport(phase: ScaleParts['migration']) {
  const { migration, migrationCalls, migrationPeak, afterCheck } = phase;
  const firstFailure = migration.failed[0];
  return {
    file: phase.newFile,
    sql: NEW_MIGRATION.sql.trim(),
    tenants: migration.tenants.length,
    succeeded: migration.tenants.filter((t) => t.status === 'Success').length,
    failed: migration.failed.length,
    firstFailure: firstFailure ? `${firstFailure.slug}: ${firstFailure.error?.message}` : null,
    ms: round(migration.durationMs, 0),
    tenantsPerSecond: round(migration.tenants.length / (migration.durationMs / 1000), 1),
    driverCalls: migrationCalls,
    driverCallsPerTenant: round(migrationCalls / Math.max(1, migration.tenants.length), 2),
    peakRssMiB: mb(migrationPeak.rssBytes),
    processMaxRssMiB: round(process.resourceUsage().maxRSS / 1024, 1),
    peakConnections: migrationPeak.ours,
    waitSamples: migrationPeak.waits,
    checkAfter: { ms: round(afterCheck.ms, 1), driverCalls: afterCheck.calls, pending: afterCheck.pending },
  };
}

function withTenantReport(phase: ScaleParts['latency']) {
  const { latency, memory } = phase;
  const pair = (big: number, small: number) => ({
    tenantsMedianUs: round(big, 1),
    tenTenantsMedianUs: round(small, 1),
    ratio: round(big / small, 3),
  });
  return {
    scopesPerSide: phase.scopesPerSide,
    select1: pair(latency.bigSelect1!, latency.smallSelect1!),
    ordersById: pair(latency.bigRead!, latency.smallRead!),
    backendMemoryAfter: memory,
  };
}

/** Prints a scale run as a two-column table plus the withTenant ratio rows. */
export function printScaleReport(r: ScaleReport, latencyRows: BenchRow[]): void {
  const lines = [...runLines(r), ...sizeLines(r)];
  const w = Math.max(...lines.map(([k]) => k.length));
  console.log(`\nOne server, ${r.provisioning.tenants} tenants (PostgreSQL ${r.server.version})`);
  for (const [k, v] of lines) console.log(`${k.padEnd(w)}  ${v}`);
  const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  const scopes = r.withTenant.scopesPerSide;
  console.log(`\nwithTenant, ${scopes} scopes per side on random tenants, interleaved (baseline: 10-tenant database, same run)`);
  for (const l of latencyRows)
    console.log(`${l.name.padEnd(62)}  ${fmt(l.baseline)} µs → ${fmt(l.ours)} µs  ${l.ratio.toFixed(2)}x`);
}

function runLines(r: ScaleReport): Array<[string, string]> {
  const p = r.provisioning;
  const f = r.fleetMigration;
  const noop = r.noopFleetCheck;
  const waits = Object.entries(p.waitSamples)
    .slice(0, 4)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return [
    ['tenants (tenant migrations each)', `${p.tenants} (${r.tenantMigrations})`],
    [
      'provisioning: total (createTenant)',
      `${(p.totalMs / 1000).toFixed(1)} s, ${p.tenantsPerSecond} tenants/s, concurrency ${p.concurrency}`,
    ],
    ['createTenant: per tenant', `median ${p.medianMs} ms, p95 ${p.p95Ms} ms, p99 ${p.p99Ms} ms, max ${p.maxMs} ms`],
    ...p.trend.map((t): [string, string] => [
      `  tenants ${t.tenants}`,
      `median ${t.medianMs} ms, p95 ${t.p95Ms} ms, ${t.tenantsPerSecond} tenants/s`,
    ]),
    [
      `one more createTenant at ${p.atScale.tenants}`,
      `${p.atScale.createTenantMedianMs} ms vs ${p.atScale.tenTenantsMedianMs} ms on the 10-tenant database ` +
        `(${p.atScale.ratio}x)`,
    ],
    ['provisioning: failures / retries', `${p.failures.length} / ${p.retries}`],
    ['provisioning: backends waiting on', waits],
    [
      'no-op fleet check (warm)',
      `${noop.medianMs} ms, ${noop.driverCalls} call(s); first ${noop.firstMs} ms, ${noop.firstDriverCalls} calls`,
    ],
    ['migrationStatus', `${r.migrationStatus.medianMs} ms, ${r.migrationStatus.driverCalls} driver calls`],
    [
      'verify run (every schema read)',
      `${(r.verifyRun.ms / 1000).toFixed(2)} s, ${r.verifyRun.driverCalls} calls, ${r.verifyRun.disagreements} disagreements`,
    ],
    [
      'fleet migration (1 line)',
      `${(f.ms / 1000).toFixed(1)} s, ${f.tenantsPerSecond} tenants/s, ${f.failed} failed, ` +
        `${f.driverCallsPerTenant} calls/tenant`,
    ],
    ['fleet migration: peak RSS', `${f.peakRssMiB} MiB (process max ${f.processMaxRssMiB} MiB)`],
    ['check after migration', `${f.checkAfter.ms} ms, ${f.checkAfter.driverCalls} calls, ${f.checkAfter.pending} pending`],
  ];
}

function sizeLines(r: ScaleReport): Array<[string, string]> {
  const { empty, provisioned, perTenant: per } = r.size;
  const s = r.server;
  const memory = r.withTenant.backendMemoryAfter;
  return [
    [
      'database size',
      `${mb(empty.databaseBytes)} MiB empty → ${mb(provisioned.databaseBytes)} MiB (${per.databaseKiB} KiB/tenant)`,
    ],
    [
      'catalog (pg_catalog tables)',
      `${mb(empty.catalogBytes)} MiB → ${mb(provisioned.catalogBytes)} MiB (${per.catalogKiB} KiB/tenant)`,
    ],
    [
      'pg_class rows',
      `${empty.pgClass} → ${provisioned.pgClass} (${per.pgClass}/tenant, ${per.relationsWithStorage} with files)`,
    ],
    ['pg_attribute rows', `${empty.pgAttribute} → ${provisioned.pgAttribute} (${per.pgAttribute}/tenant)`],
    ['pg_depend rows', `${empty.pgDepend} → ${provisioned.pgDepend} (${per.pgDepend}/tenant)`],
    ['pg_type rows', `${empty.pgType} → ${provisioned.pgType} (${per.pgType}/tenant)`],
    [
      'connections',
      `max_connections ${s.maxConnections} (${s.superuserReservedConnections} reserved); pool ${s.poolSizePerDatabaseObject}; ` +
        `peak ${s.peakConnectionsToScratchDb} to the scratch db, ${s.peakConnectionsOnServer} on the server`,
    ],
    [
      'backend memory after random scopes',
      `N tenants: median ${memory.big.medianMiB} MiB (cache ${memory.big.cacheMedianMiB}); ` +
        `10 tenants: ${memory.small.medianMiB} MiB (cache ${memory.small.cacheMedianMiB})`,
    ],
    [
      'drop scratch database + roles',
      r.cleanup.dropBigDatabaseMs === undefined ? 'kept' : `${(r.cleanup.dropBigDatabaseMs / 1000).toFixed(1)} s`,
    ],
    ['total run', `${(r.totalMs / 1000 / 60).toFixed(1)} min`],
  ];
}
