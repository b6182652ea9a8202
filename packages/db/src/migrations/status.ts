import type { Driver } from '../drivers/types.js';
import { quoteIdentifier, schemaNameFor } from '../sql/identifier.js';
import {
  countFleet,
  keysetPages,
  pendingPage,
  registryTable,
  STATE_TABLE,
  tenantSourceSql,
  type TenantSource,
} from './fleet-source.js';
import { loadMigrations, prefixDigests, type Migration } from './files.js';
import { DEFAULT_PUBLIC_DIR, DEFAULT_TENANT_DIR, type DriverSource, type MigrateOptions } from './types.js';

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
  /** Highest applied version per the summary (null: no summary row yet). */
  version: number | null;
  /** Files after that version. */
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
  /** Latest tenant migration version among the files. */
  latest: number;
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
  public: SchemaMigrationStatus;
  tenants: FleetMigrationStatus;
  /** With `options.slug`: that tenant's own schema_migrations, read directly. */
  tenant?: SchemaMigrationStatus;
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
  const [publicFiles, tenantFiles] = await Promise.all([
    loadMigrations(options.publicDir ?? DEFAULT_PUBLIC_DIR),
    loadMigrations(options.tenantDir ?? DEFAULT_TENANT_DIR),
  ]);
  const driver = await db.driver();
  const source = options.tenants ?? 'organizations';
  const {
    rows: [exists],
  } = await driver.query({
    text: `select to_regclass('public.schema_migrations') is not null as public_tracked,
                  to_regclass('public.tenant_migration_state') is not null as state,
                  ($1::text is null or to_regclass($1::text) is not null) as registry`,
    values: [source === 'schemas' ? null : registryTable(source)],
  });
  const report: MigrationStatusReport = {
    public: await schemaStatus(driver, 'public', publicFiles, exists?.public_tracked === true),
    tenants: {
      registry: exists?.registry === true,
      latest: tenantFiles.length,
      total: 0,
      upToDate: 0,
      pending: 0,
      ahead: 0,
      changed: 0,
      tenants: [],
    },
  };
  if (report.tenants.registry)
    report.tenants = await fleetStatus(driver, tenantSourceSql(source), tenantFiles, exists?.state === true);
  if (options.slug !== undefined) {
    const schema = schemaNameFor(options.slug);
    const {
      rows: [t],
    } = await driver.query({
      text: "select to_regclass(quote_ident($1) || '.schema_migrations') is not null as tracked",
      values: [schema],
    });
    report.tenant = await schemaStatus(driver, schema, tenantFiles, t?.tracked === true);
  }
  return report;
}

async function schemaStatus(
  driver: Driver,
  schema: string,
  files: readonly Migration[],
  tracked: boolean,
): Promise<SchemaMigrationStatus> {
  const rows = tracked
    ? (
        await driver.query({
          text: `select version, name, checksum, applied_at, duration_ms
from ${quoteIdentifier(schema)}.schema_migrations order by version`,
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
    initialized: tracked,
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
  files: readonly Migration[],
  stateTable: boolean,
): Promise<FleetMigrationStatus> {
  const latest = files.length;
  const digest = prefixDigests(files)[latest]!;
  const state = stateTable
    ? STATE_TABLE
    : '(select null::text as schema_name, null::int as version, null::text as checksum_digest where false)';
  const { total, pending } = await countFleet(driver, source, latest, digest, state);
  const tenants: TenantPendingStatus[] = [];
  if (pending > 0) {
    for await (const rows of keysetPages(driver, STATUS_PAGE, (last) =>
      pendingPage(source, latest, digest, last, STATUS_PAGE, state),
    )) {
      for (const row of rows) tenants.push(pendingStatus(row, files));
      if (tenants.length >= pending) break;
    }
  }
  const count = (reason: TenantPendingStatus['reason']) => tenants.filter((t) => t.reason === reason).length;
  const ahead = count('ahead');
  const changed = count('changed');
  return {
    registry: true,
    latest,
    total,
    upToDate: total - pending,
    pending: pending - ahead - changed,
    ahead,
    changed,
    tenants,
  };
}

function pendingStatus(row: Record<string, unknown>, files: readonly Migration[]): TenantPendingStatus {
  const latest = files.length;
  const version = row.version === null || row.version === undefined ? null : Number(row.version);
  const reason =
    version === null
      ? 'new'
      : version > latest
        ? 'ahead'
        : row.checksum_digest !== prefixDigests(files)[version]
          ? 'changed'
          : 'behind';
  return {
    slug: String(row.slug),
    schema: String(row.schema_name),
    version,
    pending: files.slice(version ?? 0).map((f) => f.filename),
    reason,
  };
}
