import type { Driver, Transaction } from '../drivers/types.js';
import { QueryError } from '../errors/index.js';
import type { Location } from './failure.js';
import { lineAt, splitStatements, withoutConcurrently, type Migration, type ScriptStatement } from './files.js';
import { beginLocked, lockName, migrationPath, searchPathStatement } from './tracking.js';
import type { RunTarget } from './types.js';

/** Error location: which line of a migration file a failure came from. */

/** The line PostgreSQL's error position points at, when it gave one. */
export function locationOf(migration: Migration, error: unknown): Location | undefined {
  return error instanceof QueryError ? lineAt(migration.sql, error.position) : undefined;
}

/**
 * For an error PostgreSQL gave without a position (e.g. "relation already exists"): runs the file again,
 * statement by statement, in a transaction that is rolled back, and reports where the same error happens.
 */
export async function locateByReplay(
  driver: Driver,
  target: Pick<RunTarget, 'schema' | 'set'>,
  migration: Migration,
  original: QueryError,
): Promise<Location | undefined> {
  const statements = splitStatements(migration.sql);
  if (statements.length <= 1) return firstStatement(migration, statements);
  const { schema } = target;
  try {
    const { tx, results } = await beginLocked(driver, lockName(schema, target.set), [searchPathStatement(schema)]);
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

/** The savepoint `migrateTenantInTransaction` sets in the caller's transaction before the files. */
export const APPLY_SAVEPOINT = 'cgk_apply_migrations';

/** In the caller's transaction: back to the savepoint, replay the files before `migration`, then it; back again. */
export async function locateInTransaction(
  tx: Transaction,
  schema: string,
  migration: Migration,
  before: readonly Migration[],
  original: QueryError,
): Promise<Location | undefined> {
  const statements = splitStatements(migration.sql);
  if (statements.length <= 1) return firstStatement(migration, statements);
  try {
    await tx.exec(`rollback to savepoint ${APPLY_SAVEPOINT}`);
    await tx.query({ text: "select set_config('search_path', $1, true)", values: [migrationPath(schema)] });
    for (const m of before) await tx.exec(m.noTransaction ? withoutConcurrently(m.sql) : m.sql);
    return await replay(tx, migration, statements, original);
  } catch {
    return undefined;
  } finally {
    await tx.exec(`rollback to savepoint ${APPLY_SAVEPOINT}`).catch(() => undefined);
  }
}

function firstStatement(migration: Migration, statements: readonly ScriptStatement[]): Location | undefined {
  return statements[0] ? lineAt(migration.sql, statements[0].offset + 1) : undefined;
}

async function replay(
  tx: Transaction,
  migration: Migration,
  statements: readonly ScriptStatement[],
  original: QueryError,
): Promise<Location | undefined> {
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
