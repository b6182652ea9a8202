import type { Driver, Transaction } from '../drivers/types.js';
import { QueryError } from '../errors/index.js';
import { asMigrationError, FailedStep } from './failure.js';
import { prefixDigests, type Migration } from './files.js';
import { locateByReplay, locationOf } from './locate.js';
import { commitWith, type Step } from './steps.js';
import { insertAppliedStatement, START_CLOCK, START_CLOCK_ASYNC_COMMIT, upsertStateStatement } from './tracking.js';
import type { RunTarget } from './types.js';

/**
 * A transaction per file, the general path's way of applying: in the transaction the runner opened with the
 * schema's lock (see run-schema.ts), the file, its tracking row, the tenant's summary row and COMMIT go out
 * together, one round trip on the pg driver. Either all of them commit or none does.
 */

/** The index of the file's own step in the batch (after the clock). */
const FILE_STEP = 1;

/**
 * Applies `migration` in `tx` and commits. Resolves to the duration the server measured; throws a
 * `MigrationError` naming the file and, when it can be found, the line.
 */
export async function applyInTransaction(
  driver: Driver,
  tx: Transaction,
  target: RunTarget,
  migration: Migration,
): Promise<number | undefined> {
  const { schema } = target;
  const steps: Step[] = [
    target.asyncCommit ? START_CLOCK_ASYNC_COMMIT : START_CLOCK,
    { exec: migration.sql },
    insertAppliedStatement(schema, target.set, migration),
  ];
  if (target.tenant)
    steps.push(upsertStateStatement(schema, target.set, migration.version, prefixDigests(target.migrations)[migration.version]!));
  try {
    const [, , insert] = await commitWith(tx, steps, schema, migration);
    const value = insert?.rows[0]?.duration_ms;
    return value === undefined || value === null ? undefined : Number(value);
  } catch (error) {
    if (!(error instanceof FailedStep) || error.index !== FILE_STEP) throw asMigrationError(error, schema, migration);
    const cause = error.cause;
    const located =
      locationOf(migration, cause) ??
      (cause instanceof QueryError ? await locateByReplay(driver, target, migration, cause) : undefined);
    throw asMigrationError(cause, schema, migration, located);
  }
}
