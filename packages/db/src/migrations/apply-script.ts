import type { Driver } from '../drivers/types.js';
import { QueryError } from '../errors/index.js';
import { inlineLiteral, quoteIdentifier } from '../sql/identifier.js';
import { asMigrationError } from './failure.js';
import { charLength, historyText, HISTORY_SQL, lineAt, prefixDigests, type Migration } from './files.js';
import { locateByReplay } from './locate.js';
import { RunLog } from './plan.js';
import { applyPending, runSchema, settleRun } from './run-schema.js';
import {
  GUARD_FAILED,
  insertAppliedScript,
  isLockBusy,
  isSentinel,
  LOCK_PREFIX,
  lockName,
  migrationPath,
  tryLockSql,
  upsertStateScript,
} from './tracking.js';
import type { MigrationResultSet, RunTarget } from './types.js';

/**
 * The fleet's fast path, a script per file, for a tenant whose summary says it has applied exactly the first
 * `assumed` files (same checksums). Each pending file goes out as ONE simple-protocol script, which
 * PostgreSQL runs as one implicit transaction (all or nothing, nothing left open on the connection if it
 * fails): try-lock + search_path, a guard that checks schema_migrations really holds those files (else the
 * script stops there), the file, its tracking row and the summary row. One round trip and one message per
 * file, against the general path's two round trips and a dozen statements. When the lock or the guard says
 * the assumption is wrong (another runner, a lying summary), nothing was done and the general path
 * (`applyPending`) takes over. No-transaction files always take the general path.
 */
export async function runSchemaAssuming(driver: Driver, target: RunTarget, assumed: number): Promise<MigrationResultSet> {
  const { schema, migrations } = target;
  const pending = migrations.slice(assumed);
  if (assumed > migrations.length || pending.length === 0 || pending.some((m) => m.noTransaction))
    return runSchema(driver, target);
  const log = new RunLog(schema, migrations, assumed, target.set);
  return settleRun(log, applyScripts(driver, target, pending, log));
}

async function applyScripts(driver: Driver, target: RunTarget, pending: readonly Migration[], log: RunLog): Promise<void> {
  for (const migration of pending) {
    let applied: boolean;
    try {
      applied = await applyScript(driver, target, migration);
    } catch (error) {
      throw log.failed(migration, asMigrationError(error, target.schema, migration));
    }
    // What this run applied before falling back stays Success (the general path sees it as applied before).
    if (!applied) return applyPending(driver, target, log);
    log.succeeded(migration);
  }
}

/** Sends one file as one script. Resolves to false when the assumption was wrong and nothing was done. */
async function applyScript(driver: Driver, target: RunTarget, migration: Migration): Promise<boolean> {
  const { schema } = target;
  const { head, tail } = scriptAround(target, migration);
  try {
    await driver.exec(head + migration.sql + tail);
    return true;
  } catch (error) {
    if (isLockBusy(error) || isSentinel(error, GUARD_FAILED)) return false;
    if (!(error instanceof QueryError)) throw error;
    const fileStart = charLength(head);
    const position = error.position;
    if (position !== undefined && (position <= fileStart || position > fileStart + charLength(migration.sql))) return false;
    const located =
      position !== undefined
        ? lineAt(migration.sql, position - fileStart)
        : await locateByReplay(driver, target, migration, error);
    throw asMigrationError(error, schema, migration, located);
  }
}

/**
 * The script's text before and after the file. Lock first, in a statement of its own: the guard's snapshot
 * must be taken after the lock is held. The guard compares the whole applied history (every
 * version:checksum) with the files before this one.
 */
function scriptAround(target: RunTarget, migration: Migration): { head: string; tail: string } {
  const { schema, migrations, set } = target;
  const version = migration.version;
  const asyncCommit = target.asyncCommit ? ", set_config('synchronous_commit', 'off', true)" : '';
  const timeout =
    target.lockTimeoutMs === undefined
      ? ''
      : `, set_config('lock_timeout', '${Math.max(1, Math.round(target.lockTimeoutMs))}ms', true)`;
  const expected = inlineLiteral(historyText(migrations.slice(0, version - 1)));
  const path = `set_config('search_path', ${inlineLiteral(migrationPath(schema))}, true)`;
  const lock = `${tryLockSql(inlineLiteral(LOCK_PREFIX + lockName(schema, set)))}, ${path}`;
  const guard = `(case when ${HISTORY_SQL} = ${expected} then '1' else '${GUARD_FAILED}' end)::integer`;
  const from = `${quoteIdentifier(schema)}.schema_migrations where migration_set = ${inlineLiteral(set)}`;
  const head = `${lock}${asyncCommit}${timeout};\nselect ${guard} from ${from};\n`;
  let tail = `\n;\n${insertAppliedScript(schema, set, migration)};`;
  if (target.tenant) tail += `\n${upsertStateScript(schema, set, version, prefixDigests(migrations)[version]!)};`;
  return { head, tail };
}
