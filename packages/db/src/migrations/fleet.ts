import type { Driver } from '../drivers/types.js';
import {
  CgkError,
  InvalidSlugError,
  MigrationError,
  MigrationFleetError,
  QueryError,
  TenantNotFoundError,
} from '../errors/index.js';
import { assertValidSlug, isValidSlug } from '../sql/identifier.js';
import { countFleet, tenantSourceSql, type TenantSource } from './fleet-source.js';
import { pendingTenants, setTargets, verifiedTenants, type FleetTask, type SummaryDisagreement } from './fleet-tasks.js';
import { Waves, type FleetStop } from './fleet-waves.js';
import { asMigrationError, passesThrough } from './failure.js';
import { runSchemaAssuming } from './apply-script.js';
import { runSchema } from './run-schema.js';
import { fileLabel, loadSets, type LoadedSet } from './sets.js';
import { ensureStateTable } from './tracking.js';
import type { DriverSource, MigrateOptions, MigrationResult, RunTarget } from './types.js';

/**
 * Fleet work: every tenant, in one query when nothing is pending (docs/ARCHITECTURE.md, the fleet rules).
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

export type { TenantSource } from './fleet-source.js';
export type { SummaryDisagreement } from './fleet-tasks.js';
export type { FleetStop } from './fleet-waves.js';

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
  /**
   * The migrations that ran, failed or were not executed (already applied ones, status Skipped, are left out to
   * keep fleet results small).
   */
  results: MigrationResult[];
  error?: CgkError;
}

export interface MigrateTenantsOptions extends Pick<MigrateOptions, 'tenantDir' | 'sets'> {
  /**
   * How many tenants are migrated at once; default 4, at most the pool's size (`pool_max`). Each uses one
   * connection at a time (for a no-transaction file: the locked transaction's, ended before the file's own
   * session is opened).
   */
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
  /** Only these tenants (slugs); one that does not exist is a `TenantNotFoundError` before any work. */
  slugs?: readonly string[];
  /** Migrate this many tenants first; when any of them fails, start no other (they stay untouched). */
  canary?: number;
  /** Start no tenant after this many have failed. */
  maxFailures?: number;
  /**
   * Bound, in milliseconds, on a migration's wait for a table lock held by traffic (`lock_timeout`): that
   * tenant fails fast (SQLSTATE 55P03, reported) instead of stalling its worker. Unset: the server's setting.
   */
  lockTimeout?: number;
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
  /** Tenants migrated at once: `options.concurrency`, bounded by the driver's connections (`pool_max`). */
  concurrency?: number;
  /** Set when the waves stopped the run early (`canary` failed, or `maxFailures` reached). */
  stopped?: FleetStop;
  /** Pending tenants never started because the run stopped early: untouched. */
  notStarted: number;
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
  const outcome: MigrateTenantsResult = {
    total: 0,
    pending: 0,
    tenants: [],
    failed: [],
    disagreements: [],
    notStarted: 0,
    durationMs: 0,
  };
  try {
    const fleet = await openFleet(db, options, outcome);
    if (options.verify || outcome.pending > 0) await runFleet(fleet, options, outcome);
  } catch (error) {
    outcome.error = fleetSetupError(error, options.tenants);
  }
  outcome.durationMs = performance.now() - started;
  if (!outcome.error && outcome.failed.length > 0) {
    outcome.error = new MigrationFleetError(outcome.failed.map((f) => ({ slug: f.slug, error: f.error! })));
  }
  return outcome;
}

/** What a fleet run works with. */
interface Fleet {
  driver: Driver;
  sets: readonly LoadedSet[];
  /** The tenant listing, as SQL (see `TenantSource`). */
  source: string;
  slugs?: readonly string[];
}

/** Loads the files, makes sure the summary table exists and counts the fleet (the one-query fast check). */
async function openFleet(db: DriverSource, options: MigrateTenantsOptions, outcome: MigrateTenantsResult): Promise<Fleet> {
  const slugs = options.slugs === undefined ? undefined : [...new Set(options.slugs.map((slug) => assertValidSlug(slug)))];
  const sets = await loadSets('tenant', options);
  const source = tenantSourceSql(options.tenants ?? 'organizations');
  const driver = await db.driver();
  await ensureStateTable(driver);
  const counted = await countFleet(driver, source, setTargets(sets), slugs);
  if (slugs && counted.total < slugs.length) await refuseMissing(driver, source, slugs);
  outcome.total = counted.total;
  outcome.pending = counted.pending;
  return { driver, sets, source, ...(slugs ? { slugs } : {}) };
}

/** Throws `TenantNotFoundError` for the first selected slug that is not a tenant (listed, with a schema). */
async function refuseMissing(driver: Driver, source: string, slugs: readonly string[]): Promise<never> {
  const { rows } = await driver.query({
    text: `select s.slug from unnest($1::text[]) as s(slug) where not exists (select 1 from (${source}) t where t.slug = s.slug)
order by s.slug limit 1`,
    values: [slugs],
  });
  throw new TenantNotFoundError(String(rows[0]?.slug ?? slugs[0]));
}

/**
 * Migrates the tenants the pages list, `concurrency` at a time, then makes the run durable. A page that
 * cannot be read stops the run (what was done stays done) and is its error.
 */
async function runFleet(fleet: Fleet, options: MigrateTenantsOptions, outcome: MigrateTenantsResult): Promise<void> {
  const { driver, sets, source, slugs } = fleet;
  const pageSize = Math.max(1, Math.floor(options.pageSize ?? 500));
  const total = options.verify ? outcome.total : outcome.pending;
  // With verify, "pending" is recounted from the schemas themselves as the pages are read.
  if (options.verify) outcome.pending = 0;
  const waves = new Waves(options);
  const tasks = waves.gate(
    options.verify
      ? verifiedTenants(driver, source, sets, pageSize, outcome, slugs)
      : pendingTenants(driver, source, sets, pageSize, slugs),
  );
  const run: TenantRun = { driver, sets, asyncCommit: options.synchronousCommit !== true, lockTimeoutMs: options.lockTimeout };
  const asyncCommit = run.asyncCommit;
  let done = 0;
  // Each tenant's run holds one connection at a time: more workers than connections would only queue for
  // one, and fail with the pool's timeout when a migration is slow.
  const concurrency = Math.max(
    1,
    Math.min(Math.floor(options.concurrency ?? 4), driver.maxConnections ?? Number.POSITIVE_INFINITY),
  );
  outcome.concurrency = concurrency;
  const streamError = await eachConcurrently(tasks, concurrency, async (task) => {
    const result = await runTenant(run, task);
    outcome.tenants.push(result);
    if (result.status === 'Error') outcome.failed.push(result);
    waves.finished(result);
    report(options, {
      done: ++done,
      total,
      slug: result.slug,
      schema: result.schema,
      status: result.status,
      applied: result.applied,
      ...(result.error ? { error: result.error } : {}),
    });
  });
  if (streamError) outcome.error = fleetSetupError(streamError, options.tenants);
  if (waves.stopped) {
    outcome.stopped = waves.stopped;
    outcome.notStarted = Math.max(0, total - outcome.tenants.length);
  }
  if (asyncCommit && outcome.tenants.some((t) => t.results.some((r) => r.status === 'Success'))) await flushWal(driver, outcome);
  if (options.verify && !streamError) {
    // Summary rows of schemas that no longer exist (dropped tenants) are removed.
    await driver
      .query({
        text: `delete from public.tenant_migration_state s
where not exists (select 1 from pg_namespace n where n.nspname = s.schema_name)`,
      })
      .catch(() => undefined);
  }
  outcome.tenants.sort(bySlug);
  outcome.failed.sort(bySlug);
}

/** Runs `each` over the tasks, `concurrency` at a time. Resolves to the error that stopped the stream, if any. */
async function eachConcurrently<T>(
  tasks: AsyncGenerator<T>,
  concurrency: number,
  each: (task: T) => Promise<void>,
): Promise<unknown> {
  let failure: { error: unknown } | undefined;
  const next = async (): Promise<T | undefined> => {
    if (failure) return undefined;
    try {
      const item = await tasks.next();
      return item.done ? undefined : item.value;
    } catch (error) {
      failure = { error };
      return undefined;
    }
  };
  const worker = async (): Promise<void> => {
    for (let task = await next(); task !== undefined; task = await next()) await each(task);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return failure?.error;
}

function report(options: MigrateTenantsOptions, progress: TenantProgress): void {
  try {
    options.onProgress?.(progress);
  } catch {
    // A progress display must not stop a deploy.
  }
}

/**
 * Tenant migrations committed without waiting for the WAL flush (see RunTarget.asyncCommit). One synchronous
 * commit with a transaction id flushes the WAL up to here, so every one of them is durable before the run
 * returns.
 */
async function flushWal(driver: Driver, outcome: MigrateTenantsResult): Promise<void> {
  try {
    await driver.query({ text: 'select txid_current()' });
  } catch (error) {
    outcome.error ??= new MigrationError(
      { schema: 'public' },
      `Migrations were applied, but the final WAL flush failed: ${(error as Error).message}`,
      {
        hint: 'Run the migrations again after the server is back: anything lost in a crash is applied again.',
        cause: error,
      },
    );
  }
}

function bySlug(a: TenantRunResult, b: TenantRunResult): number {
  return a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0;
}

/** What every tenant's run shares. */
interface TenantRun {
  driver: Driver;
  sets: readonly LoadedSet[];
  asyncCommit: boolean;
  lockTimeoutMs: number | undefined;
}

/** One tenant's run, set after set. Never throws: an unexpected exception becomes that tenant's 'Error' result. */
async function runTenant(run: TenantRun, task: FleetTask): Promise<TenantRunResult> {
  const { slug, schema } = task;
  const results: MigrationResult[] = [];
  const applied: string[] = [];
  try {
    if (!isValidSlug(slug)) {
      const error = new InvalidSlugError(
        slug,
        'its schema was found, but the slug breaks the slug rules; rename or drop the schema',
      );
      return { slug, schema, status: 'Error', applied: [], results: [], error };
    }
    if (!task.migrate) return { slug, schema, status: 'UpToDate', applied: [], results: [] };
    for (const [i, set] of run.sets.entries()) {
      const setTask = task.sets[i];
      if (!setTask?.migrate) continue;
      const target: RunTarget = { schema, set: set.name, tenant: true, migrations: set.migrations, asyncCommit: run.asyncCommit };
      if (run.lockTimeoutMs !== undefined) target.lockTimeoutMs = run.lockTimeoutMs;
      const outcome =
        setTask.assumed === undefined
          ? await runSchema(run.driver, target)
          : await runSchemaAssuming(run.driver, target, setTask.assumed);
      const ran = outcome.results.filter((r) => r.status !== 'Skipped');
      results.push(...ran);
      applied.push(...ran.filter((r) => r.status === 'Success').map((r) => fileLabel(set.name, r.filename)));
      if (outcome.error) return { slug, schema, status: 'Error', applied, results, error: outcome.error };
    }
    return { slug, schema, status: applied.length > 0 ? 'Success' : 'UpToDate', applied, results };
  } catch (caught) {
    return { slug, schema, status: 'Error', applied, results, error: asMigrationError(caught, schema) };
  }
}

function fleetSetupError(error: unknown, source: TenantSource | undefined): CgkError {
  if (passesThrough(error)) return error;
  const registry = source === undefined || source === 'organizations';
  const missingTable = error instanceof QueryError && error.sqlState === '42P01';
  return new MigrationError(
    { schema: 'public' },
    `Cannot list the tenants to migrate: ${error instanceof Error ? error.message : String(error)}`,
    {
      hint:
        missingTable && registry
          ? 'public.organizations (the tenant registry) does not exist yet: run the public migrations first (setup:database), ' +
            'or pass tenants: "schemas".'
          : error instanceof CgkError
            ? error.hint
            : undefined,
      cause: error,
    },
  );
}
