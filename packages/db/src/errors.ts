import { CgkError, type CgkErrorOptions } from './errors/base.js';

/**
 * Every error this library throws on purpose is a `CgkError`: a stable `code` to branch on, a message that
 * says what happened, and a `hint` that says what to do. Messages never contain a password: anything that
 * may hold a connection string passes through `redactSecrets()` first.
 */

/** The stable codes. Documented one by one in docs/setup/DATABASE.md (troubleshooting). */
export type CgkErrorCode =
  | 'CGK_INVALID_SLUG'
  | 'CGK_INVALID_IDENTIFIER'
  | 'CGK_TENANT_NOT_FOUND'
  | 'CGK_TENANT_EXISTS'
  | 'CGK_TENANT_SCOPE_CONFLICT'
  | 'CGK_SCOPE_ENDED'
  | 'CGK_TRANSACTION_ABORTED'
  | 'CGK_DATABASE_CLOSED'
  | 'CGK_CONFIG'
  | 'CGK_CONNECTION'
  | 'CGK_POOL_EXHAUSTED'
  | 'CGK_QUERY'
  | 'CGK_MIGRATION'
  | 'CGK_MIGRATION_CHECKSUM'
  | 'CGK_MIGRATION_FILES'
  | 'CGK_CONFIRMATION_REQUIRED'
  | 'CGK_ENCRYPTION'
  | 'CGK_CACHE'
  | 'CGK_INVALID_REQUEST'
  | 'CGK_ROLE'
  | 'CGK_TRANSACTION_CONTROL'
  | 'CGK_NO_TENANT_SCOPE'
  | 'CGK_ORM_TRANSACTION';

export { CgkError, redactSecrets, type CgkErrorOptions } from './errors/base.js';
export { CacheError, EncryptionError, type CacheErrorReason } from './errors/cache.js';
export {
  MigrationChecksumError,
  MigrationError,
  MigrationFilesError,
  MigrationFleetError,
  type MigrationErrorDetails,
} from './errors/migration.js';

/** A tenant slug that breaks the slug rules; raised before any SQL is sent. */
export class InvalidSlugError extends CgkError {
  constructor(
    readonly slug: unknown,
    reason: string,
  ) {
    super('CGK_INVALID_SLUG', `Invalid tenant slug ${describe(slug)}: ${reason}`, {
      hint:
        'A slug is 1-56 characters of lowercase letters, digits and "_", starting with a letter (e.g. "acme_store"); ' +
        'reserved names such as "public" or "pg_*" are refused.',
    });
  }
}

/** An SQL identifier (schema, table, role) that is not a plain lowercase identifier. */
export class InvalidIdentifierError extends CgkError {
  constructor(
    readonly identifier: unknown,
    reason: string,
  ) {
    super('CGK_INVALID_IDENTIFIER', `Invalid SQL identifier ${describe(identifier)}: ${reason}`, {
      hint: 'Identifiers are lowercase letters, digits and "_", starting with a letter or "_", at most 63 bytes.',
    });
  }
}

/** The tenant's schema does not exist in this database. */
export class TenantNotFoundError extends CgkError {
  constructor(
    readonly slug: string,
    cause?: unknown,
  ) {
    super('CGK_TENANT_NOT_FOUND', `Tenant "${slug}" does not exist (no schema tenant_${slug})`, {
      hint: `Create it with: npx @cgk/cli tenant:create ${slug}`,
      cause,
    });
  }
}

/** A tenant with this slug already exists (or is being created right now by someone else). */
export class TenantExistsError extends CgkError {
  constructor(readonly slug: string) {
    super('CGK_TENANT_EXISTS', `Tenant "${slug}" already exists`, {
      hint: 'Pick another slug, or use the existing tenant (npx @cgk/cli tenant:list).',
    });
  }
}

/** withTenant() for tenant B was called inside a scope of tenant A. */
export class TenantScopeConflictError extends CgkError {
  constructor(
    readonly outer: string,
    readonly inner: string,
  ) {
    super('CGK_TENANT_SCOPE_CONFLICT', `withTenant("${inner}") called inside the scope of tenant "${outer}"`, {
      hint: 'A scope is one transaction on one tenant; finish it before working on another tenant.',
    });
  }
}

/** A query was issued through a tenant scope (or its bound sql) after that scope ended. */
export class ScopeEndedError extends CgkError {
  constructor(readonly slug: string) {
    super('CGK_SCOPE_ENDED', `Query issued through the scope of tenant "${slug}" after it ended`, {
      hint: 'Await every query inside the withTenant() callback; do not keep its sql for later.',
    });
  }
}

/**
 * The transaction was aborted by an earlier failed query whose error was swallowed: nothing was committed.
 * `work` names what the transaction was for (a tenant scope by default; tenant creation or removal).
 */
export class TransactionAbortedError extends CgkError {
  constructor(
    readonly slug: string,
    cause?: unknown,
    work = 'tenant scope',
  ) {
    super(
      'CGK_TRANSACTION_ABORTED',
      `The transaction of ${work} "${slug}" was aborted by a failed query; nothing was committed`,
      {
        hint:
          'A query inside the scope failed and its error was caught; PostgreSQL rolled the whole scope back. ' +
          'Let the error propagate or retry the whole scope.',
        cause,
      },
    );
  }
}

/**
 * A statement inside a tenant scope would end or restart the scope's transaction (COMMIT, ROLLBACK, END,
 * ABORT, BEGIN, START TRANSACTION, PREPARE TRANSACTION, alone or inside a multi-statement text); it was
 * refused before anything was sent, and the scope's transaction is intact.
 */
export class TransactionControlError extends CgkError {
  constructor(
    readonly slug: string,
    readonly statement: string,
  ) {
    super(
      'CGK_TRANSACTION_CONTROL',
      `"${statement.toUpperCase()}" refused inside the scope of tenant "${slug}": it would end the scope's transaction, ` +
        "and what follows would run without the tenant's path and role",
      {
        hint:
          'withTenant() commits when its callback resolves and rolls back when it throws: throw to roll back. For a ' +
          'partial rollback use SAVEPOINT / ROLLBACK TO SAVEPOINT, or an ORM transaction (a savepoint inside a scope).',
      },
    );
  }
}

/** A `Database` was used after its `end()`: its connections are closed and it opens no new ones. */
export class DatabaseClosedError extends CgkError {
  constructor() {
    super('CGK_DATABASE_CLOSED', 'This database has been closed (end() was called)', {
      hint: 'Create a new Database (or call closeDatabase() only once the process is done with the default one).',
    });
  }
}

/**
 * An ORM bound to the tenant scope (`tenantDrizzle()`, `tenantKysely()`) ran a query outside any
 * withTenant() scope, or inside a scope of another `Database` than the one it was limited to. Nothing ran:
 * these ORMs never fall back to the pool.
 */
export class NoTenantScopeError extends CgkError {
  constructor(
    readonly orm: string,
    otherDatabase: boolean,
  ) {
    super(
      'CGK_NO_TENANT_SCOPE',
      otherDatabase
        ? `A ${orm} query ran in the scope of another Database than the one tenant${orm}() was given`
        : `A ${orm} query ran outside any withTenant() scope`,
      {
        hint: `Run it inside withTenant(slug, ...) (of the Database passed to tenant${orm}({ database })), and await it there.`,
      },
    );
  }
}

/**
 * An ORM transaction inside a tenant scope that cannot be honoured: the scope's transaction is already open,
 * so an ORM transaction is a savepoint, which takes no isolation level or access mode; and one scope runs
 * one ORM transaction at a time on its connection.
 */
export class OrmTransactionError extends CgkError {
  constructor(message: string, hint: string) {
    super('CGK_ORM_TRANSACTION', message, { hint });
  }
}

/** Missing or malformed configuration (environment variables, options). */
export class ConfigError extends CgkError {
  constructor(message: string, hint?: string) {
    super('CGK_CONFIG', message, { hint });
  }
}

/** The database server could not be reached or refused the connection. */
export class ConnectionError extends CgkError {
  constructor(message: string, options: CgkErrorOptions = {}) {
    super('CGK_CONNECTION', message, {
      hint: options.hint ?? 'Check DATABASE_URL (host, port, user, database) and that the server is running: npx @cgk/cli doctor',
      cause: options.cause,
    });
  }
}

/** What `PoolExhaustedError` reports about the pool. */
export interface PoolExhaustion {
  /** The database, as a connection string without its password. */
  target: string;
  /** `pool_max`: the most connections the pool holds. */
  max: number;
  /** Connections open when the wait ended. */
  busy: number;
  /** Other callers still waiting for a connection. */
  waiting: number;
  /** How long this caller waited (`connect_timeout`). */
  connectTimeoutMs: number;
}

/**
 * Every connection of this process's pool stayed busy for the whole connect timeout: the pool, not the
 * server, is the limit. Nothing was sent to the database for the failed call.
 */
export class PoolExhaustedError extends CgkError {
  readonly pool: PoolExhaustion;

  constructor(pool: PoolExhaustion, cause?: unknown) {
    const busy = `all ${pool.busy} of pool_max=${pool.max} connections stayed busy for ${pool.connectTimeoutMs / 1000} s`;
    super(
      'CGK_POOL_EXHAUSTED',
      `No free connection in the pool for ${pool.target}: ${busy} (${pool.waiting} more callers waiting)`,
      {
        hint:
          "Raise pool_max in DATABASE_URL (within the server's max_connections), lower the concurrency (fewer scopes or " +
          'migrate --concurrency), or find what holds connections (a withTenant() callback awaiting slow work).',
        cause,
      },
    );
    this.pool = pool;
  }
}

/** An operation that destroys data was called without its explicit confirmation flag. */
export class ConfirmationRequiredError extends CgkError {
  constructor(what: string, hint: string) {
    super('CGK_CONFIRMATION_REQUIRED', `Refusing to ${what} without explicit confirmation`, { hint });
  }
}

/** Fields PostgreSQL reports with a failed statement, the same whichever driver ran it. */
export interface QueryErrorDetails {
  /** The five-character SQLSTATE, e.g. `23505` for a unique violation. */
  sqlState?: string;
  detail?: string;
  constraint?: string;
  table?: string;
  schema?: string;
  /** 1-based character position of the error in the statement text, as PostgreSQL reports it. */
  position?: number;
}

/** A statement that PostgreSQL rejected. `sqlState` is PostgreSQL's own error code. */
export class QueryError extends CgkError {
  readonly sqlState: string | undefined;
  readonly detail: string | undefined;
  readonly constraint: string | undefined;
  readonly table: string | undefined;
  readonly schema: string | undefined;
  readonly position: number | undefined;

  constructor(message: string, details: QueryErrorDetails = {}, options: CgkErrorOptions = {}) {
    super('CGK_QUERY', message, options);
    this.sqlState = details.sqlState;
    this.detail = details.detail;
    this.constraint = details.constraint;
    this.table = details.table;
    this.schema = details.schema;
    this.position = details.position;
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  return `(${value === null ? 'null' : typeof value})`;
}
