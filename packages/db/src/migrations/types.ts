import type { Database } from '../database/database.js';
import type { CgkError } from '../errors/index.js';
import type { MigrationSets } from '../config/migration-sets.js';
import type { Migration } from './files.js';

export type { MigrationSetSpec, MigrationSets } from '../config/migration-sets.js';

/** The shapes the migration runner takes and returns, and where its files are by default. */

/** What happened to one migration in one schema (kysely's MigrationResult, plus Skipped). */
export type MigrationResultStatus = 'Success' | 'Error' | 'NotExecuted' | 'Skipped';

export interface MigrationResult {
  schema: string;
  version: number;
  name: string;
  filename: string;
  /**
   * Success: applied now. Skipped: was applied before. Error: failed (rolled back), or refused (changed
   * checksum). NotExecuted: pending, not run because of an error.
   */
  status: MigrationResultStatus;
  /**
   * Time the file took, in milliseconds, for Success on the general path: measured in the server for a file
   * run in a transaction, in the client for a no-transaction file. Not set by the fleet's fast path (its
   * duration is only recorded in schema_migrations.duration_ms), nor for other statuses.
   */
  durationMs?: number;
  error?: CgkError;
  /** The migration set of an application's file (absent for the platform's own files). */
  set?: string;
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

/**
 * Where the migration files are: the platform's folders (the directories next to this module by default),
 * then the application's sets (by default those configured by `cgk.config.json` or the environment:
 * `configuredMigrationSets()`).
 */
export interface MigrateOptions {
  /** Directory of the platform's public migrations; default `src/migrations/public`. */
  publicDir?: string | URL;
  /** Directory of the platform's tenant migrations; default `src/migrations/tenant` (a test hook). */
  tenantDir?: string | URL;
  /** The application's sets; default: the configured ones (`configuredMigrationSets()`). */
  sets?: Partial<MigrationSets>;
}

/** Anything that hands out a driver: a `Database`, or a test's wrapper. */
export type DriverSource = Pick<Database, 'driver'>;

// Beside the code, and carried in it by the package build (builtin.ts).
export { DEFAULT_PUBLIC_DIR, DEFAULT_TENANT_DIR } from './builtin.js';

/** The schema a run works on, and which of its migration sets. */
export interface RunTarget {
  schema: string;
  /** The migration set (`platform`, or an application's set name). */
  set: string;
  /**
   * Bound on waiting for a table lock held by traffic (`lock_timeout`, transaction-local), in milliseconds:
   * a file that would wait longer fails with SQLSTATE 55P03 instead of stalling. Unset: the server's setting.
   */
  lockTimeoutMs?: number;
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
