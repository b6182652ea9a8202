import { sql as scopedSql, withTenant as scopedWithTenant } from '../database/database.js';
import { QueryError } from '../errors/index.js';
import type { Sql } from '../sql/tag.js';

/**
 * `@cgk/db/vercel-postgres`: the library's `sql` and `withTenant` with the error contract of `@vercel/postgres`
 * (and node-postgres): a statement PostgreSQL refuses rejects with a `PostgresError` whose `code` is the
 * SQLSTATE, so ported code such as `if (e.code === '23505')` keeps working after swapping the import. Every
 * other error (a bad slug, an unknown tenant, a connection failure) is the library's own `CgkError`, unchanged.
 * See docs/PORTING.md.
 */

/** A statement PostgreSQL refused, shaped like node-postgres's `DatabaseError`: `code` is the SQLSTATE. */
export class PostgresError extends Error {
  /** The five-character SQLSTATE, e.g. `23505` for a unique violation. */
  readonly code: string;
  readonly detail: string | undefined;
  readonly constraint: string | undefined;
  readonly table: string | undefined;
  readonly schema: string | undefined;
  /** 1-based character position in the statement text, as a string (as node-postgres gives it). */
  readonly position: string | undefined;

  constructor(error: QueryError) {
    super(error.message, { cause: error });
    // Written out: a minifier renames classes.
    this.name = 'PostgresError';
    this.code = error.sqlState ?? 'XX000';
    this.detail = error.detail;
    this.constraint = error.constraint;
    this.table = error.table;
    this.schema = error.schema;
    this.position = error.position === undefined ? undefined : String(error.position);
  }
}

/** The library's QueryError as a PostgresError; anything else as it is. */
function translated(error: unknown): unknown {
  return error instanceof QueryError && error.sqlState !== undefined ? new PostgresError(error) : error;
}

function translating<T>(promise: Promise<T>): Promise<T> {
  return promise.catch((error: unknown) => {
    throw translated(error);
  });
}

/**
 * The library's `sql` (a tenant scope's transaction inside `withTenant`, the pool outside), rejecting with
 * `PostgresError` where the statement was refused.
 *
 * @example
 * try { await sql`insert into customers (email) values (${email})`; }
 * catch (e) { if (e instanceof PostgresError && e.code === '23505') return 'taken'; throw e; }
 */
export const sql: Sql = Object.assign(
  (strings: TemplateStringsArray, ...values: unknown[]) => translating(scopedSql(strings, ...values)),
  { query: ((text, values) => translating(scopedSql.query(text, values))) as Sql['query'] },
) as Sql;

/**
 * The library's `withTenant` (one transaction as the tenant), with `PostgresError` for refused statements,
 * also one refused at COMMIT (a deferred constraint). The callback's `sql` is this module's.
 */
export function withTenant<T>(slug: string, fn: (sql: Sql) => PromiseLike<T> | T): Promise<T> {
  return translating(scopedWithTenant(slug, () => fn(sql)));
}
