import { getDatabase, type Database } from '../database/database.js';
import type { DriverName } from '../drivers/types.js';
import { describeCitus, type CitusReport } from '../citus/describe.js';
import { MigrationError, redactSecrets } from '../errors/index.js';
import { migratePublic } from '../migrations/runner.js';

/** The platform tables that `setup:database` guarantees. */
export const PLATFORM_TABLES = [
  'organizations',
  'users',
  'sessions',
  'api_keys',
  'billing',
  'magic_links',
  'operator_actions',
] as const;

/** What setupDatabase() found and did. */
export interface SetupReport {
  driver: DriverName;
  /** Why this driver: e.g. "DATABASE_URL is set", "DATABASE_URL is not set" (the embedded PostgreSQL). */
  reason: string;
  /** Where: the connection string without its password, or the embedded data directory. */
  target: string;
  serverVersion: string;
  /**
   * Public migrations applied by this run (file names; `set/file` for the application's sets, which run after
   * the platform's); empty when all were applied before.
   */
  applied: string[];
  alreadyApplied: number;
  /** The platform tables found by the final check. */
  tables: string[];
  durationMs: number;
  /**
   * Set on a Citus coordinator: its nodes, where tenants are placed and the settings tenant schemas need
   * (the platform tables stay plain tables on the coordinator; see docs/SCALING.md).
   */
  citus?: CitusReport;
}

/**
 * The spec's four steps: (1) find the database (`DATABASE_URL`, or the embedded PostgreSQL when unset),
 * (2) test the connection, (3) apply the public schema's pending migrations (the platform's, then every
 * configured set of the application's: cgk.config.json, CGK_PUBLIC_MIGRATIONS), (4) verify that every platform
 * table exists. Idempotent: a second run applies nothing and reports the same tables. Throws
 * `ConnectionError` / `ConfigError` with a hint when step 1 or 2 fails, and a `CGK_MIGRATION` error
 * naming the file when step 3 does.
 *
 * @example
 * const report = await setupDatabase();
 * console.log(`${report.applied.length} migrations applied on PostgreSQL ${report.serverVersion}`);
 */
export async function setupDatabase(options: { db?: Database } = {}): Promise<SetupReport> {
  const db = options.db ?? getDatabase();
  const started = performance.now();
  const { rows } = await db.sql<{ version: string }>`select current_setting('server_version') as version`;
  const run = await migratePublic(db);
  if (run.failed) throw run.error ?? new MigrationError({ schema: 'public' }, 'A public migration failed');
  const found = await db.sql<{ table_name: string }>`
    select table_name::text from information_schema.tables
    where table_schema = 'public' and table_name = any(${[...PLATFORM_TABLES]}::text[]) order by table_name`;
  const tables = found.rows.map((r) => r.table_name);
  const missing = PLATFORM_TABLES.filter((t) => !tables.includes(t));
  if (missing.length > 0) {
    throw new MigrationError({ schema: 'public' }, `Setup finished but platform tables are missing: ${missing.join(', ')}`, {
      hint:
        'Someone may have dropped them by hand; compare public.schema_migrations with the database ' +
        '(npx @cgk/cli migrate:status).',
    });
  }
  const citus = await describeCitus(db);
  return {
    ...(citus ? { citus } : {}),
    driver: db.config.driver,
    reason: db.config.reason,
    target: db.config.url ? redactSecrets(db.config.url) : (db.config.dataDir ?? 'embedded PostgreSQL (in memory)'),
    serverVersion: rows[0]?.version ?? 'unknown',
    applied: run.results.filter((r) => r.status === 'Success').map((r) => (r.set ? `${r.set}/${r.filename}` : r.filename)),
    alreadyApplied: run.results.filter((r) => r.status === 'Skipped').length,
    tables,
    durationMs: performance.now() - started,
  };
}
