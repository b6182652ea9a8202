import type { Driver } from '../drivers/types.js';
import { quoteIdentifier, schemaNameFor } from '../sql/identifier.js';
import {
  countFleet,
  keysetPages,
  NO_STATE_TABLE,
  pendingPage,
  registryTable,
  STATE_TABLE,
  stateRowsOf,
  tenantSourceSql,
  type TenantSource,
} from './fleet-source.js';
import { setTargets } from './fleet-tasks.js';
import { prefixDigests } from './files.js';
import { fileLabel, loadSets, type LoadedSet } from './sets.js';
import { PLATFORM_SET } from './tracking.js';
import type { DriverSource, MigrateOptions } from './types.js';

/** The status report: what is applied and pending, read-only. */

/** One applied migration, as a schema's schema_migrations records it. */
export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
  appliedAt: Date;
  durationMs: number | null;
  /** The file's checksum differs (the file was edited after it was applied); false when the file is missing. */
  changed: boolean;
  /** No file has this version (applied by a newer release). */
  missingFile: boolean;
}

/** The migrations of one schema: what it has applied and what is pending. */
export interface SchemaMigrationStatus {
  schema: string;
  /** The application's set this is about (absent: the platform's). */
  set?: string;
  /** The schema has a schema_migrations table (the runner ran there at least once). */
  initialized: boolean;
  applied: AppliedMigration[];
  /** Files not applied yet, in order. */
  pending: Array<{ version: number; name: string; filename: string }>;
  /** Nothing pending, nothing changed or missing. */
  upToDate: boolean;
}

/** A tenant that is not up to date, according to the summary. */
export interface TenantPendingStatus {
  slug: string;
  schema: string;
  /** The first set that is not up to date: an application's (absent: the platform's). */
  set?: string;
  /** Highest applied version of that set per the summary (null: no summary row yet). */
  version: number | null;
  /** Files after that version, and every file of later sets not up to date (`set/file` for an application's). */
  pending: string[];
  /**
   * new: no summary row; behind: an older version whose files are unchanged (`migrate` applies the rest);
   * changed: its applied files' checksums differ from the files (an applied file was edited); ahead: newer
   * than the files (migrated by a newer release, or a file was removed). `migrate` refuses the last two.
   */
  reason: 'new' | 'behind' | 'changed' | 'ahead';
}

/** The fleet, from the summary (one query for the counts, pages for the list). */
export interface FleetMigrationStatus {
  /** The tenant registry exists (public.organizations for the default source). */
  registry: boolean;
  /** Latest platform tenant migration version among the files. */
  latest: number;
  /** Every tenant set (the platform's first) and its latest version. */
  sets: Array<{ set: string; latest: number }>;
  total: number;
  upToDate: number;
  /** How many tenants `migrate` would bring up to date (reason new or behind). */
  pending: number;
  /** How many tenants are ahead of the files (`migrate` refuses them: deploy the release that has the files). */
  ahead: number;
  /** How many tenants have applied files whose content changed since (`migrate` refuses them). */
  changed: number;
  /** Every tenant that is not up to date (pending, ahead or changed), ordered by slug. */
  tenants: TenantPendingStatus[];
}

export interface MigrationStatusReport {
  /** The platform's public migrations. */
  public: SchemaMigrationStatus;
  /** The application's public sets, in order (empty without any). */
  publicSets: SchemaMigrationStatus[];
  /** Every tenant, over every tenant set. */
  tenants: FleetMigrationStatus;
  /** With `options.slug`: that tenant's own schema_migrations (platform set), read directly. */
  tenant?: SchemaMigrationStatus;
  /** With `options.slug`: the same for each of the application's tenant sets. */
  tenantSets?: SchemaMigrationStatus[];
}

export interface MigrationStatusOptions extends MigrateOptions {
  tenants?: TenantSource;
  /** Also read this tenant's schema_migrations (`report.tenant`). */
  slug?: string;
}

/**
 * What is applied and pending: the public schema in detail (read from public.schema_migrations), the fleet
 * from the summary table (counts, and the tenants not up to date), and optionally one tenant in detail.
 * Read-only: creates nothing.
 *
 * @example
 * const status = await migrationStatus(db);
 * console.log(`public: ${status.public.pending.length} pending`);
 * console.log(`tenants: ${status.tenants.pending}/${status.tenants.total} pending`);
 */
export async function migrationStatus(db: DriverSource, options: MigrationStatusOptions = {}): Promise<MigrationStatusReport> {
  const [publicSets, tenantSets] = await Promise.all([loadSets('public', options), loadSets('tenant', options)]);
  const driver = await db.driver();
  const source = options.tenants ?? 'organizations';
  const {
    rows: [exists],
  } = await driver.query({
    text: `select to_regclass('public.schema_migrations') is not null as public_tracked,
                  ${hasSetColumn("'public.schema_migrations'")} as public_sets,
                  to_regclass('public.tenant_migration_state') is not null as state,
                  ${hasSetColumn("'public.tenant_migration_state'")} as state_sets,
                  ($1::text is null or to_regclass($1::text) is not null) as registry`,
    values: [source === 'schemas' ? null : registryTable(source)],
  });
  const publicTracking = { tracked: exists?.public_tracked === true, sets: exists?.public_sets === true };
  const [platformPublic, ...appPublic] = await Promise.all(
    publicSets.map((set) => schemaStatus(driver, 'public', set, publicTracking)),
  );
  const report: MigrationStatusReport = {
    public: platformPublic!,
    publicSets: appPublic,
    tenants: emptyFleet(tenantSets),
  };
  if (exists?.registry === true) {
    const state = exists.state !== true ? NO_STATE_TABLE : exists.state_sets === true ? STATE_TABLE : OLD_STATE_TABLE;
    report.tenants = await fleetStatus(driver, tenantSourceSql(source), tenantSets, state);
  }
  if (options.slug !== undefined) {
    const schema = schemaNameFor(options.slug);
    const table = `quote_ident($1) || '.schema_migrations'`;
    const {
      rows: [t],
    } = await driver.query({
      text: `select to_regclass(${table}) is not null as tracked, ${hasSetColumn(table)} as sets`,
      values: [schema],
    });
    const tracking = { tracked: t?.tracked === true, sets: t?.sets === true };
    const [platform, ...app] = await Promise.all(tenantSets.map((set) => schemaStatus(driver, schema, set, tracking)));
    report.tenant = platform!;
    report.tenantSets = app;
  }
  return report;
}

/** SQL: the table (a text expression naming it) exists and has the `migration_set` column of this release. */
function hasSetColumn(table: string): string {
  return `exists (select 1 from pg_attribute
  where attrelid = to_regclass(${table}) and attname = 'migration_set' and not attisdropped)`;
}

/** A summary table of an older release (one row per tenant, the platform's), read as this release's form. */
const OLD_STATE_TABLE = `(select schema_name, '${PLATFORM_SET}'::text as migration_set, version, checksum_digest
  from public.tenant_migration_state)`;

function emptyFleet(sets: readonly LoadedSet[]): FleetMigrationStatus {
  return {
    registry: false,
    latest: sets[0]?.migrations.length ?? 0,
    sets: sets.map((set) => ({ set: set.name, latest: set.migrations.length })),
    total: 0,
    upToDate: 0,
    pending: 0,
    ahead: 0,
    changed: 0,
    tenants: [],
  };
}

async function schemaStatus(
  driver: Driver,
  schema: string,
  set: LoadedSet,
  tracking: { tracked: boolean; sets: boolean },
): Promise<SchemaMigrationStatus> {
  const files = set.migrations;
  // A tracking table of an older release holds the platform's rows only.
  const readable = tracking.tracked && (tracking.sets || set.name === PLATFORM_SET);
  const rows = readable
    ? (
        await driver.query({
          text: `select version, name, checksum, applied_at, duration_ms
from ${quoteIdentifier(schema)}.schema_migrations${tracking.sets ? ' where migration_set = $1' : ''} order by version`,
          values: tracking.sets ? [set.name] : [],
        })
      ).rows
    : [];
  const applied: AppliedMigration[] = rows.map((row) => {
    const version = Number(row.version);
    const file = files[version - 1];
    return {
      version,
      name: String(row.name),
      checksum: String(row.checksum),
      appliedAt: row.applied_at instanceof Date ? row.applied_at : new Date(String(row.applied_at)),
      durationMs: row.duration_ms === null || row.duration_ms === undefined ? null : Number(row.duration_ms),
      changed: file !== undefined && file.checksum !== row.checksum,
      missingFile: file === undefined,
    };
  });
  const done = new Set(applied.map((a) => a.version));
  const pending = files
    .filter((f) => !done.has(f.version))
    .map((f) => ({ version: f.version, name: f.name, filename: f.filename }));
  return {
    schema,
    ...(set.name === PLATFORM_SET ? {} : { set: set.name }),
    initialized: tracking.tracked,
    applied,
    pending,
    upToDate: pending.length === 0 && applied.every((a) => !a.changed && !a.missingFile),
  };
}

/** Tenants listed per page of the report. */
const STATUS_PAGE = 1000;

async function fleetStatus(
  driver: Driver,
  source: string,
  sets: readonly LoadedSet[],
  state: string,
): Promise<FleetMigrationStatus> {
  const targets = setTargets(sets);
  const { total, pending } = await countFleet(driver, source, targets, undefined, state);
  const tenants: TenantPendingStatus[] = [];
  if (pending > 0) {
    for await (const rows of keysetPages(driver, STATUS_PAGE, (last) =>
      pendingPage(source, targets, last, STATUS_PAGE, { state }),
    )) {
      for (const row of rows) tenants.push(pendingStatus(row, sets));
      if (tenants.length >= pending) break;
    }
  }
  const count = (reason: TenantPendingStatus['reason']) => tenants.filter((t) => t.reason === reason).length;
  const ahead = count('ahead');
  const changed = count('changed');
  return {
    ...emptyFleet(sets),
    registry: true,
    total,
    upToDate: total - pending,
    pending: pending - ahead - changed,
    ahead,
    changed,
    tenants,
  };
}

/** A pending tenant: the first set not up to date says why; every set not up to date adds its files. */
function pendingStatus(row: Record<string, unknown>, sets: readonly LoadedSet[]): TenantPendingStatus {
  const state = stateRowsOf(row.state);
  let first: Omit<TenantPendingStatus, 'slug' | 'schema' | 'pending'> | undefined;
  const pending: string[] = [];
  for (const set of sets) {
    const files = set.migrations;
    const latest = files.length;
    const digests = prefixDigests(files);
    const summary = state.get(set.name);
    const version = summary ? summary.version : null;
    if (summary && summary.version === latest && summary.digest === digests[latest]) continue;
    const reason =
      version === null ? 'new' : version > latest ? 'ahead' : summary?.digest !== digests[version] ? 'changed' : 'behind';
    first ??= { ...(set.name === PLATFORM_SET ? {} : { set: set.name }), version, reason };
    pending.push(...files.slice(Math.min(version ?? 0, latest)).map((f) => fileLabel(set.name, f.filename)));
  }
  return {
    slug: String(row.slug),
    schema: String(row.schema_name),
    ...(first ?? { version: null, reason: 'new' as const }),
    pending,
  };
}
