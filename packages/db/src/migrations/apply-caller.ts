import type { Transaction } from '../drivers/types.js';
import { MigrationError, QueryError, TenantNotFoundError } from '../errors/index.js';
import { assertValidSlug, schemaNameFor, TENANT_SCHEMA_PREFIX } from '../sql/identifier.js';
import { asMigrationError, unwrap, type Location } from './failure.js';
import { prefixDigests, withoutConcurrently, type Migration } from './files.js';
import { APPLY_SAVEPOINT, locateInTransaction, locationOf } from './locate.js';
import { appliedRowsOf, planRun } from './plan.js';
import { pipeline, type Step } from './steps.js';
import { loadSets, type LoadedSet } from './sets.js';
import {
  CREATE_STATE_TABLE_SQL,
  createTrackingTableSql,
  insertAppliedStatement,
  lockName,
  lockStatement,
  migrationPath,
  selectAppliedStatement,
  START_CLOCK,
  upsertStateStatement,
} from './tracking.js';
import { TRACKING_UPGRADE_SQL } from './tracking-upgrade.js';
import type { MigrateOptions } from './types.js';

/**
 * Inside the caller's transaction: every pending tenant migration of a new tenant, sent in one batch with
 * their tracking rows and the summary row, so that they commit or roll back with whatever else the caller
 * does (tenant creation).
 */

/**
 * Applies every pending tenant migration to the schema of tenant `slug` inside the caller's transaction
 * `tx`, for tenant creation: the schema, its tables, its `schema_migrations` rows and its summary row commit
 * or roll back together with whatever else the caller does. Two round trips on the pg driver whatever the
 * number of files (the files, their tracking rows and the summary are pipelined). No-transaction files run
 * inside the transaction with CONCURRENTLY blanked out (the new schema's tables are empty, so a plain index
 * build is equivalent). Takes the schema's migration lock until the caller's transaction ends. Leaves
 * `search_path` as it found it. Resolves to the number of migrations applied. A bad slug throws
 * `InvalidSlugError` before any SQL; throws `MigrationError` (naming the file and line),
 * `MigrationChecksumError` or `TenantNotFoundError` on failure; the caller must then roll back.
 *
 * @example
 * const { tx } = await driver.begin([]);
 * try {
 *   await tx.exec('create schema tenant_acme');
 *   await migrateTenantInTransaction(tx, 'acme');
 *   await tx.commit();
 * } catch (error) {
 *   await tx.rollback();
 *   throw error;
 * }
 */
export async function migrateTenantInTransaction(
  tx: Transaction,
  slug: string,
  options: Pick<MigrateOptions, 'tenantDir' | 'sets'> = {},
): Promise<number> {
  const schema = schemaNameFor(slug);
  const sets = await loadSets('tenant', options);
  const { previous, applied } = await prepare(tx, slug, schema, sets);
  const work = sets.map((set, i) => {
    const plan = planRun(schema, set.migrations, applied[i]!);
    if (plan.error) throw plan.error;
    return { set, pending: plan.pending };
  });
  const batch = batchFor(schema, work, previous);
  const settled = await pipeline(tx, batch.steps);
  const failedAt = settled.findIndex((s) => !s.ok);
  if (failedAt === -1) return batch.order.length;
  const failure = settled[failedAt] as { error: Error };
  const migration = batch.files.get(failedAt);
  const located = migration ? await locate(tx, schema, migration, batch.order, failure.error) : undefined;
  throw asMigrationError(failure.error, schema, migration ?? batch.inserts.get(failedAt), located);
}

/**
 * `migrateTenantInTransaction` for a tenant given by its schema (`tenant_{slug}`) rather than its slug.
 *
 * @deprecated Use `migrateTenantInTransaction(tx, slug)`, which takes a slug as `migrateTenant` does.
 */
export async function applyTenantMigrations(
  tx: Transaction,
  schema: string,
  options: Pick<MigrateOptions, 'tenantDir' | 'sets'> = {},
): Promise<number> {
  if (!schema.startsWith(TENANT_SCHEMA_PREFIX)) {
    throw new MigrationError({ schema }, `applyTenantMigrations() expects a tenant schema (tenant_{slug}), not "${schema}"`);
  }
  return migrateTenantInTransaction(tx, assertValidSlug(schema.slice(TENANT_SCHEMA_PREFIX.length)), options);
}

/** Checks the schema exists, takes its sets' locks, creates its tracking table (and the summary table), reads it. */
async function prepare(tx: Transaction, slug: string, schema: string, sets: readonly LoadedSet[]) {
  const [info, ...rest] = await pipeline(tx, [
    {
      text: `select current_setting('search_path') as previous,
  exists (select 1 from pg_attribute where attrelid = to_regclass('public.tenant_migration_state')
          and attname = 'migration_set' and not attisdropped) as has_state,
  exists (select 1 from pg_namespace where nspname = $1) as found`,
      values: [schema],
    },
    ...sets.map((set) => lockStatement(lockName(schema, set.name))),
    { exec: createTrackingTableSql(schema) },
    ...sets.map((set) => selectAppliedStatement(schema, set.name)),
  ]);
  try {
    const infoRow = unwrap(info).rows[0];
    if (infoRow?.found !== true) throw new TenantNotFoundError(slug);
    const rows = rest.map((step) => unwrap(step).rows).slice(sets.length + 1);
    if (infoRow.has_state !== true) {
      await tx.query(lockStatement('public'));
      await tx.exec(`${CREATE_STATE_TABLE_SQL};\n${TRACKING_UPGRADE_SQL}`);
    }
    return { previous: String(infoRow.previous ?? ''), applied: rows.map((r) => appliedRowsOf(r)) };
  } catch (error) {
    throw asMigrationError(error, schema);
  }
}

/**
 * The batch: a savepoint, the path, then per file (sets in order) its clock, its text and its tracking row;
 * each set's summary row.
 */
function batchFor(schema: string, work: ReadonlyArray<{ set: LoadedSet; pending: readonly Migration[] }>, previous: string) {
  const steps: Step[] = [
    { text: `savepoint ${APPLY_SAVEPOINT}` },
    { text: "select set_config('search_path', $1, true)", values: [migrationPath(schema)] },
  ];
  const files = new Map<number, Migration>();
  const inserts = new Map<number, Migration>();
  const order: Migration[] = [];
  for (const { set, pending } of work) {
    for (const migration of pending) {
      steps.push(START_CLOCK);
      files.set(steps.length, migration);
      order.push(migration);
      steps.push({ exec: migration.noTransaction ? withoutConcurrently(migration.sql) : migration.sql });
      inserts.set(steps.length, migration);
      steps.push(insertAppliedStatement(schema, set.name, migration));
    }
    const latest = set.migrations.length;
    steps.push(upsertStateStatement(schema, set.name, latest, prefixDigests(set.migrations)[latest]!));
  }
  steps.push({ text: `release savepoint ${APPLY_SAVEPOINT}` });
  steps.push({ text: "select set_config('search_path', $1, true)", values: [previous] });
  return { steps, files, inserts, order };
}

/** The failing file's line: PostgreSQL's position, else found by replaying the batch up to it. */
async function locate(
  tx: Transaction,
  schema: string,
  migration: Migration,
  pending: readonly Migration[],
  error: Error,
): Promise<Location | undefined> {
  const located = locationOf(migration, error);
  if (located || !(error instanceof QueryError)) return located;
  // Back to the savepoint, replay the files before it, then it statement by statement.
  return locateInTransaction(tx, schema, migration, pending.slice(0, pending.indexOf(migration)), error);
}
