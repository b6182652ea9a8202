import type { Driver, Statement } from '../drivers/types.js';
import { CgkError, InvalidSlugError, MigrationError, MigrationFleetError, QueryError } from '../errors.js';
import { isValidSlug, quoteIdentifier, schemaNameFor, TENANT_SCHEMA_PREFIX } from '../identifier.js';
import { historyDigest, HISTORY_SQL, loadMigrations, prefixDigests, type Migration } from './files.js';
import {
  DEFAULT_PUBLIC_DIR,
  DEFAULT_TENANT_DIR,
  runSchema,
  runSchemaAssuming,
  type DriverSource,
  type MigrateOptions,
  type MigrationResult,
} from './runner.js';
import { ensureStateTable } from './tracking.js';

/**
 * Fleet work: every tenant, scaled (DESIGN.md rule 6).
 *
 * The summary: `public.tenant_migration_state(schema_name, version, checksum_digest, updated_at)`, created by
 * the runner (under the lock of `public`; not a numbered migration, so it exists before any public file runs
 * and whatever the public files are). Each tenant migration writes its tenant's row in the same transaction
 * as the migration and its tracking row: highest applied version and the SHA-256 of its applied
 * `version:checksum` list. One query compares every tenant's row with the files' latest version and digest,
 * so "nothing pending" costs one round trip whatever the number of tenants, and a changed file (other
 * digest) or a tenant migrated by a newer release (other version) also shows up as pending (and is then
 * refused by the tenant's run with the precise error).
 *
 * The run: pending tenants are streamed in keyset pages (`slug > $last order by slug limit $page`), migrated
 * `concurrency` at a time, each reported to `onProgress`; a failing tenant is recorded and the others go on.
 * A tenant whose summary row shows exactly the first N files takes the fast path (`runSchemaAssuming`: one
 * script per file, guarded against a wrong summary); others take the general path. Tenant transactions
 * commit without waiting for the WAL flush and one synchronous commit at the end makes them durable.
 *
 * `verify: true` does not trust the summary: it reads every tenant's own `schema_migrations` (UNION ALL
 * queries of 25 schemas), reports the rows that disagree and lets each such tenant's run rewrite its row
 * (and apply what is really pending).
 */

/**
 * Where the tenants are listed. A tenant is a slug listed there whose schema `tenant_{slug}` exists: a
 * registry row without a schema (a half-created or dropped tenant) is not migrated, nor is a `tenant_*`
 * schema without a row. Every status (active, suspended, onboarding) is migrated: a schema must match the
 * code whatever the tenant's state. The listing is SQL (joined with the summary in the same query), which is
 * what keeps the fast check to one query.
 * - `'organizations'` (default): `public.organizations.slug`, the platform's registry (public migration 001).
 * - `'schemas'`: every schema named `tenant_*`, no registry needed (tests, tools, recovery).
 * - `{ table, schema?, slugColumn? }`: another registry table (its slug column, default `slug`).
 */
export type TenantSource = 'organizations' | 'schemas' | { table: string; schema?: string; slugColumn?: string };

/** Status of one tenant in a fleet run. */
export type TenantRunStatus = 'Success' | 'UpToDate' | 'Error';

/** What `onProgress` receives after each tenant. */
export interface TenantProgress {
  /** Tenants finished so far (this one included), out of `total`. */
  done: number;
  /** Tenants this run looks at: the pending ones (or, with `verify`, all of them). */
  total: number;
  slug: string;
  schema: string;
  status: TenantRunStatus;
  /** Files applied to this tenant in this run. */
  applied: string[];
  error?: CgkError;
}

/** One tenant's outcome in a fleet run. */
export interface TenantRunResult {
  slug: string;
  schema: string;
  status: TenantRunStatus;
  /** Files applied now. */
  applied: string[];
  /** The migrations that ran, failed or were not executed (already applied ones, status Skipped, are left out to keep fleet results small). */
  results: MigrationResult[];
  error?: CgkError;
}

/** A tenant whose summary row disagreed with its own schema_migrations (found by `verify`; repaired). */
export interface SummaryDisagreement {
  slug: string;
  schema: string;
  /** What `public.tenant_migration_state` said (null: no row). */
  summary: { version: number; digest: string } | null;
  /** What the schema's `schema_migrations` holds. */
  actual: { version: number; digest: string };
}

export interface MigrateTenantsOptions extends Pick<MigrateOptions, 'tenantDir'> {
  /** How many tenants are migrated at once; default 4. Each uses one connection at a time (for a no-transaction file: the locked transaction's, ended before the file's own session is opened). */
  concurrency?: number;
  /** Called after each tenant looked at (exceptions it throws are ignored). */
  onProgress?: (progress: TenantProgress) => void;
  /** Check every tenant's own schema_migrations instead of trusting the summary, and repair disagreements. */
  verify?: boolean;
  /** Where tenants are listed; default `'organizations'`. */
  tenants?: TenantSource;
  /** Tenants per keyset page; default 500. */
  pageSize?: number;
  /**
   * Wait for the WAL flush at every tenant's commit. Default false: tenant transactions commit with
   * `synchronous_commit = off` (still atomic) and one synchronous commit at the end makes them all durable
   * before the run returns; a server crash mid-run only means the next run applies the lost ones again.
   */
  synchronousCommit?: boolean;
}

/** The outcome of `migrateTenants`: per tenant, and the first error for callers that only want to know. */
export interface MigrateTenantsResult {
  /** Tenants in the registry when the run started. */
  total: number;
  /** Tenants found needing work (pending per the summary, or with `verify` per their own schema). */
  pending: number;
  /** Every tenant worked on (with `verify`: every tenant). */
  tenants: TenantRunResult[];
  /** The tenants that failed; the others went on. */
  failed: TenantRunResult[];
  /** With `verify`: summary rows that were wrong (now repaired). */
  disagreements: SummaryDisagreement[];
  /** `MigrationFleetError` listing the failed tenants, or the error that stopped the run before any tenant. */
  error?: CgkError;
  durationMs: number;
}

/**
 * Applies pending tenant migrations to every tenant. Finds "nothing pending" in one query (after the first
 * call in a process, which also makes sure the summary table exists); streams pending tenants in keyset pages
 * (`slug > $last order by slug limit $page`); migrates `concurrency` tenants at a time; reports each tenant to
 * `onProgress`; goes on past a failing tenant. Never throws for a tenant's failure: `result.failed` lists
 * them and `result.error` is a `MigrationFleetError` (`throwIfFailed(result)` throws it).
 *
 * @example
 * const result = await migrateTenants(db, {
 *   concurrency: 8,
 *   onProgress: ({ done, total, slug, status }) => console.log(`${done}/${total} ${slug} ${status}`),
 * });
 * if (result.failed.length > 0) process.exitCode = 1;
 */
export async function migrateTenants(db: DriverSource, options: MigrateTenantsOptions = {}): Promise<MigrateTenantsResult> {
  const started = performance.now();
  const outcome: MigrateTenantsResult = { total: 0, pending: 0, tenants: [], failed: [], disagreements: [], durationMs: 0 };
  const done = (): MigrateTenantsResult => {
    outcome.durationMs = performance.now() - started;
    if (!outcome.error && outcome.failed.length > 0) {
      outcome.error = new MigrationFleetError(outcome.failed.map((f) => ({ slug: f.slug, error: f.error! })));
    }
    return outcome;
  };
  let migrations: readonly Migration[];
  let driver: Driver;
  let source: string;
  try {
    migrations = await loadMigrations(options.tenantDir ?? DEFAULT_TENANT_DIR);
    source = tenantSourceSql(options.tenants ?? 'organizations');
    driver = await db.driver();
    await ensureStateTable(driver);
  } catch (error) {
    outcome.error = fleetSetupError(error, options.tenants);
    return done();
  }
  const latest = migrations.length;
  const digest = prefixDigests(migrations)[latest]!;
  const pageSize = Math.max(1, Math.floor(options.pageSize ?? 500));
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));

  // The fast check: one query for the whole fleet.
  try {
    const { rows } = await driver.query({
      text: `with t as (${source})
select count(*)::int as total,
       count(*) filter (where s.schema_name is null or s.version <> $1 or s.checksum_digest <> $2)::int as pending
from t left join public.tenant_migration_state s on s.schema_name = t.schema_name`,
      values: [latest, digest],
    });
    outcome.total = Number(rows[0]?.total ?? 0);
    outcome.pending = Number(rows[0]?.pending ?? 0);
  } catch (error) {
    outcome.error = fleetSetupError(error, options.tenants);
    return done();
  }
  if (!options.verify && outcome.pending === 0) return done();

  const total = options.verify ? outcome.total : outcome.pending;
  // With verify, "pending" is recounted from the schemas themselves as the pages are read.
  if (options.verify) outcome.pending = 0;
  const work = options.verify
    ? verifiedTenants(driver, source, migrations, pageSize, outcome)
    : pendingTenants(driver, source, migrations, pageSize);
  let finished = 0;
  let streamError: CgkError | undefined;
  const next = async (): Promise<FleetTask | undefined> => {
    if (streamError) return undefined;
    try {
      const item = await work.next();
      return item.done ? undefined : item.value;
    } catch (error) {
      streamError = fleetSetupError(error, options.tenants);
      return undefined;
    }
  };
  const worker = async (): Promise<void> => {
    for (let task = await next(); task; task = await next()) {
      const result = await runTenant(driver, migrations, task, options.synchronousCommit !== true);
      outcome.tenants.push(result);
      if (result.status === 'Error') outcome.failed.push(result);
      finished++;
      try {
        options.onProgress?.({ done: finished, total, slug: result.slug, schema: result.schema, status: result.status, applied: result.applied, ...(result.error ? { error: result.error } : {}) });
      } catch {
        // A progress display must not stop a deploy.
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (streamError) outcome.error = streamError;
  if (options.synchronousCommit !== true && outcome.tenants.some((t) => t.results.some((r) => r.status === 'Success'))) {
    // Tenant migrations committed without waiting for the WAL flush (see RunTarget.asyncCommit). One
    // synchronous commit with a transaction id flushes the WAL up to here, so every one of them is durable
    // before this function returns.
    try {
      await driver.query({ text: 'select txid_current()' });
    } catch (error) {
      outcome.error ??= new MigrationError({ schema: 'public' }, `Migrations were applied, but the final WAL flush failed: ${(error as Error).message}`, {
        hint: 'Run the migrations again after the server is back: anything lost in a crash is applied again.',
        cause: error,
      });
    }
  }
  if (options.verify && !streamError) {
    // Summary rows of schemas that no longer exist (dropped tenants) are removed.
    await driver.query({ text: 'delete from public.tenant_migration_state s where not exists (select 1 from pg_namespace n where n.nspname = s.schema_name)' }).catch(() => undefined);
  }
  outcome.tenants.sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0));
  outcome.failed.sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0));
  return done();
}

/** A tenant to look at: `migrate` false means verified up to date (nothing to send). */
interface FleetTask {
  slug: string;
  schema: string;
  migrate: boolean;
  /** The schema is known (from the summary, or read with verify) to hold exactly the first N files: the fast path applies. */
  assumed?: number;
}

/** Which first-N prefix of the files a (version, digest) pair describes, if any. */
function prefixOf(migrations: readonly Migration[], version: unknown, digest: unknown): number | undefined {
  if (version === null || version === undefined) return undefined;
  const n = Number(version);
  if (!Number.isInteger(n) || n < 0 || n > migrations.length) return undefined;
  return prefixDigests(migrations)[n] === digest ? n : undefined;
}

/** One tenant's run. Never throws: an unexpected exception becomes that tenant's 'Error' result. */
async function runTenant(driver: Driver, migrations: readonly Migration[], task: FleetTask, asyncCommit: boolean): Promise<TenantRunResult> {
  try {
    return await runTenantUnguarded(driver, migrations, task, asyncCommit);
  } catch (caught) {
    const { slug, schema } = task;
    const error = caught instanceof CgkError && caught.code !== 'CGK_QUERY' && caught.code !== 'CGK_CONNECTION'
      ? caught
      : new MigrationError({ schema }, `Migrations of schema ${schema} could not run: ${caught instanceof Error ? caught.message : String(caught)}`, { cause: caught });
    return { slug, schema, status: 'Error', applied: [], results: [], error };
  }
}

async function runTenantUnguarded(driver: Driver, migrations: readonly Migration[], task: FleetTask, asyncCommit: boolean): Promise<TenantRunResult> {
  const { slug, schema } = task;
  if (!isValidSlug(slug)) {
    const error = new InvalidSlugError(slug, 'its schema was found, but the slug breaks the slug rules; rename or drop the schema');
    return { slug, schema, status: 'Error', applied: [], results: [], error };
  }
  if (!task.migrate) return { slug, schema, status: 'UpToDate', applied: [], results: [] };
  const target = { schema, tenant: true, migrations, asyncCommit };
  const run = task.assumed === undefined ? await runSchema(driver, target) : await runSchemaAssuming(driver, target, task.assumed);
  const results = run.results.filter((r) => r.status !== 'Skipped');
  const applied = results.filter((r) => r.status === 'Success').map((r) => r.filename);
  if (run.error) return { slug, schema, status: 'Error', applied, results, error: run.error };
  return { slug, schema, status: applied.length > 0 ? 'Success' : 'UpToDate', applied, results };
}

/** Pending tenants (per the summary), page by page. */
async function* pendingTenants(driver: Driver, source: string, migrations: readonly Migration[], pageSize: number): AsyncGenerator<FleetTask> {
  const latest = migrations.length;
  const digest = prefixDigests(migrations)[latest]!;
  let last = '';
  for (;;) {
    const { rows } = await driver.query({
      text: `with t as (${source})
select t.slug, t.schema_name, s.version, s.checksum_digest
from t left join public.tenant_migration_state s on s.schema_name = t.schema_name
where t.slug > $1 and (s.schema_name is null or s.version <> $2 or s.checksum_digest <> $3)
order by t.slug
limit $4`,
      values: [last, latest, digest, pageSize],
    });
    for (const row of rows) {
      const assumed = prefixOf(migrations, row.version, row.checksum_digest);
      yield { slug: String(row.slug), schema: String(row.schema_name), migrate: true, ...(assumed === undefined ? {} : { assumed }) };
    }
    if (rows.length < pageSize) return;
    last = String(rows.at(-1)!.slug);
  }
}

/**
 * Every tenant, page by page, each checked against its own schema_migrations: one query for the page (with
 * the summary rows), one UNION ALL query reading the page's schema_migrations. Disagreements with the summary
 * are recorded (the tenant's run then rewrites its summary row).
 */
async function* verifiedTenants(driver: Driver, source: string, migrations: readonly Migration[], pageSize: number, outcome: MigrateTenantsResult): AsyncGenerator<FleetTask> {
  const digests = prefixDigests(migrations);
  const latest = migrations.length;
  const expected = digests[latest]!;
  let last = '';
  for (;;) {
    const { rows } = await driver.query({
      text: `with t as (${source})
select t.slug, t.schema_name, s.version, s.checksum_digest,
       to_regclass(quote_ident(t.schema_name) || '.schema_migrations') is not null as tracked
from t left join public.tenant_migration_state s on s.schema_name = t.schema_name
where t.slug > $1
order by t.slug
limit $2`,
      values: [last, pageSize],
    });
    const actual = await readHistories(driver, rows.filter((r) => r.tracked === true && isValidSlug(String(r.slug))).map((r) => String(r.schema_name)));
    for (const row of rows) {
      const slug = String(row.slug);
      const schema = String(row.schema_name);
      const truth = actual.get(schema) ?? { version: 0, digest: digests[0]! };
      const summary = row.version === null || row.version === undefined ? null : { version: Number(row.version), digest: String(row.checksum_digest) };
      const agrees = summary === null
        ? truth.version === 0
        : summary.version === truth.version && summary.digest === truth.digest;
      if (!agrees && isValidSlug(slug)) outcome.disagreements.push({ slug, schema, summary, actual: truth });
      const current = truth.version === latest && truth.digest === expected;
      if (!current) outcome.pending++;
      // Only a schema whose schema_migrations was read can be assumed to hold a prefix: one without the table
      // takes the general path (which creates it) rather than a fast path that would fall back.
      const assumed = row.tracked === true ? prefixOf(migrations, truth.version, truth.digest) : undefined;
      yield { slug, schema, migrate: !current || !agrees, ...(assumed === undefined || !agrees ? {} : { assumed }) };
    }
    if (rows.length < pageSize) return;
    last = String(rows.at(-1)!.slug);
  }
}

/**
 * Each schema's highest applied version and digest: UNION ALL queries of 25 schemas each (the planner's cost
 * grows faster than linearly with the branches: 25 measured ~2.4x faster per schema than 200), sent together
 * so a pooled driver runs them on several connections.
 */
async function readHistories(driver: Driver, schemas: string[]): Promise<Map<string, { version: number; digest: string }>> {
  const histories = new Map<string, { version: number; digest: string }>();
  const batch = 25;
  const queries: Array<Promise<void>> = [];
  for (let i = 0; i < schemas.length; i += batch) {
    const part = schemas.slice(i, i + batch);
    const text = part
      .map((schema, j) => `select $${j + 1}::text as schema_name, coalesce(max(version), 0) as version, ${HISTORY_SQL} as history from ${quoteIdentifier(schema)}.schema_migrations`)
      .join('\nunion all\n');
    queries.push(driver.query({ text, values: part }).then(({ rows }) => {
      for (const row of rows) {
        histories.set(String(row.schema_name), { version: Number(row.version), digest: historyDigest(String(row.history)) });
      }
    }));
  }
  await Promise.all(queries);
  return histories;
}

/** The SQL listing tenants as (slug, schema_name), for a tenant source; only tenants whose schema exists. */
function tenantSourceSql(source: TenantSource): string {
  if (source === 'schemas') {
    return `select substr(n.nspname, ${TENANT_SCHEMA_PREFIX.length + 1})::text as slug, n.nspname::text as schema_name from pg_namespace n where n.nspname like 'tenant\\_%'`;
  }
  const table = source === 'organizations' ? quoteIdentifier('public') + '.' + quoteIdentifier('organizations') : `${quoteIdentifier(source.schema ?? 'public')}.${quoteIdentifier(source.table)}`;
  const column = quoteIdentifier(source === 'organizations' ? 'slug' : source.slugColumn ?? 'slug');
  return `select r.${column}::text as slug, n.nspname::text as schema_name from ${table} r join pg_namespace n on n.nspname = '${TENANT_SCHEMA_PREFIX}' || r.${column}`;
}

function fleetSetupError(error: unknown, source: TenantSource | undefined): CgkError {
  if (error instanceof CgkError && error.code !== 'CGK_QUERY' && error.code !== 'CGK_CONNECTION') return error;
  const registry = source === undefined || source === 'organizations';
  const missingTable = error instanceof QueryError && error.sqlState === '42P01';
  return new MigrationError({ schema: 'public' }, `Cannot list the tenants to migrate: ${error instanceof Error ? error.message : String(error)}`, {
    hint: missingTable && registry
      ? 'public.organizations (the tenant registry) does not exist yet: run the public migrations first (setup:database), or pass tenants: "schemas".'
      : error instanceof CgkError ? error.hint : undefined,
    cause: error,
  });
}

// --- status ----------------------------------------------------------------------------------------------

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
 * console.log(`public: ${status.public.pending.length} pending; tenants: ${status.tenants.pending}/${status.tenants.total} pending`);
 */
export async function migrationStatus(db: DriverSource, options: MigrationStatusOptions = {}): Promise<MigrationStatusReport> {
  const [publicFiles, tenantFiles] = await Promise.all([
    loadMigrations(options.publicDir ?? DEFAULT_PUBLIC_DIR),
    loadMigrations(options.tenantDir ?? DEFAULT_TENANT_DIR),
  ]);
  const driver = await db.driver();
  const source = options.tenants ?? 'organizations';
  const registryName = source === 'schemas' ? null : tenantSourceRegistryName(source);
  const { rows: [exists] } = await driver.query({
    text: `select to_regclass('public.schema_migrations') is not null as public_tracked,
                  to_regclass('public.tenant_migration_state') is not null as state,
                  ($1::text is null or to_regclass($1::text) is not null) as registry`,
    values: [registryName],
  });
  const report: MigrationStatusReport = {
    public: await schemaStatus(driver, 'public', publicFiles, exists?.public_tracked === true),
    tenants: { registry: exists?.registry === true, latest: tenantFiles.length, total: 0, upToDate: 0, pending: 0, ahead: 0, changed: 0, tenants: [] },
  };
  if (report.tenants.registry) report.tenants = await fleetStatus(driver, tenantSourceSql(source), tenantFiles, exists?.state === true);
  if (options.slug !== undefined) {
    const schema = schemaNameFor(options.slug);
    const { rows: [t] } = await driver.query({ text: "select to_regclass(quote_ident($1) || '.schema_migrations') is not null as tracked", values: [schema] });
    report.tenant = await schemaStatus(driver, schema, tenantFiles, t?.tracked === true);
  }
  return report;
}

function tenantSourceRegistryName(source: Exclude<TenantSource, 'schemas'>): string {
  if (source === 'organizations') return 'public.organizations';
  return `${quoteIdentifier(source.schema ?? 'public')}.${quoteIdentifier(source.table)}`;
}

async function schemaStatus(driver: Driver, schema: string, files: readonly Migration[], tracked: boolean): Promise<SchemaMigrationStatus> {
  const rows = tracked
    ? (await driver.query({ text: `select version, name, checksum, applied_at, duration_ms from ${quoteIdentifier(schema)}.schema_migrations order by version` })).rows
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
  const pending = files.filter((f) => !done.has(f.version)).map((f) => ({ version: f.version, name: f.name, filename: f.filename }));
  return { schema, initialized: tracked, applied, pending, upToDate: pending.length === 0 && applied.every((a) => !a.changed && !a.missingFile) };
}

async function fleetStatus(driver: Driver, source: string, files: readonly Migration[], stateTable: boolean): Promise<FleetMigrationStatus> {
  const latest = files.length;
  const digests = prefixDigests(files);
  const digest = digests[latest]!;
  const state = stateTable
    ? 'public.tenant_migration_state'
    : '(select null::text as schema_name, null::int as version, null::text as checksum_digest where false)';
  const joined = `with t as (${source}) select t.slug, t.schema_name, s.version, s.checksum_digest from t left join ${state} s on s.schema_name = t.schema_name`;
  const pendingWhere = 's.schema_name is null or s.version <> $1 or s.checksum_digest <> $2';
  const { rows: [counts] } = await driver.query({
    text: `with t as (${source}) select count(*)::int as total, count(*) filter (where ${pendingWhere})::int as pending from t left join ${state} s on s.schema_name = t.schema_name`,
    values: [latest, digest],
  });
  const total = Number(counts?.total ?? 0);
  const pendingCount = Number(counts?.pending ?? 0);
  const tenants: TenantPendingStatus[] = [];
  let last = '';
  while (tenants.length < pendingCount) {
    const page: Statement = { text: `${joined} where t.slug > $3 and (${pendingWhere}) order by t.slug limit 1000`, values: [latest, digest, last] };
    const { rows } = await driver.query(page);
    for (const row of rows) {
      const version = row.version === null || row.version === undefined ? null : Number(row.version);
      const reason = version === null ? 'new' : version > latest ? 'ahead' : row.checksum_digest !== digests[version] ? 'changed' : 'behind';
      tenants.push({
        slug: String(row.slug),
        schema: String(row.schema_name),
        version,
        pending: files.slice(version ?? 0).map((f) => f.filename),
        reason,
      });
    }
    if (rows.length < 1000) break;
    last = String(rows.at(-1)!.slug);
  }
  const count = (reason: TenantPendingStatus['reason']) => tenants.filter((t) => t.reason === reason).length;
  const ahead = count('ahead');
  const changed = count('changed');
  return { registry: true, latest, total, upToDate: total - pendingCount, pending: pendingCount - ahead - changed, ahead, changed, tenants };
}
