import { parsePoolSettings } from './drivers/pool-settings.js';
import { openDriver, resolveDriverConfig, type DriverConfig } from './drivers/driver-config.js';
import type { Driver, DriverName, QueryResult, Statement } from './drivers/types.js';
import { DatabaseClosedError } from './errors.js';
import { currentScope } from './scope/context.js';
import { createSql, type Sql } from './sql.js';
import { runTenantScope } from './scope/tenant-scope.js';

/** How to reach a database. Omitted fields come from the environment (see `resolveDriverConfig`). */
export interface DatabaseOptions {
  /** A connection string; implies the pg driver unless `driver` says otherwise. */
  url?: string;
  driver?: DriverName;
  /** PGlite data directory; `undefined` with driver 'pglite' and no env = `.cgk/pglite`. Use ':memory:' for none. */
  dataDir?: string;
  /**
   * Enforce isolation with a PostgreSQL role per tenant (`SET LOCAL ROLE` in every scope). Default: on,
   * unless `CGK_TENANT_ROLES=off`. Off means search_path-only isolation; see docs/setup/DATABASE.md.
   */
  tenantRoles?: boolean;
  /**
   * Embedded database only: called once, with the holder's pid, when another process holds the data
   * directory and this one starts waiting for it (up to 30 s). The CLI prints a line with it.
   */
  onEmbeddedLockWait?: (holderPid: number) => void;
}

/** Reads CGK_TENANT_ROLES: on unless it says off / false / 0. */
export function tenantRolesFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return !/^(off|false|0|no)$/i.test(env.CGK_TENANT_ROLES?.trim() ?? '');
}

/**
 * One database: a lazily opened driver, its `sql` tag and its tenant scopes. Most code uses the module-level
 * `sql` and `withTenant`, which go to the default database (`getDatabase()`); tests and tools that talk to
 * several databases create their own.
 */
export class Database {
  /** Runs on this database; inside a withTenant() scope of this database it runs in that scope's transaction. */
  readonly sql: Sql;
  readonly config: DriverConfig;
  /** Whether scopes switch to the tenant's own role (see DatabaseOptions.tenantRoles). */
  readonly tenantRoles: boolean;
  /**
   * @internal The tag of the database this URL reaches (`tagOfDatabase` in roles.ts), learned by the first
   * tenant scope so that later scopes name the tenant role as a literal instead of computing it on the server.
   */
  databaseTag: string | undefined;
  #driver: Promise<Driver> | undefined;
  #ended = false;

  constructor(options: DatabaseOptions = {}) {
    this.config = resolveOptions(options);
    this.tenantRoles = options.tenantRoles ?? tenantRolesFromEnv();
    this.databaseTag = undefined;
    // A malformed connection string is reported here, where it was given, not at the first query.
    if (this.config.url) parsePoolSettings(this.config.url);
    this.sql = createSql((statement) => {
      const scope = currentScope();
      return scope && scope.owner === this ? scope.run(statement) : this.query(statement);
    });
  }

  /** The driver, opened on first use; a failure to open is reported on every use, as a typed error. */
  driver(): Promise<Driver> {
    if (this.#ended) return Promise.reject(new DatabaseClosedError());
    this.#driver ??= openDriver(this.config);
    return this.#driver;
  }

  /** Runs one statement outside any scope (autocommit), whatever the current async context. */
  async query(statement: Statement): Promise<QueryResult> {
    return (await this.driver()).query(statement);
  }

  /**
   * Runs `fn` in a transaction whose `search_path` is the tenant's schema; see `withTenant` for the guarantees.
   *
   * @example
   * const pending = await db.withTenant('acme', (sql) => sql`select * from orders where status = 'pending'`);
   */
  withTenant<T>(slug: string, fn: (sql: Sql) => PromiseLike<T> | T): Promise<T> {
    return runTenantScope(this, slug, fn);
  }

  /** Closes every connection. Safe to call twice; queries afterwards fail. */
  async end(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    const driver = this.#driver;
    this.#driver = undefined;
    if (driver) await (await driver.catch(() => undefined))?.end();
  }
}

function resolveOptions(options: DatabaseOptions): DriverConfig {
  if (options.driver === 'pglite' || (options.dataDir !== undefined && !options.url)) {
    if (options.dataDir === ':memory:') return { driver: 'pglite', reason: 'embedded PostgreSQL in memory, chosen in code' };
    const dataDir =
      options.dataDir ?? resolveDriverConfig({ CGK_DB_DRIVER: 'pglite', CGK_PGLITE_DIR: process.env.CGK_PGLITE_DIR }).dataDir;
    return { driver: 'pglite', dataDir, reason: 'embedded PostgreSQL chosen in code', onLockWait: options.onEmbeddedLockWait };
  }
  if (options.url) return { driver: options.driver ?? 'pg', url: options.url, reason: 'connection string given in code' };
  const fromEnv = resolveDriverConfig();
  return options.driver ? { ...fromEnv, driver: options.driver } : fromEnv;
}

let defaultDatabase: Database | undefined;

/** The process-wide database behind the module-level `sql` and `withTenant`, created from the environment on first use. */
export function getDatabase(): Database {
  defaultDatabase ??= new Database();
  return defaultDatabase;
}

/** Replaces the process-wide database (closing nothing); returns the new one. */
export function configureDatabase(options: DatabaseOptions = {}): Database {
  defaultDatabase = new Database(options);
  return defaultDatabase;
}

/** Closes the process-wide database, so scripts and tests can exit; the next use opens it again. */
export async function closeDatabase(): Promise<void> {
  const db = defaultDatabase;
  defaultDatabase = undefined;
  await db?.end();
}

/**
 * The platform's `sql` tag. Outside a scope it runs on the default database's pool, where `search_path`
 * holds no tenant; inside `withTenant()` it runs in that scope's transaction.
 *
 * @example
 * const { rows } = await sql<{ email: string }>`select email from users where id = ${id}`;
 */
export const sql: Sql = createSql((statement) => {
  const scope = currentScope();
  return scope ? scope.run(statement) : getDatabase().query(statement);
});

/**
 * Runs `fn` in a tenant scope on the default database: one connection, one transaction, `search_path` set
 * transaction-locally to `tenant_{slug}, public` and, with tenant roles on (the default), the transaction
 * running as the tenant's own role (`SET LOCAL ROLE`; see docs/ISOLATION.md). Inside `fn` the module-level
 * `sql` and the `sql` passed to `fn` both run in that transaction. Commits when `fn` resolves, rolls back
 * when it throws (rethrowing the original error). A tenant without a schema throws `TenantNotFoundError`; a bad slug throws
 * `InvalidSlugError` before any SQL; a nested scope of the same tenant reuses the outer one, of another
 * tenant throws `TenantScopeConflictError`.
 *
 * Cost: the connection is taken and BEGIN, the `search_path`, the role and the first query go out together
 * on the first query, then COMMIT: two round trips for a one-query scope. A scope that runs no query costs none.
 *
 * @example
 * const orders = await withTenant('acme', async () => sql`select * from orders where status = 'pending'`);
 */
export async function withTenant<T>(slug: string, fn: (sql: Sql) => PromiseLike<T> | T): Promise<T> {
  return runTenantScope(getDatabase(), slug, fn);
}
