import type { Database } from '../client.js';
import { DEFAULT_PUBLIC_DIR, DEFAULT_TENANT_DIR } from './builtin.js';
import type { Driver, Settled, Statement, Transaction } from '../drivers/types.js';
import {
  CgkError,
  MigrationChecksumError,
  MigrationError,
  MigrationFilesError,
  QueryError,
  TenantNotFoundError,
} from '../errors.js';
import { assertValidSlug, quoteIdentifier, schemaNameFor, TENANT_SCHEMA_PREFIX } from '../identifier.js';
import {
  charLength,
  historyText,
  HISTORY_SQL,
  lineAt,
  loadMigrations,
  migrationsDigest,
  prefixDigests,
  splitStatements,
  withoutConcurrently,
  type Migration,
  type ScriptStatement,
} from './files.js';
import {
  beginLocked,
  CREATE_STATE_TABLE_SQL,
  createTrackingTableSql,
  lockSession,
  unlockSession,
  ensureStateTable,
  GUARD_FAILED,
  insertAppliedStatement,
  isLockBusy,
  isSentinel,
  LOCK_PREFIX,
  lockStatement,
  tryLockSql,
  searchPathStatement,
  selectAppliedStatement,
  selectStateStatement,
  START_CLOCK,
  START_CLOCK_ASYNC_COMMIT,
  upsertStateStatement,
} from './tracking.js';

/**
 * The migration runner for one schema at a time: `migratePublic`, `migrateTenant`, and
 * `applyTenantMigrations` (inside a tenant-creation transaction). The fleet (`migrateTenants`,
 * `migrationStatus`) is in fleet.ts, the files in files.ts, the runner's tables and locks in tracking.ts.
 *
 * The general path (`runSchema`): each migration runs in its own transaction, in two round trips on the pg
 * driver:
 *   1. BEGIN + the schema's transaction-level advisory lock (tried, see tracking.ts) + search_path (set
 *      transaction-locally) + create schema_migrations if missing + read what is applied (+ the tenant's
 *      summary row), pipelined;
 *   2. the file, its tracking row, the tenant's summary row and COMMIT, pipelined.
 * What is applied is read again after every lock, so concurrent runners apply each file exactly once.
 * The fleet's fast path (`runSchemaAssuming`) sends a file and its bookkeeping as one script instead.
 */

/** What happened to one migration in one schema (kysely's MigrationResult, plus Skipped). */
export type MigrationResultStatus = 'Success' | 'Error' | 'NotExecuted' | 'Skipped';

export interface MigrationResult {
  schema: string;
  version: number;
  name: string;
  filename: string;
  /** Success: applied now. Skipped: was applied before. Error: failed (rolled back), or refused (changed checksum). NotExecuted: pending, not run because of an error. */
  status: MigrationResultStatus;
  /**
   * Time the file took, in milliseconds, for Success on the general path: measured in the server for a file
   * run in a transaction, in the client for a no-transaction file. Not set by the fleet's fast path (its
   * duration is only recorded in schema_migrations.duration_ms), nor for other statuses.
   */
  durationMs?: number;
  error?: CgkError;
}

/** The outcome of a run over one schema: one entry per migration file, and the first error (if any). */
export interface MigrationResultSet {
  schema: string;
  results: MigrationResult[];
  /** The error that stopped the run; undefined when everything pending was applied. */
  error?: CgkError;
  /** True when `error` is set. */
  failed: boolean;
}

/** Where the migration files are; the defaults are the directories next to this module. */
export interface MigrateOptions {
  /** Directory of the public migrations; default `src/migrations/public`. */
  publicDir?: string | URL;
  /** Directory of the tenant migrations; default `src/migrations/tenant`. */
  tenantDir?: string | URL;
}

/** Anything that hands out a driver: a `Database`, or a test's wrapper. */
export type DriverSource = Pick<Database, 'driver'>;

export { DEFAULT_PUBLIC_DIR, DEFAULT_TENANT_DIR };

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
    const migrations = await loadMigrations(options.publicDir ?? DEFAULT_PUBLIC_DIR);
    return runSchema(await db.driver(), { schema: 'public', tenant: false, migrations });
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
    const migrations = await loadMigrations(options.tenantDir ?? DEFAULT_TENANT_DIR);
    const driver = await db.driver();
    await ensureStateTable(driver);
    return runSchema(driver, { schema, tenant: true, migrations });
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
 * Applies every pending tenant migration to `schema` inside the caller's transaction `tx`, for tenant
 * creation: the schema, its tables, its `schema_migrations` rows and its summary row commit or roll back
 * together with whatever else the caller does. Two round trips on the pg driver whatever the number of files
 * (the files, their tracking rows and the summary are pipelined). No-transaction files run inside the
 * transaction with CONCURRENTLY blanked out (the new schema's tables are empty, so a plain index build is
 * equivalent). Takes the schema's migration lock until the caller's transaction ends. Leaves `search_path`
 * as it found it. Resolves to the number of migrations applied. Throws `MigrationError` (naming the file
 * and line), `MigrationChecksumError` or `TenantNotFoundError` on failure; the caller must then roll back.
 *
 * @example
 * const { tx } = await driver.begin([]);
 * try {
 *   await tx.exec('create schema tenant_acme');
 *   await applyTenantMigrations(tx, 'tenant_acme');
 *   await tx.commit();
 * } catch (error) {
 *   await tx.rollback();
 *   throw error;
 * }
 */
export async function applyTenantMigrations(tx: Transaction, schema: string, options: Pick<MigrateOptions, 'tenantDir'> = {}): Promise<number> {
  if (!schema.startsWith(TENANT_SCHEMA_PREFIX)) throw new MigrationError({ schema }, `applyTenantMigrations() expects a tenant schema (tenant_{slug}), not "${schema}"`);
  const slug = assertValidSlug(schema.slice(TENANT_SCHEMA_PREFIX.length));
  const migrations = await loadMigrations(options.tenantDir ?? DEFAULT_TENANT_DIR);
  const [info, lock, create, applied] = await pipeline(tx, [
    {
      text: "select current_setting('search_path') as previous, to_regclass('public.tenant_migration_state') is not null as has_state, exists (select 1 from pg_namespace where nspname = $1) as found",
      values: [schema],
    },
    lockStatement(schema),
    { exec: createTrackingTableSql(schema) },
    selectAppliedStatement(schema),
  ]);
  const infoRow = info?.ok ? info.result.rows[0] : undefined;
  if (!infoRow) throw asMigrationError(settledError(info), schema);
  if (infoRow.found !== true) throw new TenantNotFoundError(slug);
  for (const step of [lock, create, applied]) if (!step?.ok) throw asMigrationError(settledError(step), schema);
  if (infoRow.has_state !== true) {
    await tx.query(lockStatement('public'));
    await tx.exec(CREATE_STATE_TABLE_SQL);
  }
  const plan = planRun(schema, migrations, appliedRows(applied));
  if (plan.error) throw plan.error;

  const steps: Step[] = [{ text: 'savepoint cgk_apply_migrations' }, { text: "select set_config('search_path', $1, true)", values: [schema] }];
  const fileStep = new Map<number, Migration>();
  const insertStep = new Map<number, Migration>();
  for (const migration of plan.pending) {
    steps.push(START_CLOCK);
    fileStep.set(steps.length, migration);
    steps.push({ exec: migration.noTransaction ? withoutConcurrently(migration.sql) : migration.sql });
    insertStep.set(steps.length, migration);
    steps.push(insertAppliedStatement(schema, migration));
  }
  steps.push(upsertStateStatement(schema, migrations.length, prefixDigests(migrations)[migrations.length]!));
  steps.push({ text: 'release savepoint cgk_apply_migrations' });
  steps.push({ text: "select set_config('search_path', $1, true)", values: [String(infoRow.previous ?? '')] });
  const settled = await pipeline(tx, steps);

  const failedAt = settled.findIndex((s) => !s.ok);
  if (failedAt !== -1) {
    const error = settledError(settled[failedAt]);
    const migration = fileStep.get(failedAt);
    let located: Location | undefined;
    if (migration) {
      located = locationOf(migration, error);
      if (!located && error instanceof QueryError) {
        // Find the failing statement: back to the savepoint, replay the files before it, then it statement by statement.
        located = await locateInTransaction(tx, schema, migration, plan.pending.filter((m) => m.version < migration.version), error);
      }
    }
    throw asMigrationError(error, schema, migration ?? insertStep.get(failedAt), located);
  }
  return plan.pending.length;
}

// --- the one-schema runner ---------------------------------------------------------------------------

/** The schema a run works on. */
export interface RunTarget {
  schema: string;
  /** Tenant schemas also keep their row of `public.tenant_migration_state` up to date. */
  tenant: boolean;
  migrations: readonly Migration[];
  /**
   * Commit without waiting for the WAL flush (`synchronous_commit = off`, transaction-local). Atomicity is
   * unchanged (a file and its tracking row commit together or not at all); a server crash may lose the last
   * few hundred milliseconds of commits, which the next run then applies again. The fleet uses it and makes
   * everything durable with one synchronous commit before it returns.
   */
  asyncCommit?: boolean;
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

interface Plan {
  applied: AppliedRow[];
  pending: Migration[];
  error?: CgkError;
  /** The file the error is about (a changed checksum). */
  blamed?: Migration;
}

interface Location {
  line: number;
  column: number;
}

/**
 * Applies what is pending in one schema. Loops: one transaction per migration, each starting with the lock
 * and a fresh read of what is applied (another runner may have done the work meanwhile). Never throws for a
 * migration problem: errors land in the result.
 */
export async function runSchema(driver: Driver, target: RunTarget): Promise<MigrationResultSet> {
  const { schema, migrations } = target;
  const status = new Map<number, MigrationResult>(migrations.map((m) => [m.version, entry(schema, m, 'NotExecuted')]));
  const finish = (error?: CgkError): MigrationResultSet => ({
    schema,
    results: migrations.map((m) => status.get(m.version)!),
    ...(error ? { error } : {}),
    failed: error !== undefined,
  });
  const prelude = preludeFor(target);

  for (;;) {
    let begun: { tx: Transaction; results: Settled[] };
    try {
      begun = await beginLocked(driver, schema, prelude);
    } catch (error) {
      return finish(asMigrationError(error, schema));
    }
    const { tx, results } = begun;
    const [lock, path, create, applied, state] = results;
    const firstFailure = [lock, path].find((r) => !r?.ok);
    if (firstFailure || path?.ok !== true) {
      await tx.rollback();
      return finish(asMigrationError(settledError(firstFailure), schema));
    }
    if (path.result.rows[0]?.found !== true) {
      await tx.rollback();
      return finish(target.tenant ? new TenantNotFoundError(schema.slice(TENANT_SCHEMA_PREFIX.length)) : new MigrationError({ schema }, `Schema ${schema} does not exist`));
    }
    const other = [create, applied, state].find((r) => r !== undefined && !r.ok);
    if (other) {
      await tx.rollback();
      return finish(asMigrationError(settledError(other), schema));
    }
    const plan = planRun(schema, migrations, appliedRows(applied));
    for (const row of plan.applied) {
      const migration = migrations[row.version - 1];
      if (migration && status.get(migration.version)!.status === 'NotExecuted') status.set(migration.version, entry(schema, migration, 'Skipped'));
    }
    const summaryFix = target.tenant ? summaryCorrection(schema, plan.applied, state) : undefined;
    const next = plan.pending[0];
    if (plan.error || !next) {
      // Nothing to apply (or refused): keep the summary truthful, commit the tracking table if it was just created.
      // The correction is sent with the COMMIT (one round trip); its failure, or a COMMIT that became a
      // ROLLBACK, is the run's error.
      const ended = summaryFix ? await endWith(tx, schema, summaryFix) : await endQuietly(tx, schema);
      if (plan.error) {
        if (plan.blamed) status.set(plan.blamed.version, { ...entry(schema, plan.blamed, 'Error'), error: plan.error });
        return finish(plan.error);
      }
      return finish(ended);
    }

    const outcome = next.noTransaction
      ? await applyOutsideTransaction(driver, tx, target, next)
      : await applyInTransaction(driver, tx, target, next);
    if (outcome.error) {
      status.set(next.version, { ...entry(schema, next, 'Error'), error: outcome.error });
      return finish(outcome.error);
    }
    if ('skipped' in outcome && outcome.skipped) continue;
    status.set(next.version, { ...entry(schema, next, 'Success'), ...(outcome.durationMs === undefined ? {} : { durationMs: outcome.durationMs }) });
    // That was the last file: nothing can be pending after it (the files are fixed for this run).
    if (next.version === migrations.length) return finish();
  }
}

/**
 * The fleet's fast path, for a tenant whose summary says it has applied exactly the first `assumed` files
 * (same checksums). Each pending file goes out as ONE simple-protocol script, which PostgreSQL runs as one
 * implicit transaction (all or nothing, nothing left open on the connection if it fails): try-lock +
 * search_path, a guard that checks schema_migrations really holds those files (else the script stops there),
 * the file, its tracking row and the summary row. One round trip and one message per file, against the
 * general path's two round trips and a dozen statements. When the lock or the guard says the assumption is
 * wrong (another runner, a lying summary), nothing was done and the general path (`runSchema`) takes over.
 * No-transaction files always take the general path.
 */
export async function runSchemaAssuming(driver: Driver, target: RunTarget, assumed: number): Promise<MigrationResultSet> {
  const { schema, migrations } = target;
  const pending = migrations.slice(assumed);
  if (assumed > migrations.length || pending.length === 0 || pending.some((m) => m.noTransaction)) return runSchema(driver, target);
  const results = migrations.map((m) => entry(schema, m, m.version <= assumed ? 'Skipped' : 'NotExecuted'));
  for (const migration of pending) {
    const outcome = await applyScripted(driver, target, migration);
    if (outcome === 'fallback') {
      const general = await runSchema(driver, target);
      // Keep what this run applied before falling back (the general path sees it as applied before).
      general.results = general.results.map((r, i) => (results[i]!.status === 'Success' && r.status === 'Skipped' ? results[i]! : r));
      return general;
    }
    if (outcome.error) {
      results[migration.version - 1] = { ...entry(schema, migration, 'Error'), error: outcome.error };
      return { schema, results, error: outcome.error, failed: true };
    }
    results[migration.version - 1] = entry(schema, migration, 'Success');
  }
  return { schema, results, failed: false };
}

async function applyScripted(driver: Driver, target: RunTarget, migration: Migration): Promise<'fallback' | { error?: CgkError }> {
  const { schema } = target;
  const q = quoteIdentifier(schema);
  const version = migration.version;
  const digests = prefixDigests(target.migrations);
  // Lock first, in a statement of its own: the guard's snapshot must be taken after the lock is held. The
  // guard compares the whole applied history (every version:checksum) with the files before this one.
  const head = `${tryLockSql(sqlLiteral(LOCK_PREFIX + schema))}, set_config('search_path', ${sqlLiteral(schema)}, true)${target.asyncCommit ? ", set_config('synchronous_commit', 'off', true)" : ''};
select (case when ${HISTORY_SQL} = ${sqlLiteral(historyText(target.migrations.slice(0, version - 1)))} then '1' else '${GUARD_FAILED}' end)::integer from ${q}.schema_migrations;
`;
  // statement_timestamp() is when the script arrived: the duration includes the lock and the guard (microseconds).
  let tail = `
;
insert into ${q}.schema_migrations (version, name, checksum, duration_ms) values (${version}, ${sqlLiteral(migration.name)}, ${sqlLiteral(migration.checksum)}, (extract(epoch from clock_timestamp() - statement_timestamp()) * 1000)::integer);`;
  if (target.tenant) {
    tail += `
insert into public.tenant_migration_state as s (schema_name, version, checksum_digest, updated_at) values (${sqlLiteral(schema)}, ${version}, ${sqlLiteral(digests[version]!)}, now())
  on conflict (schema_name) do update set version = excluded.version, checksum_digest = excluded.checksum_digest, updated_at = excluded.updated_at;`;
  }
  const fileStart = charLength(head);
  const fileEnd = fileStart + charLength(migration.sql);
  let error: unknown;
  try {
    await driver.exec(head + migration.sql + tail);
    return {};
  } catch (caught) {
    error = caught;
  }
  if (isLockBusy(error) || isSentinel(error, GUARD_FAILED)) return 'fallback';
  if (!(error instanceof QueryError)) return { error: asMigrationError(error, schema, migration) };
  const position = error.position;
  if (position !== undefined && (position <= fileStart || position > fileEnd)) return 'fallback';
  const located = position !== undefined ? lineAt(migration.sql, position - fileStart) : await locateByReplay(driver, schema, migration, error);
  return { error: asMigrationError(error, schema, migration, located) };
}

/**
 * A value the runner writes into its own scripts: schema names, lock keys, migration names and hex checksums,
 * all produced by the runner from validated names (never user input). Anything else is refused.
 */
function sqlLiteral(value: string): string {
  if (!/^[a-z0-9_:,]*$/.test(value)) throw new MigrationError({ schema: '' }, `Internal: refusing to inline ${JSON.stringify(value)} as an SQL literal`);
  return `'${value}'`;
}

function preludeFor(target: RunTarget): Statement[] {
  const { schema } = target;
  return [
    searchPathStatement(schema),
    { text: createTrackingTableSql(schema) },
    selectAppliedStatement(schema),
    // Tenants: their summary row. Public: the summary table is created under public's lock.
    target.tenant ? selectStateStatement(schema) : { text: CREATE_STATE_TABLE_SQL },
  ];
}

/** The file, its tracking row, the summary row and COMMIT, in one round trip. */
async function applyInTransaction(driver: Driver, tx: Transaction, target: RunTarget, migration: Migration): Promise<{ durationMs?: number; error?: CgkError }> {
  const { schema } = target;
  const steps: Step[] = [target.asyncCommit ? START_CLOCK_ASYNC_COMMIT : START_CLOCK, { exec: migration.sql }, insertAppliedStatement(schema, migration)];
  if (target.tenant) steps.push(upsertStateStatement(schema, migration.version, prefixDigests(target.migrations)[migration.version]!));
  // COMMIT is queued behind the steps: one round trip for all of them.
  const sent = pipeline(tx, steps);
  const commit = settleCommit(tx);
  const [started, file, insert, summary] = await sent;
  const committed = await commit;
  const failure = [started, file, insert, summary].find((s) => s !== undefined && !s.ok);
  if (failure) {
    const error = settledError(failure);
    if (failure !== file) return { error: asMigrationError(error, schema, migration) };
    const located = locationOf(migration, error) ?? (error instanceof QueryError ? await locateByReplay(driver, schema, migration, error) : undefined);
    return { error: asMigrationError(error, schema, migration, located) };
  }
  const notCommitted = commitError(committed, schema, migration);
  if (notCommitted) return { error: notCommitted };
  return { durationMs: durationOf(insert) };
}

/**
 * A `-- cgk:no-transaction` file. PostgreSQL refuses CREATE INDEX CONCURRENTLY inside a transaction block or
 * a multi-statement string, so the file's statements run one at a time, outside any transaction, on one
 * dedicated connection (a session):
 *   - the schema's lock is taken as a SESSION advisory lock on that connection (same key as the transaction
 *     locks, so they exclude each other), then what is applied is read again: another runner may have done it;
 *   - the session's search_path is set to the schema, each statement runs, the search_path is reset;
 *   - the tracking row and the summary row are written in one short transaction, then the lock is released.
 * The lock is not held by an open transaction meanwhile on purpose: CREATE INDEX CONCURRENTLY waits for every
 * transaction holding a snapshot, which would include it. A process that dies mid-file loses its session and
 * with it the lock; a CREATE INDEX CONCURRENTLY it interrupted leaves an invalid index behind, which the file
 * should drop first (`drop index concurrently if exists ...`) to be re-runnable.
 * Needs a real session: run migrations with such files over a direct connection, not a transaction-mode pooler.
 * Resolves to `skipped` when another runner applied the file first (the caller's loop then moves on).
 */
async function applyOutsideTransaction(driver: Driver, tx: Transaction, target: RunTarget, migration: Migration): Promise<{ durationMs?: number; error?: CgkError; skipped?: boolean }> {
  const { schema } = target;
  // The locked transaction only read (and maybe created the tracking table): end it, keeping what it created.
  const ended = await endQuietly(tx, schema);
  if (ended) return { error: ended };
  let session: Transaction;
  try {
    session = (await driver.begin([])).tx;
  } catch (error) {
    return { error: asMigrationError(error, schema, migration) };
  }
  let locked = false;
  try {
    await session.exec('commit');
    await lockSession(session, schema);
    locked = true;
    const plan = planRun(schema, target.migrations, appliedRows({ ok: true, result: await session.query(selectAppliedStatement(schema)) }));
    if (plan.error || plan.pending[0] !== migration) return { skipped: true };
    const started = performance.now();
    const failure = await runInSession(session, schema, splitStatements(migration.sql));
    const durationMs = performance.now() - started;
    if (failure) {
      const position = failure.error instanceof QueryError ? failure.error.position ?? 1 : 1;
      return { error: asMigrationError(failure.error, schema, migration, lineAt(migration.sql, failure.offset + position)) };
    }
    const steps: Step[] = [{ text: 'begin' }, insertAppliedStatement(schema, migration, durationMs)];
    if (target.tenant) steps.push(upsertStateStatement(schema, migration.version, prefixDigests(target.migrations)[migration.version]!));
    steps.push({ text: 'commit' });
    const settled = await pipeline(session, steps);
    const bad = settled.find((r) => !r.ok);
    if (bad) {
      await session.exec('rollback').catch(() => undefined);
      return { error: asMigrationError(settledError(bad), schema, migration) };
    }
    return { durationMs: Math.round(durationMs) };
  } catch (error) {
    return { error: asMigrationError(error, schema, migration) };
  } finally {
    if (locked) await unlockSession(session, schema).catch(() => undefined);
    // Back into a transaction block so the driver's rollback() ends it normally and releases the connection
    // (a connection whose ROLLBACK fails, e.g. a broken one still holding the lock, is destroyed).
    await session.exec('begin').catch(() => undefined);
    await session.rollback();
  }
}

/**
 * Runs statements one by one with a session search_path (reset after); returns the first failure and its
 * statement's offset. A failing reset throws only when nothing failed before it (it never hides the file's error).
 */
async function runInSession(session: Transaction, schema: string, statements: readonly ScriptStatement[]): Promise<{ error: unknown; offset: number } | undefined> {
  await session.query({ text: "select set_config('search_path', $1, false)", values: [schema] });
  let failure: { error: unknown; offset: number } | undefined;
  for (const statement of statements) {
    try {
      await session.exec(statement.text);
    } catch (error) {
      failure = { error, offset: statement.offset };
      break;
    }
  }
  try {
    await session.exec('reset search_path');
  } catch (error) {
    if (!failure) throw error;
  }
  return failure;
}

/**
 * Checks what a schema has applied against the files: every applied version must have its file, unchanged,
 * and the applied versions must be 1..k (forward-only, in order). Pending = the files after k.
 */
function planRun(schema: string, migrations: readonly Migration[], applied: AppliedRow[]): Plan {
  for (let i = 0; i < applied.length; i++) {
    const row = applied[i]!;
    const migration = migrations[row.version - 1];
    if (!migration) {
      const latest = migrations.at(-1)?.filename ?? 'none';
      return {
        applied,
        pending: [],
        error: new MigrationFilesError(`${String(row.version).padStart(3, '0')}_${row.name}.sql`, `Schema ${schema} has migration ${row.version} (${row.name}) applied, but there is no such file (latest file: ${latest})`, {
          hint: 'This schema was migrated by a newer release: run the release that has the file, or check the migration directory option.',
        }),
      };
    }
    if (row.checksum !== migration.checksum) {
      return { applied, pending: [], blamed: migration, error: new MigrationChecksumError(schema, migration.filename, row.checksum, migration.checksum) };
    }
    if (row.version !== i + 1) {
      const missing = migrations[i]!;
      return {
        applied,
        pending: [],
        blamed: missing,
        error: new MigrationFilesError(missing.filename, `Schema ${schema} has migration ${row.version} applied but not ${missing.filename}: migrations are applied in order`, {
          hint: `A file was inserted below an applied version. Give ${missing.filename} the next free number instead.`,
        }),
      };
    }
  }
  return { applied, pending: migrations.slice(applied.length) };
}

/** The summary row to write when it disagrees with the schema's own history (undefined when it agrees). */
function summaryCorrection(schema: string, applied: AppliedRow[], state: Settled | undefined): Statement | undefined {
  const version = applied.at(-1)?.version ?? 0;
  const digest = migrationsDigest(applied);
  const row = state?.ok ? state.result.rows[0] : undefined;
  if (row && Number(row.version) === version && row.checksum_digest === digest) return undefined;
  return upsertStateStatement(schema, version, digest);
}

// --- failures: which file, which line ----------------------------------------------------------------

function locationOf(migration: Migration, error: unknown): Location | undefined {
  return error instanceof QueryError ? lineAt(migration.sql, error.position) : undefined;
}

/**
 * For an error PostgreSQL gave without a position (e.g. "relation already exists"): runs the file again,
 * statement by statement, in a transaction that is rolled back, and reports where the same error happens.
 */
async function locateByReplay(driver: Driver, schema: string, migration: Migration, original: QueryError): Promise<Location | undefined> {
  const statements = splitStatements(migration.sql);
  if (statements.length <= 1) return statements[0] ? lineAt(migration.sql, statements[0].offset + 1) : undefined;
  try {
    const { tx, results } = await beginLocked(driver, schema, [searchPathStatement(schema)]);
    try {
      if (results.some((r) => !r.ok)) return undefined;
      return await replay(tx, migration, statements, original);
    } finally {
      await tx.rollback();
    }
  } catch {
    return undefined;
  }
}

/** applyTenantMigrations' variant: back to its savepoint in the caller's transaction, replay, back again. */
async function locateInTransaction(tx: Transaction, schema: string, migration: Migration, before: Migration[], original: QueryError): Promise<Location | undefined> {
  const statements = splitStatements(migration.sql);
  if (statements.length <= 1) return statements[0] ? lineAt(migration.sql, statements[0].offset + 1) : undefined;
  try {
    await tx.exec('rollback to savepoint cgk_apply_migrations');
    await tx.query({ text: "select set_config('search_path', $1, true)", values: [schema] });
    for (const m of before) await tx.exec(m.noTransaction ? withoutConcurrently(m.sql) : m.sql);
    return await replay(tx, migration, statements, original);
  } catch {
    return undefined;
  } finally {
    await tx.exec('rollback to savepoint cgk_apply_migrations').catch(() => undefined);
  }
}

async function replay(tx: Transaction, migration: Migration, statements: readonly ScriptStatement[], original: QueryError): Promise<Location | undefined> {
  for (const statement of statements) {
    try {
      await tx.exec(migration.noTransaction ? withoutConcurrently(statement.text) : statement.text);
    } catch (error) {
      if (!(error instanceof QueryError) || error.sqlState !== original.sqlState) return undefined;
      return lineAt(migration.sql, statement.offset + (error.position ?? 1));
    }
  }
  return undefined;
}

/** Wraps whatever went wrong as a typed migration error naming the schema, the file and the line. */
function asMigrationError(error: unknown, schema: string, migration?: Migration, location?: Location): CgkError {
  if (error instanceof CgkError && error.code !== 'CGK_QUERY' && error.code !== 'CGK_CONNECTION') return error;
  const message = error instanceof Error ? error.message : String(error);
  const sqlState = error instanceof QueryError ? error.sqlState : undefined;
  const detail = error instanceof QueryError && error.detail ? ` (${error.detail})` : '';
  if (!migration) {
    return new MigrationError({ schema, ...(sqlState ? { sqlState } : {}) }, `Migrations of schema ${schema} could not run: ${message}${detail}`, {
      hint: error instanceof CgkError ? error.hint : undefined,
      cause: error,
    });
  }
  const where = location ? ` at line ${location.line}` : '';
  const source = `${migration.path}${location ? `:${location.line}` : ''}`;
  return new MigrationError(
    { schema, file: migration.filename, ...(location ? { line: location.line, column: location.column } : {}), ...(sqlState ? { sqlState } : {}) },
    `Migration ${migration.filename} failed in schema ${schema}${where}: ${message}${detail}`,
    {
      hint: !(error instanceof QueryError)
        ? error instanceof CgkError ? error.hint : undefined
        : migration.noTransaction
          ? `${migration.filename} runs outside a transaction: its statements before the failing one stay applied, it is not recorded. Make them re-runnable (IF NOT EXISTS), fix the cause (${source}) and run the migrations again.`
          : `Nothing of ${migration.filename} was applied to ${schema} (rolled back). Fix the cause (${source}) and run the migrations again.`,
      cause: error,
    },
  );
}

function runGuarded(schema: string, run: () => Promise<MigrationResultSet>): Promise<MigrationResultSet> {
  return run().catch((error: unknown) => {
    const cgk = asMigrationError(error, schema);
    return { schema, results: [], error: cgk, failed: true };
  });
}

// --- small helpers --------------------------------------------------------------------------------------

function entry(schema: string, m: Migration, status: MigrationResultStatus): MigrationResult {
  return { schema, version: m.version, name: m.name, filename: m.filename, status };
}

function appliedRows(settled: Settled | undefined): AppliedRow[] {
  if (!settled?.ok) return [];
  return settled.result.rows.map((row) => ({ version: Number(row.version), name: String(row.name), checksum: String(row.checksum) }));
}

function durationOf(settled: Settled | undefined): number | undefined {
  const value = settled?.ok ? settled.result.rows[0]?.duration_ms : undefined;
  return value === undefined || value === null ? undefined : Number(value);
}

function settledError(settled: Settled | undefined): unknown {
  return settled && !settled.ok ? settled.error : new Error('no result');
}

/** A statement with parameters, or a script run with exec (simple protocol, several statements). */
type Step = Statement | { exec: string };

/** Sends every step without waiting for the previous answer (pg pipelines them), and settles each. */
async function pipeline(tx: Transaction, steps: readonly Step[]): Promise<Settled[]> {
  return Promise.all(steps.map(async (step): Promise<Settled> => {
    try {
      if ('exec' in step) {
        await tx.exec(step.exec);
        return { ok: true, result: { rows: [], rowCount: 0, fields: [], command: '' } };
      }
      return { ok: true, result: await tx.query(step) };
    } catch (error) {
      return { ok: false, error: error as Error };
    }
  }));
}

async function settleCommit(tx: Transaction): Promise<{ ok: true; tag: string } | { ok: false; error: unknown }> {
  try {
    return { ok: true, tag: await tx.commit() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The error of a commit that failed or was turned into a ROLLBACK by the server; undefined when it committed. */
function commitError(committed: Awaited<ReturnType<typeof settleCommit>>, schema: string, migration?: Migration): CgkError | undefined {
  if (!committed.ok) return asMigrationError(committed.error, schema, migration);
  if (committed.tag === 'COMMIT') return undefined;
  return migration
    ? new MigrationError({ schema, file: migration.filename }, `Migration ${migration.filename} was rolled back in schema ${schema} (COMMIT answered ${committed.tag})`)
    : new MigrationError({ schema }, `The migration transaction of schema ${schema} was rolled back (COMMIT answered ${committed.tag})`);
}

/** Commits; a commit that fails or answers anything but COMMIT is returned as the error. */
async function endQuietly(tx: Transaction, schema: string): Promise<CgkError | undefined> {
  return commitError(await settleCommit(tx), schema);
}

/** Sends `statement` and COMMIT in one round trip; the statement's failure (else the commit's) is returned as the error. */
async function endWith(tx: Transaction, schema: string, statement: Statement): Promise<CgkError | undefined> {
  const sent = pipeline(tx, [statement]);
  const commit = settleCommit(tx);
  const [settled] = await sent;
  const committed = await commit;
  if (!settled?.ok) return asMigrationError(settledError(settled), schema);
  return commitError(committed, schema);
}
