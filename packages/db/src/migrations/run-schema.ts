import type { Driver, Statement, Transaction } from '../drivers/types.js';
import { MigrationError, TenantNotFoundError } from '../errors/index.js';
import { TENANT_SCHEMA_PREFIX } from '../sql/identifier.js';
import { applyInSession } from './apply-session.js';
import { applyInTransaction } from './apply-transaction.js';
import { asMigrationError, unwrap } from './failure.js';
import { appliedRowsOf, planRun, RunLog, summaryCorrection, type Plan } from './plan.js';
import { commitWith } from './steps.js';
import {
  beginLocked,
  CREATE_STATE_TABLE_SQL,
  createTrackingTableSql,
  lockName,
  lockTimeoutStatement,
  searchPathStatement,
  selectAppliedStatement,
  selectStateStatement,
  upsertStateStatement,
} from './tracking.js';
import type { MigrationResultSet, RunTarget } from './types.js';

/**
 * The general path over one schema: each migration in its own transaction, in two round trips on the pg
 * driver:
 *   1. BEGIN + the schema's transaction-level advisory lock (tried, see tracking.ts) + search_path (set
 *      transaction-locally) + create schema_migrations if missing + read what is applied (+ the tenant's
 *      summary row), pipelined;
 *   2. the file, its tracking row, the tenant's summary row and COMMIT, pipelined (apply-transaction.ts), or
 *      for a no-transaction file its own session (apply-session.ts).
 * What is applied is read again after every lock, so concurrent runners apply each file exactly once.
 */

/** Applies what is pending in one schema. Never throws for a migration problem: errors land in the result. */
export async function runSchema(driver: Driver, target: RunTarget): Promise<MigrationResultSet> {
  const log = new RunLog(target.schema, target.migrations, 0, target.set);
  return settleRun(log, applyPending(driver, target, log));
}

/** Waits for a run and makes its result set: the one place a run's thrown error becomes its result. */
export async function settleRun(log: RunLog, run: Promise<void>): Promise<MigrationResultSet> {
  try {
    await run;
    return log.toResultSet();
  } catch (error) {
    return log.toResultSet(asMigrationError(error, log.schema));
  }
}

/**
 * Loops: one transaction per migration, each starting with the lock and a fresh read of what is applied
 * (another runner may have done the work meanwhile). Records each file in `log`; throws the error that stops
 * the run.
 */
export async function applyPending(driver: Driver, target: RunTarget, log: RunLog): Promise<void> {
  const { schema, migrations } = target;
  for (;;) {
    const { tx, plan, summaryFix } = await openLocked(driver, target);
    log.skipped(plan.applied);
    const next = plan.pending[0];
    if (plan.error || !next) {
      // Nothing to apply (or refused): keep the summary truthful, commit the tracking table if it was just
      // created. The correction goes with the COMMIT (one round trip); its failure, or a COMMIT that became
      // a ROLLBACK, is the run's error unless the plan already has one.
      const ended = commitWith(tx, summaryFix ? [summaryFix] : [], schema);
      if (plan.error) {
        await ended.catch(() => undefined);
        throw plan.blamed ? log.failed(plan.blamed, plan.error) : plan.error;
      }
      await ended;
      return;
    }
    try {
      const outcome = next.noTransaction
        ? await applyInSession(driver, tx, target, next)
        : await applyInTransaction(driver, tx, target, next);
      if (outcome === 'skipped') continue;
      log.succeeded(next, outcome);
    } catch (error) {
      throw log.failed(next, asMigrationError(error, schema, next));
    }
    // That was the last file: nothing can be pending after it (the files are fixed for this run).
    if (next.version === migrations.length) return;
  }
}

/** The locked transaction and what it read: the plan, and the summary row to rewrite if it disagrees. */
async function openLocked(driver: Driver, target: RunTarget): Promise<{ tx: Transaction; plan: Plan; summaryFix?: Statement }> {
  const { schema, migrations } = target;
  const { tx, results } = await beginLocked(driver, lockName(schema, target.set), preludeFor(target));
  try {
    const [lock, path, create, applied, state, timeout] = results;
    unwrap(lock);
    if (unwrap(path).rows[0]?.found !== true) {
      throw target.tenant
        ? new TenantNotFoundError(schema.slice(TENANT_SCHEMA_PREFIX.length))
        : new MigrationError({ schema }, `Schema ${schema} does not exist`);
    }
    for (const step of [create, applied, state, timeout]) if (step && !step.ok) throw step.error;
    const plan = planRun(schema, migrations, appliedRowsOf(unwrap(applied).rows));
    const fix = target.tenant ? summaryCorrection(plan.applied, state?.ok ? state.result.rows[0] : undefined) : undefined;
    return { tx, plan, ...(fix ? { summaryFix: upsertStateStatement(schema, target.set, fix.version, fix.digest) } : {}) };
  } catch (error) {
    await tx.rollback();
    throw error;
  }
}

function preludeFor(target: RunTarget): Statement[] {
  const { schema, set } = target;
  const prelude = [
    searchPathStatement(schema),
    { text: createTrackingTableSql(schema) },
    selectAppliedStatement(schema, set),
    // Tenants: their summary row. Public: the summary table is created under public's lock.
    target.tenant ? selectStateStatement(schema, set) : { text: CREATE_STATE_TABLE_SQL },
  ];
  // After the reads (which must not be cut short): bounds the files' waits for table locks.
  if (target.lockTimeoutMs !== undefined) prelude.push(lockTimeoutStatement(target.lockTimeoutMs));
  return prelude;
}
