import type { QueryResult, Settled } from '../drivers/types.js';
import { CgkError, MigrationError, QueryError } from '../errors/index.js';
import type { Migration } from './files.js';

/**
 * How the runner fails: it throws typed errors inside and turns them into result sets once, at its public
 * functions. This module holds the one rule for turning any failure into a `CgkError` naming the schema,
 * the file and the line.
 */

/** A 1-based line and column in a migration file. */
export interface Location {
  line: number;
  column: number;
}

/**
 * The library's own typed errors pass through as they are; a query or connection error is wrapped, so the
 * result names the schema (and file) it happened in.
 */
export function passesThrough(error: unknown): error is CgkError {
  return error instanceof CgkError && error.code !== 'CGK_QUERY' && error.code !== 'CGK_CONNECTION';
}

/** One statement of a pipelined batch failed: which one, and why (the runner's own, never leaves it). */
export class FailedStep extends Error {
  constructor(
    readonly index: number,
    override readonly cause: Error,
  ) {
    super(cause.message, { cause });
  }
}

/** The result of a statement sent in a batch, or its error thrown. */
export function unwrap(settled: Settled | undefined): QueryResult {
  if (!settled) throw new QueryError('A statement of the batch returned no result');
  if (!settled.ok) throw settled.error;
  return settled.result;
}

/** Wraps whatever went wrong as a typed migration error naming the schema, the file and the line. */
export function asMigrationError(caught: unknown, schema: string, migration?: Migration, location?: Location): CgkError {
  const error = caught instanceof FailedStep ? caught.cause : caught;
  if (passesThrough(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  const sqlState = error instanceof QueryError ? error.sqlState : undefined;
  const detail = error instanceof QueryError && error.detail ? ` (${error.detail})` : '';
  if (!migration) {
    return new MigrationError(
      { schema, ...(sqlState ? { sqlState } : {}) },
      `Migrations of schema ${schema} could not run: ${message}${detail}`,
      {
        hint: error instanceof CgkError ? error.hint : undefined,
        cause: error,
      },
    );
  }
  const where = location ? ` at line ${location.line}` : '';
  return new MigrationError(
    {
      schema,
      file: migration.filename,
      ...(location ? { line: location.line, column: location.column } : {}),
      ...(sqlState ? { sqlState } : {}),
    },
    `Migration ${migration.filename} failed in schema ${schema}${where}: ${message}${detail}`,
    { hint: fileHint(error, schema, migration, location), cause: error },
  );
}

/** SQLSTATE of a statement cancelled by `lock_timeout`. */
const LOCK_NOT_AVAILABLE = '55P03';

function fileHint(error: unknown, schema: string, migration: Migration, location: Location | undefined): string | undefined {
  if (!(error instanceof QueryError)) return error instanceof CgkError ? error.hint : undefined;
  const source = `${migration.path}${location ? `:${location.line}` : ''}`;
  if (error.sqlState === LOCK_NOT_AVAILABLE)
    return (
      `A table ${migration.filename} changes in ${schema} stayed locked by other sessions (traffic) longer than the lock ` +
      'timeout; nothing of it was applied. Run the migrations again when it is quieter, or raise --lock-timeout.'
    );
  return migration.noTransaction
    ? `${migration.filename} runs outside a transaction: its statements before the failing one stay applied, ` +
        `it is not recorded. Make them re-runnable (IF NOT EXISTS), fix the cause (${source}) and run the migrations again.`
    : `Nothing of ${migration.filename} was applied to ${schema} (rolled back). ` +
        `Fix the cause (${source}) and run the migrations again.`;
}

/** A COMMIT the server answered with something else (ROLLBACK: the transaction had failed). */
export function rolledBack(schema: string, tag: string, migration?: Migration): MigrationError {
  return migration
    ? new MigrationError(
        { schema, file: migration.filename },
        `Migration ${migration.filename} was rolled back in schema ${schema} (COMMIT answered ${tag})`,
      )
    : new MigrationError({ schema }, `The migration transaction of schema ${schema} was rolled back (COMMIT answered ${tag})`);
}
