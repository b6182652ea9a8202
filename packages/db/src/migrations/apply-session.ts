import type { Driver, Session, Transaction } from '../drivers/types.js';
import { QueryError } from '../errors/index.js';
import { asMigrationError } from './failure.js';
import { lineAt, prefixDigests, splitStatements, type Migration } from './files.js';
import { appliedRowsOf, planRun } from './plan.js';
import { commitWith, pipeline, type Step } from './steps.js';
import {
  insertAppliedStatement,
  lockName,
  lockSession,
  migrationPath,
  selectAppliedStatement,
  unlockSession,
  upsertStateStatement,
} from './tracking.js';
import type { RunTarget } from './types.js';

/**
 * A `-- cgk:no-transaction` file. PostgreSQL refuses CREATE INDEX CONCURRENTLY inside a transaction block or
 * a multi-statement string, so the file's statements run one at a time, outside any transaction, on one
 * dedicated connection (a driver `Session`):
 *   - the schema's lock is taken as a SESSION advisory lock on that connection (same key as the transaction
 *     locks, so they exclude each other), then what is applied is read again: another runner may have done it;
 *   - the session's search_path is set to the schema, each statement runs, the search_path is reset;
 *   - the tracking row and the summary row are written in one short transaction, then the lock is released.
 * The lock is not held by an open transaction meanwhile on purpose: CREATE INDEX CONCURRENTLY waits for every
 * transaction holding a snapshot, which would include it. A process that dies mid-file loses its session and
 * with it the lock; a CREATE INDEX CONCURRENTLY it interrupted leaves an invalid index behind, which the file
 * should drop first (`drop index concurrently if exists ...`) to be re-runnable.
 * Needs a real session: run migrations with such files over a direct connection, not a transaction-mode pooler.
 */

/**
 * Applies `migration` in a session of its own, after committing `tx` (the locked transaction that only read,
 * and may have created the tracking table). Resolves to its duration, or to `skipped` when another runner
 * applied it first (the caller's loop then moves on). Throws a `MigrationError` naming the file and line.
 */
export async function applyInSession(
  driver: Driver,
  tx: Transaction,
  target: RunTarget,
  migration: Migration,
): Promise<number | 'skipped'> {
  const { schema } = target;
  const lock = lockName(schema, target.set);
  await commitWith(tx, [], schema);
  const session = await driver.acquire();
  // Reused only when its lock was taken and given back: a connection that failed either may be broken.
  let locked = false;
  let healthy = false;
  try {
    await lockSession(session, lock);
    locked = true;
    const plan = planRun(
      schema,
      target.migrations,
      appliedRowsOf((await session.query(selectAppliedStatement(schema, target.set))).rows),
    );
    if (plan.error || plan.pending[0] !== migration) return 'skipped';
    const started = performance.now();
    await runStatements(session, target, migration);
    const durationMs = performance.now() - started;
    await record(session, target, migration, durationMs);
    return Math.round(durationMs);
  } finally {
    // A connection that cannot release its lock (a broken one) is closed, which releases it.
    if (locked)
      healthy = await unlockSession(session, lock).then(
        () => true,
        () => false,
      );
    session.release(!healthy);
  }
}

/**
 * Runs the file's statements one by one with a session search_path (reset after). The first failure is
 * thrown with its line; a failing reset is thrown only when nothing failed before it (it never hides the
 * file's error).
 */
async function runStatements(session: Session, target: RunTarget, migration: Migration): Promise<void> {
  const { schema } = target;
  await session.query({ text: "select set_config('search_path', $1, false)", values: [migrationPath(schema)] });
  if (target.lockTimeoutMs !== undefined) await session.query(sessionLockTimeout(target.lockTimeoutMs));
  let failure: { error: unknown; offset: number } | undefined;
  for (const statement of splitStatements(migration.sql)) {
    try {
      await session.exec(statement.text);
    } catch (error) {
      failure = { error, offset: statement.offset };
      break;
    }
  }
  try {
    await session.exec(target.lockTimeoutMs === undefined ? 'reset search_path' : 'reset search_path; reset lock_timeout');
  } catch (error) {
    if (!failure) throw error;
  }
  if (failure) {
    const position = failure.error instanceof QueryError ? (failure.error.position ?? 1) : 1;
    throw asMigrationError(failure.error, schema, migration, lineAt(migration.sql, failure.offset + position));
  }
}

/** The tracking row and the summary row, in one short transaction sent as one batch; throws its failure. */
async function record(session: Session, target: RunTarget, migration: Migration, durationMs: number): Promise<void> {
  const { schema } = target;
  const steps: Step[] = [{ text: 'begin' }, insertAppliedStatement(schema, target.set, migration, durationMs)];
  if (target.tenant)
    steps.push(upsertStateStatement(schema, target.set, migration.version, prefixDigests(target.migrations)[migration.version]!));
  steps.push({ text: 'commit' });
  const bad = (await pipeline(session, steps)).find((r) => !r.ok);
  if (!bad || bad.ok) return;
  await session.exec('rollback').catch(() => undefined);
  throw asMigrationError(bad.error, schema, migration);
}

/** `lock_timeout` for the file's session (reset after it), as `lockTimeoutStatement` is for a transaction. */
function sessionLockTimeout(ms: number) {
  return { text: "select set_config('lock_timeout', $1, false)", values: [`${Math.max(1, Math.round(ms))}ms`] };
}
