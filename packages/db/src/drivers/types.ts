/**
 * The one interface every driver implements. Everything above it (the sql tag, withTenant, migrations) is
 * written once against this interface, so the behavioural test suite can run unchanged over each driver.
 */

export type DriverName = 'pg' | 'pglite' | 'vercel' | 'neon';

/** One statement: text with `$1..$n` placeholders and the values for them. */
export interface Statement {
  text: string;
  values?: readonly unknown[];
  /** `array`: each row is an array of values in column order, so duplicate column names survive (ORMs). */
  rowMode?: 'array';
  /** Type OIDs whose values come back as PostgreSQL's text instead of parsed (for ORMs that parse them). */
  textTypes?: readonly number[];
}

/**
 * Column metadata, as PostgreSQL describes it: node-postgres's `FieldDef`. The pg and Neon drivers give all
 * seven properties; the embedded database (PGlite) describes a column by `name` and `dataTypeID` only.
 */
export interface FieldDef {
  name: string;
  dataTypeID: number;
  /** OID of the table the column comes from, 0 for a computed column (pg, Neon). */
  tableID?: number;
  /** The column's number in that table, 0 for a computed column (pg, Neon). */
  columnID?: number;
  /** `pg_type.typlen`: the type's size in bytes, negative for variable-length types (pg, Neon). */
  dataTypeSize?: number;
  /** The type modifier (`atttypmod`), -1 when none (pg, Neon). */
  dataTypeModifier?: number;
  /** `'text'` or `'binary'` (pg, Neon). */
  format?: string;
}

/** What a statement resolves to: the contract of @vercel/postgres's `sql`. */
export interface QueryResult<Row = Record<string, unknown>> {
  rows: Row[];
  rowCount: number;
  fields: FieldDef[];
  /** The command tag's verb: SELECT, INSERT, UPDATE, DELETE, CREATE, ... */
  command: string;
}

/** Outcome of one statement sent in a batch. */
export type Settled = { ok: true; result: QueryResult } | { ok: false; error: Error };

/** A transaction on one dedicated connection. Exactly one of commit() / rollback() ends it. */
export interface Transaction {
  query(statement: Statement): Promise<QueryResult>;
  /** Runs a script of several statements without parameters (simple protocol). */
  exec(script: string): Promise<void>;
  /**
   * Commits and releases the connection. Resolves to the server's tag: `COMMIT`, or `ROLLBACK` when the
   * transaction had failed. `options.reset`: a parameterless script run just before COMMIT, in the same
   * message where the driver allows (session cleanup: see scope/session-reset.ts); skipped, with the
   * answer `ROLLBACK`, when the transaction had failed.
   */
  commit(options?: EndOptions): Promise<string>;
  /**
   * Rolls back and releases the connection; a connection whose rollback fails is destroyed, never reused.
   * `options.reset`: a parameterless script run just after ROLLBACK, in the same message where the driver allows.
   */
  rollback(options?: EndOptions): Promise<void>;
}

/** What commit() and rollback() may send along. */
export interface EndOptions {
  reset?: string;
  /**
   * commit() only: a parameterless script run just after the ROLLBACK that ends a transaction found failed
   * (the commit answers `ROLLBACK`), in the same message where the driver allows.
   */
  afterRollback?: string;
}

/**
 * One connection held by the caller alone, outside any transaction block, until `release()` (kysely's
 * `DatabaseConnection`). For work that must not run in a transaction (CREATE INDEX CONCURRENTLY) or that
 * needs session state (a session advisory lock). Statements after `release()` are refused.
 */
export interface Session {
  query(statement: Statement): Promise<QueryResult>;
  /** Runs a script of several statements without parameters (simple protocol). */
  exec(script: string): Promise<void>;
  /** Hands the connection back to the pool; `destroy` closes it instead (its state is unknown). Idempotent. */
  release(destroy?: boolean): void;
}

/** What a transaction is for, so a pool can act on it. */
export interface BeginOptions {
  /** The tenant schema the transaction serves (a withTenant scope): the pg pool bounds tenants per connection. */
  tenant?: string;
  /**
   * Login isolation mode: the role the transaction's connection must be logged in as (a tenant role). Only
   * the pg driver opened with `login` settings serves it; the other drivers never receive it, since a
   * `Database` refuses login mode on them when it is constructed (roles/mode.ts).
   */
  role?: string;
}

/** A connection pool (or a single embedded connection) to one database. */
export interface Driver {
  readonly name: DriverName;
  /**
   * The most connections this driver holds at once (`pool_max`; 1 for the embedded database). Work that runs
   * N things side by side, each on one connection, runs at most this many: more would only wait for a
   * connection, and past the connect timeout fail for nothing. Undefined: unknown (a wrapper), no bound.
   */
  readonly maxConnections?: number;
  /** Runs one statement outside any transaction block, on whichever connection is free. */
  query(statement: Statement): Promise<QueryResult>;
  /** Runs a script of several statements without parameters, outside any transaction block. */
  exec(script: string): Promise<void>;
  /**
   * Checks out a connection, opens a transaction and runs `prelude` in it. Drivers that can pipeline send
   * BEGIN and the whole prelude in one round trip. Rejects only if the transaction could not be opened;
   * each prelude statement's own failure is reported in `results`.
   */
  begin(prelude: readonly Statement[], options?: BeginOptions): Promise<{ tx: Transaction; results: Settled[] }>;
  /** Checks out a connection for the caller alone, outside any transaction block (see `Session`). */
  acquire(): Promise<Session>;
  /** Closes every connection; further queries fail. Safe to call twice. */
  end(): Promise<void>;
  /** Login mode (pg): counts of the per-tenant pools (drivers/pg/tenant-pools.ts), for tests and `doctor`. */
  tenantPoolStats?(): TenantPoolStats;
  /** Login mode (pg): closes the pooled connections of `role` (a dropped tenant); busy ones when released. */
  retireRole?(role: string): void;
}

/**
 * The login mode's per-tenant pools, counted (tests). Declared here rather than beside the pools, whose module
 * imports `pg`: this module's declarations reach the package's public types, and a consumer without
 * `@types/pg` must type-check them (tests/packaging.test.ts).
 */
export interface TenantPoolStats {
  /** Server connections open or opening, all tenants. */
  open: number;
  /** Tenants that have a pool. */
  tenants: number;
  idle: number;
  waiting: number;
  /** Connections opened so far (each one a login: TCP + SCRAM). */
  logins: number;
}
