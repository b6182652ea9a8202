import type { CgkError } from '../errors/index.js';
import { schemaNameFor } from '../sql/identifier.js';
import { asMigrationError } from './failure.js';
import type { Migration } from './files.js';
import { runSchema } from './run-schema.js';
import { loadSets, type LoadedSet } from './sets.js';
import { ensureStateTable, PLATFORM_SET } from './tracking.js';
import {
  DEFAULT_PUBLIC_DIR,
  DEFAULT_TENANT_DIR,
  type DriverSource,
  type MigrateOptions,
  type MigrationResult,
  type MigrationResultSet,
} from './types.js';

/**
 * The migration runner for one schema at a time: `migratePublic`, `migrateTenant`, and (inside a
 * tenant-creation transaction) `migrateTenantInTransaction`. One module per job:
 *   - plan.ts: what to run (pure: applied rows against the files) and the record of a run;
 *   - run-schema.ts: the general path's loop, a locked transaction per step;
 *   - apply-transaction.ts: a file in its own transaction (pipelined with its bookkeeping and COMMIT);
 *   - apply-session.ts: a no-transaction file, statement by statement in a session;
 *   - apply-script.ts: the fleet's fast path, one script per file;
 *   - apply-caller.ts: every file inside the caller's transaction;
 *   - failure.ts and locate.ts: typed errors, and the line a failure came from;
 *   - tracking.ts: the runner's tables and locks; files.ts: the files; fleet.ts and status.ts: every tenant.
 * Inside, failures are thrown as typed errors; they become a `MigrationResultSet` once, here and in
 * `settleRun`.
 */

export { DEFAULT_PUBLIC_DIR, DEFAULT_TENANT_DIR };
export type { DriverSource, MigrateOptions, MigrationResult, MigrationResultSet, MigrationResultStatus } from './types.js';
export { applyTenantMigrations, migrateTenantInTransaction } from './apply-caller.js';

/**
 * Applies the pending public migrations (platform tables in `public`), each in its own transaction with its
 * row in `public.schema_migrations`. Never throws for a migration problem: the result lists every file with
 * its status and holds the first error (use `throwIfFailed` to turn it into an exception).
 *
 * @example
 * const db = new Database({ url: process.env.DATABASE_URL });
 * const { error, results } = await migratePublic(db);
 * for (const r of results) console.log(r.status, r.filename);
 * if (error) throw error;
 */
export async function migratePublic(db: DriverSource, options: MigrateOptions = {}): Promise<MigrationResultSet> {
  return runGuarded('public', async () => {
    const sets = await loadSets('public', options);
    const driver = await db.driver();
    await ensureStateTable(driver);
    return runSets(sets, (set) =>
      runSchema(driver, { schema: 'public', set: set.name, tenant: false, migrations: set.migrations }),
    );
  });
}

/**
 * Applies the pending tenant migrations to one tenant's schema (`tenant_{slug}`), each in its own transaction
 * with its row in that schema's `schema_migrations` and the tenant's row in `public.tenant_migration_state`.
 * A bad slug throws `InvalidSlugError` before any SQL; a missing schema is reported as `TenantNotFoundError`.
 *
 * @example
 * const result = await migrateTenant(db, 'acme');
 * throwIfFailed(result);
 */
export async function migrateTenant(db: DriverSource, slug: string, options: MigrateOptions = {}): Promise<MigrationResultSet> {
  const schema = schemaNameFor(slug);
  return runGuarded(schema, async () => {
    const sets = await loadSets('tenant', options);
    const driver = await db.driver();
    await ensureStateTable(driver);
    return runSets(sets, (set) => runSchema(driver, { schema, set: set.name, tenant: true, migrations: set.migrations }));
  });
}

/**
 * Throws the run's error, if any: a `MigrationResultSet`'s first error, or a fleet run's `MigrationFleetError`.
 * Returns the result otherwise, so it chains.
 *
 * @example
 * throwIfFailed(await migratePublic(db));
 */
export function throwIfFailed<R extends { error?: CgkError }>(result: R): R {
  if (result.error) throw result.error;
  return result;
}

/**
 * Runs each set in order (the platform's first) and joins their results; a set that fails stops the run, the
 * later sets' files are NotExecuted.
 */
export async function runSets(
  sets: readonly LoadedSet[],
  run: (set: LoadedSet) => Promise<MigrationResultSet>,
): Promise<MigrationResultSet> {
  const results: MigrationResult[] = [];
  let schema = '';
  for (const [i, set] of sets.entries()) {
    const outcome = await run(set);
    schema = outcome.schema;
    results.push(...outcome.results);
    if (outcome.error) {
      for (const later of sets.slice(i + 1)) for (const m of later.migrations) results.push(notExecuted(schema, later.name, m));
      return { schema, results, error: outcome.error, failed: true };
    }
  }
  return { schema, results, failed: false };
}

function notExecuted(schema: string, set: string, m: Migration): MigrationResult {
  const label = set === PLATFORM_SET ? {} : { set };
  return { schema, version: m.version, name: m.name, filename: m.filename, status: 'NotExecuted', ...label };
}

/** A failure before the run could list its files (unreadable directory, no connection): an empty result set. */
function runGuarded(schema: string, run: () => Promise<MigrationResultSet>): Promise<MigrationResultSet> {
  return run().catch((error: unknown) => ({ schema, results: [], error: asMigrationError(error, schema), failed: true }));
}
