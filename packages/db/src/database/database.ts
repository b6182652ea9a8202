import { parsePoolSettings } from '../drivers/pool-settings.js';
import { openDriver, resolveDriverConfig, type DriverConfig } from '../drivers/driver-config.js';
import type { Driver, DriverName, QueryResult, Statement } from '../drivers/types.js';
import { DatabaseClosedError } from '../errors/index.js';
import { currentScope } from '../scope/context.js';
import { createSql, type Sql } from '../sql/tag.js';
import { runTenantScope } from '../scope/tenant-scope.js';
import type { ScopeOwner } from '../scope/owner.js';
import { processShared } from '../process/shared.js';
import { DATABASE_TAG_EXPRESSION, tenantRoleNameForTag } from '../roles/tenant-role.js';
import { formerTenantRoleSecrets, requireTenantRoleSecret, tenantRolePassword } from '../roles/credentials.js';
import { assertLoginModeSupported, tenantRoleMode, tenantRoleModeFromEnv, type TenantRoleMode } from '../roles/mode.js';

/** How to reach a database. Omitted fields come from the environment (see `resolveDriverConfig`). */
export interface DatabaseOptions {
  /** A connection string; implies the pg driver unless `driver` says otherwise. */
  url?: string;
  driver?: DriverName;
  /** PGlite data directory; `undefined` with driver 'pglite' and no env = `.cgk/pglite`. Use ':memory:' for none. */
  dataDir?: string;
  /**
   * Isolation mode of tenant scopes (docs/ISOLATION.md): `'set-role'` (default; `true`): each scope switches
   * to the tenant's role with `SET LOCAL ROLE`; `'login'`: each scope's connection is logged in as the
   * tenant's role (pg driver only; needs `tenantRoleSecret`), so SQL in a scope cannot leave the tenant;
   * `'off'` (`false`): `search_path` only. Default: `CGK_TENANT_ROLES`, else `'set-role'`.
   */
  tenantRoles?: boolean | TenantRoleMode;
  /**
   * Login mode: the secret tenant role passwords are derived from (HMAC-SHA256; at least 32 characters).
   * Default: `CGK_TENANT_ROLE_SECRET`. Read at the first scope, tenant creation or repair, not before.
   */
  tenantRoleSecret?: string;
  /**
   * Login mode, while rotating the secret: former secrets, tried in order when the server refuses the current
   * one's password (until `tenant:repair` has run with the new secret). Default: `CGK_TENANT_ROLE_SECRETS_OLD`
   * (comma-separated).
   */
  formerTenantRoleSecrets?: string[];
  /**
   * Login mode: bounds of the per-tenant pools. `maxConnections`: server connections across all tenants
   * (default the URL's `tenant_pool_max`, itself `pool_max` by default; on top of the application role's own
   * pool). `maxTenants`: tenants that keep connections, least recently used evicted first (default the URL's
   * `tenant_pool_tenants`, itself `maxConnections` by default).
   */
  tenantPools?: { maxConnections?: number; maxTenants?: number };
  /**
   * Embedded database only: called once, with the holder's pid, when another process holds the data
   * directory and this one starts waiting for it (up to 30 s). The CLI prints a line with it.
   */
  onEmbeddedLockWait?: (holderPid: number) => void;
}

/**
 * Reads CGK_TENANT_ROLES: whether tenant roles are on (set-role or login mode; see `tenantRoleModeFromEnv`
 * for the mode itself). Throws `ConfigError` for a value that names no mode.
 */
export function tenantRolesFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return tenantRoleModeFromEnv(env) !== 'off';
}

/**
 * One database: a lazily opened driver, its `sql` tag and its tenant scopes. Most code uses the module-level
 * `sql` and `withTenant`, which go to the default database (`getDatabase()`); tests and tools that talk to
 * several databases create their own.
 */
export class Database implements ScopeOwner {
  /** Runs on this database; inside a withTenant() scope of this database it runs in that scope's transaction. */
  readonly sql: Sql;
  readonly config: DriverConfig;
  /** Whether scopes run as the tenant's own role, in either mode (see DatabaseOptions.tenantRoles). */
  readonly tenantRoles: boolean;
  /** How scopes are isolated: 'off', 'set-role' or 'login' (see DatabaseOptions.tenantRoles). */
  readonly tenantRoleMode: TenantRoleMode;
  /**
   * @internal The tag of the database this URL reaches (`tagOfDatabase` in roles/tenant-role.ts), learned by the first
   * tenant scope so that later scopes name the tenant role as a literal instead of computing it on the server.
   */
  databaseTag: string | undefined;
  #driver: Promise<Driver> | undefined;
  #ended = false;
  readonly #secretOption: string | undefined;
  readonly #formerSecrets: string[] | undefined;
  readonly #tenantPools: DatabaseOptions['tenantPools'];

  constructor(options: DatabaseOptions = {}) {
    this.config = resolveOptions(options);
    this.tenantRoleMode = tenantRoleMode(options.tenantRoles);
    this.tenantRoles = this.tenantRoleMode !== 'off';
    // Refused here, where the mode was chosen: a driver that cannot log in as a tenant never gets a scope.
    if (this.tenantRoleMode === 'login') assertLoginModeSupported(this.config.driver);
    this.#secretOption = options.tenantRoleSecret;
    this.#formerSecrets = options.formerTenantRoleSecrets;
    this.#tenantPools = options.tenantPools;
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
    this.#driver ??= openDriver(this.config, this.tenantRoleMode === 'login' ? this.#loginOptions() : undefined);
    return this.#driver;
  }

  /**
   * @internal Login mode: the secret tenant role passwords derive from. Throws `ConfigError` when it is
   * missing or too short (asked only by work that needs it: scopes, tenant creation, repair, doctor).
   */
  tenantRoleSecret(): string {
    return requireTenantRoleSecret(this.#secretOption);
  }

  /** @internal The role name of `slug` in this database, learning the database's tag once (one query). */
  async tenantRoleName(slug: string): Promise<string> {
    if (!this.databaseTag) {
      const { rows } = await this.query({ text: `select ${DATABASE_TAG_EXPRESSION} as tag` });
      this.databaseTag = String(rows[0]?.tag);
    }
    return tenantRoleNameForTag(slug, this.databaseTag);
  }

  #loginOptions() {
    return {
      passwords: (role: string) =>
        [this.tenantRoleSecret(), ...formerTenantRoleSecrets(this.#formerSecrets)].map((s) => tenantRolePassword(s, role)),
      ...(this.#tenantPools?.maxConnections === undefined ? {} : { maxConnections: this.#tenantPools.maxConnections }),
      ...(this.#tenantPools?.maxTenants === undefined ? {} : { maxTenants: this.#tenantPools.maxTenants }),
    };
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

/**
 * The default database, one per process however many copies of this module a bundler makes (Next.js gives a
 * server action and a page a copy each): it lives on globalThis (process/shared.ts), so every copy of the
 * same version uses one pool, or one embedded database.
 */
const defaults = processShared('default-database', (): { current: Database | undefined } => ({ current: undefined }));

/**
 * The process-wide database behind the module-level `sql` and `withTenant`, created from the environment on
 * first use; the same object for every copy of the library (of this version) loaded in the process.
 */
export function getDatabase(): Database {
  defaults.current ??= new Database();
  return defaults.current;
}

/** Replaces the process-wide database (closing nothing); returns the new one. */
export function configureDatabase(options: DatabaseOptions = {}): Database {
  defaults.current = new Database(options);
  return defaults.current;
}

/** Closes the process-wide database, so scripts and tests can exit; the next use opens it again. */
export async function closeDatabase(): Promise<void> {
  const db = defaults.current;
  defaults.current = undefined;
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
 * running as the tenant's own role (`SET LOCAL ROLE`; in login mode, on a connection logged in as that role;
 * see docs/ISOLATION.md). Inside `fn` the module-level
 * `sql` and the `sql` passed to `fn` both run in that transaction. Commits when `fn` resolves, rolls back
 * when it throws (rethrowing the original error). A tenant without a schema throws `TenantNotFoundError`; a bad slug throws
 * `InvalidSlugError` before any SQL; a nested scope of the same tenant reuses the outer one, of another
 * tenant throws `TenantScopeConflictError`.
 *
 * Cost: the connection is taken and BEGIN, the `search_path`, the role and the first query go out together
 * on the first query, then COMMIT: two round trips for a one-query scope. A scope that runs no query costs none
 * and checks nothing: `withTenant('nosuch', async () => 1)` resolves to 1 (call `getTenant(slug)` first where
 * a scope may run no query and an unknown tenant must still be refused; docs/PORTING.md).
 *
 * @example
 * const orders = await withTenant('acme', async () => sql`select * from orders where status = 'pending'`);
 */
export async function withTenant<T>(slug: string, fn: (sql: Sql) => PromiseLike<T> | T): Promise<T> {
  return runTenantScope(getDatabase(), slug, fn);
}
