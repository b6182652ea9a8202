import type { Driver, Session, Settled, Statement, Transaction } from '../drivers/types.js';
import { CgkError, ConfigError, QueryError } from '../errors/index.js';
import { inlineLiteral, quoteIdentifier } from '../sql/identifier.js';

/**
 * The runner's own tables and locks: each schema's `schema_migrations`, the fleet summary
 * `public.tenant_migration_state`, and the transaction-level advisory lock that serialises runners per schema.
 */

/** Prefix of the advisory lock key of a schema: `hashtext('cgk_migrations:' || schema)`. */
export const LOCK_PREFIX = 'cgk_migrations:';

/**
 * Takes the schema's migration lock until the transaction ends, waiting for it in the server. Transaction-level,
 * so it works through PgBouncer (transaction mode) and the Neon pooler, where a session lock would be held by
 * whichever server connection happened to run it. Only used inside a caller's transaction, by
 * `migrateTenantInTransaction`: on the new tenant's schema (which nobody else can see yet), and on `public` when
 * `public.tenant_migration_state` is missing, to create it. The lock of `public` is a real blocking wait (held
 * until the caller's transaction ends); it is what serialises that CREATE with runners' `ensureStateTable`.
 * Runners use `beginLocked` (a tried lock) instead.
 */
export function lockStatement(schema: string): Statement {
  return { text: 'select pg_advisory_xact_lock(hashtext($1))', values: [LOCK_PREFIX + schema] };
}

/**
 * Runners never wait for a lock inside the server. A statement blocked on a lock holds a snapshot, and
 * CREATE INDEX CONCURRENTLY (run by a no-transaction file, under the same lock) waits for every transaction
 * holding an older snapshot: the two would wait for each other. So the lock is *tried*: when another runner
 * holds it, the cast of 'cgk_lock_busy' to integer fails, which aborts this transaction before the rest of its
 * prelude can do anything; the runner rolls back, pauses and tries again (`beginLocked`).
 */
function tryLockStatement(schema: string): Statement {
  return { text: tryLockSql('$1'), values: [LOCK_PREFIX + schema] };
}

/** The try-lock as SQL, for a key given as `$n` or as a literal. */
export function tryLockSql(key: string): string {
  return `select (case when pg_try_advisory_xact_lock(hashtext(${key})) then '1' else '${LOCK_BUSY}' end)::integer as locked`;
}

/** The sentinels the runner's own guard statements raise (as "invalid input syntax for type integer"). */
const LOCK_BUSY = 'cgk_lock_busy';
export const GUARD_FAILED = 'cgk_guard_failed';

/** True for the error `tryLockStatement` raises when the lock is busy. */
export function isLockBusy(error: unknown): boolean {
  return isSentinel(error, LOCK_BUSY);
}

export function isSentinel(error: unknown, sentinel: string): boolean {
  return error instanceof QueryError && error.sqlState === '22P02' && error.message.includes(`"${sentinel}"`);
}

/**
 * Opens a transaction holding the schema's migration lock, with `prelude` sent in the same round trip after
 * the lock (so it runs under it). Retries with a growing pause (5 ms to 250 ms) while another runner holds
 * the lock, for at most `waitMs` (`lockWaitMs()`: `CGK_MIGRATION_LOCK_WAIT`, 300 s by default); then throws
 * `CGK_MIGRATION_LOCKED` naming the session that holds it. `results[0]` is the lock's.
 */
export async function beginLocked(
  driver: Driver,
  schema: string,
  prelude: readonly Statement[],
  waitMs = lockWaitMs(),
): Promise<{ tx: Transaction; results: Settled[] }> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    const begun = await driver.begin([tryLockStatement(schema), ...prelude]);
    const lock = begun.results[0];
    if (!lock || lock.ok || !isLockBusy(lock.error)) return begun;
    await begun.tx.rollback();
    if (Date.now() - started >= waitMs) throw await lockTimeout(driver, schema, Date.now() - started);
    await pause(attempt);
  }
}

/** Takes the schema's lock as a session lock on a connection outside any transaction, by the same rule. */
export async function lockSession(session: Pick<Session, 'query'>, schema: string, waitMs = lockWaitMs()): Promise<void> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    const { rows } = await session.query({
      text: 'select pg_try_advisory_lock(hashtext($1)) as locked',
      values: [LOCK_PREFIX + schema],
    });
    if (rows[0]?.locked === true) return;
    if (Date.now() - started >= waitMs) throw await lockTimeout(session, schema, Date.now() - started);
    await pause(attempt);
  }
}

/** Releases the session lock `lockSession` took. */
export async function unlockSession(session: Pick<Session, 'query'>, schema: string): Promise<void> {
  await session.query({ text: 'select pg_advisory_unlock(hashtext($1))', values: [LOCK_PREFIX + schema] });
}

function pause(attempt: number): Promise<void> {
  const ms = Math.min(250, 5 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random() / 2);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const LOCK_WAIT_ENV = 'CGK_MIGRATION_LOCK_WAIT';
const DEFAULT_LOCK_WAIT_S = 300;

/**
 * How long a runner waits for a schema's migration lock: `CGK_MIGRATION_LOCK_WAIT` seconds (default 300: a
 * long migration of another runner is worth waiting for, a lock left behind forever is not). A value that
 * is not a non-negative number is a `ConfigError`.
 */
export function lockWaitMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[LOCK_WAIT_ENV]?.trim();
  if (raw === undefined || raw === '') return DEFAULT_LOCK_WAIT_S * 1000;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new ConfigError(`${LOCK_WAIT_ENV}=${raw} is not a number of seconds`, `Set ${LOCK_WAIT_ENV} to e.g. 300, or unset it.`);
  }
  return seconds * 1000;
}

/** The sessions holding the advisory lock of `key` (session or transaction level), as the server reports them. */
const HOLDER_SQL = `select l.pid, a.application_name, a.usename::text as username, a.state,
  extract(epoch from now() - a.state_change)::integer as state_seconds
from pg_catalog.pg_locks l left join pg_catalog.pg_stat_activity a on a.pid = l.pid
where l.locktype = 'advisory' and l.granted and l.objsubid = 1
  and l.database = (select oid from pg_database where datname = current_database())
  and ((l.classid::bigint << 32) | l.objid::bigint) = hashtext($1)::bigint`;

interface Holder {
  pid: number;
  application_name: string | null;
  username: string | null;
  state: string | null;
  state_seconds: number | null;
}

/**
 * `CGK_MIGRATION_LOCKED`: the wait is over; the message names who holds the lock (pid, application_name,
 * user, state and for how long, as far as the server lets this role see them) and for how long we waited.
 */
async function lockTimeout(on: Pick<Session, 'query'>, schema: string, waitedMs: number): Promise<CgkError> {
  const holders = await on
    .query({ text: HOLDER_SQL, values: [LOCK_PREFIX + schema] })
    .then((r) => r.rows as unknown as Holder[])
    .catch(() => []);
  const who = holders.length === 0 ? 'a session that has since released it' : holders.map(describeHolder).join('; ');
  const pids = holders.map((h) => h.pid).join(', ') || '<pid>';
  return new CgkError(
    'CGK_MIGRATION_LOCKED',
    `The migration lock of schema ${schema} is held by ${who}; gave up after waiting ${(waitedMs / 1000).toFixed(1)} s`,
    {
      hint:
        'Another `cgk migrate` may be running: let it finish. A session that is not a runner (an application connection ' +
        `that took pg_advisory_lock) can be ended with: select pg_terminate_backend(${pids}). ` +
        `${LOCK_WAIT_ENV} (seconds) sets how long to wait.`,
    },
  );
}

function describeHolder(h: Holder): string {
  const app = h.application_name ? `application_name "${h.application_name}"` : 'no application_name';
  const since = h.state && h.state_seconds !== null ? `, ${h.state} for ${h.state_seconds} s` : '';
  return `pid ${h.pid} (${app}${h.username ? `, user ${h.username}` : ''}${since})`;
}

/** Sets the schema the migration files run in, transaction-locally, and says whether it exists. */
export function searchPathStatement(schema: string): Statement {
  return {
    text: `select set_config('search_path', $1, true) as search_path,
  exists (select 1 from pg_namespace where nspname = $1) as found`,
    values: [schema],
  };
}

/** The tracking table of one schema; created by the runner, under the schema's lock. */
export function createTrackingTableSql(schema: string): string {
  return `create table if not exists ${quoteIdentifier(schema)}.schema_migrations (
  version integer primary key,
  name text not null,
  checksum text not null,
  applied_at timestamptz not null default now(),
  duration_ms integer
)`;
}

export function selectAppliedStatement(schema: string): Statement {
  return { text: `select version, name, checksum from ${quoteIdentifier(schema)}.schema_migrations order by version` };
}

/**
 * The fleet summary: one row per tenant schema with the highest applied version and the digest of its
 * applied (version, checksum) list, written in the same transaction as each tenant migration. Comparing it
 * with the files' latest version and digest tells in one query whether any tenant has anything pending.
 * Created by the runner (not a numbered migration), under the lock of `public`.
 */
export const CREATE_STATE_TABLE_SQL = `create table if not exists public.tenant_migration_state (
  schema_name text primary key,
  version integer not null,
  checksum_digest text not null,
  updated_at timestamptz not null default now()
)`;

export function selectStateStatement(schema: string): Statement {
  return { text: 'select version, checksum_digest from public.tenant_migration_state where schema_name = $1', values: [schema] };
}

/** The summary row's upsert, its values given as SQL (parameters, or literals in a script). */
function upsertStateSql(schema: string, version: string, digest: string): string {
  return `insert into public.tenant_migration_state as s (schema_name, version, checksum_digest, updated_at)
values (${schema}, ${version}, ${digest}, now())
on conflict (schema_name) do update
set version = excluded.version, checksum_digest = excluded.checksum_digest, updated_at = excluded.updated_at`;
}

/** Writes a tenant's summary row (same transaction as the migration it follows). */
export function upsertStateStatement(schema: string, version: number, digest: string): Statement {
  return { text: upsertStateSql('$1', '$2', '$3'), values: [schema, version, digest] };
}

/** `upsertStateStatement` as script text, for the fleet's one-message scripts (simple protocol: no parameters). */
export function upsertStateScript(schema: string, version: number, digest: string): string {
  return upsertStateSql(inlineLiteral(schema), String(Math.trunc(version)), inlineLiteral(digest));
}

type Applied = { version: number; name: string; checksum: string };

/** The tracking row's INSERT, its values given as SQL (parameters, or literals in a script). */
function insertAppliedSql(schema: string, version: string, name: string, checksum: string, duration: string): string {
  return `insert into ${quoteIdentifier(schema)}.schema_migrations (version, name, checksum, duration_ms)
values (${version}, ${name}, ${checksum}, ${duration})`;
}

/**
 * Records a migration. Without `durationMs`, the duration is measured in the server from the
 * `cgk.migration_started` setting (`START_CLOCK`, same transaction); with it (a no-transaction file, timed in
 * the client), that value is stored.
 */
export function insertAppliedStatement(schema: string, migration: Applied, durationMs?: number): Statement {
  const duration =
    durationMs === undefined
      ? "((extract(epoch from clock_timestamp()) - current_setting('cgk.migration_started')::numeric) * 1000)::integer"
      : '$4::integer';
  const values: unknown[] = [migration.version, migration.name, migration.checksum];
  if (durationMs !== undefined) values.push(Math.round(durationMs));
  return { text: `${insertAppliedSql(schema, '$1', '$2', '$3', duration)} returning duration_ms`, values };
}

/**
 * `insertAppliedStatement` as script text, for the fleet's one-message scripts. `statement_timestamp()` is
 * when the script arrived: the duration includes the lock and the guard before the file (microseconds).
 */
export function insertAppliedScript(schema: string, migration: Applied): string {
  const duration = '(extract(epoch from clock_timestamp() - statement_timestamp()) * 1000)::integer';
  const { name, checksum } = migration;
  return insertAppliedSql(schema, String(Math.trunc(migration.version)), inlineLiteral(name), inlineLiteral(checksum), duration);
}

/** Starts the server-side clock for `insertAppliedStatement`. */
export const START_CLOCK: Statement = {
  text: "select set_config('cgk.migration_started', extract(epoch from clock_timestamp())::text, true)",
};

/** `START_CLOCK` that also sets `synchronous_commit = off` for the transaction (see `RunTarget.asyncCommit`). */
export const START_CLOCK_ASYNC_COMMIT: Statement = {
  text: `select set_config('cgk.migration_started', extract(epoch from clock_timestamp())::text, true),
  set_config('synchronous_commit', 'off', true)`,
};

const stateTableReady = new WeakSet<Driver>();

/**
 * Makes sure `public.tenant_migration_state` exists: one short transaction under the lock of `public` (so two
 * runners never race on CREATE), skipped after the first success for this driver.
 */
export async function ensureStateTable(driver: Driver): Promise<void> {
  if (stateTableReady.has(driver)) return;
  const { tx, results } = await beginLocked(driver, 'public', [{ text: CREATE_STATE_TABLE_SQL }]);
  const failure = results.find((r): r is Extract<Settled, { ok: false }> => !r.ok);
  if (failure) {
    await tx.rollback();
    throw failure.error;
  }
  await tx.commit();
  stateTableReady.add(driver);
}
