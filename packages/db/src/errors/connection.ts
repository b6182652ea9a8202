import { CgkError, ERROR_CLASS, type CgkErrorOptions } from './base.js';

/** Errors of configuration, connections, pools and statements. */

/** Missing or malformed configuration (environment variables, options). */
export class ConfigError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'ConfigError';
  constructor(message: string, hint?: string) {
    super('CGK_CONFIG', message, { hint });
  }
}

/** The database server could not be reached or refused the connection. */
export class ConnectionError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'ConnectionError';
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
  static override readonly [ERROR_CLASS]: string = 'PoolExhaustedError';
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
  static override readonly [ERROR_CLASS]: string = 'ConfirmationRequiredError';
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
  static override readonly [ERROR_CLASS]: string = 'QueryError';
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
