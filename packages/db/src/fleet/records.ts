import { getDatabase, type Database } from '../database/database.js';
import type { Driver, Session } from '../drivers/types.js';
import { QueryError } from '../errors/index.js';
import { FleetRunError } from './errors.js';
import type { FleetSelection } from './types.js';

/**
 * A run's records in `public.fleet_runs` / `public.fleet_run_tenants` (public migration 007): creating,
 * reading and closing a run, the lock that keeps one process on a run, and resolving the tenants a killed
 * run left in doubt. The per-tenant writes are in recorder.ts.
 */

/** A run as recorded. */
export interface FleetRunRecord {
  id: string;
  label: string;
  digest: string | null;
  selection: FleetSelection;
  transaction: boolean;
  status: 'running' | 'finished' | 'stopped';
  total: number;
  succeeded: number;
  failed: number;
  /** When the run started (`created_at`). */
  startedAt: Date;
  finishedAt: Date | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A missing records table is a database that lacks public migration 007: say what to run. */
function recordsError(error: unknown): unknown {
  if (error instanceof QueryError && error.sqlState === '42P01') {
    return new FleetRunError('The run records table public.fleet_runs does not exist', {
      hint: 'Apply the public migrations: npx @cgk/cli migrate (or setup:database).',
      cause: error,
    });
  }
  return error;
}

/** Records a new run; resolves to its id. */
export async function createRun(
  driver: Driver,
  run: { label: string; digest: string | undefined; selection: FleetSelection; transaction: boolean; total: number },
): Promise<string> {
  const { rows } = await driver
    .query({
      text: `insert into public.fleet_runs (label, digest, selection, in_transaction, total)
values ($1, $2, $3::jsonb, $4, $5) returning id::text as id`,
      values: [run.label, run.digest ?? null, JSON.stringify(run.selection), run.transaction, run.total],
    })
    .catch((error: unknown) => {
      throw recordsError(error);
    });
  return String(rows[0]?.id);
}

/** Reads a run; an id that names no run throws `FleetRunError`. */
export async function readRun(driver: Driver, id: string): Promise<FleetRunRecord> {
  if (!UUID.test(id)) throw new FleetRunError(`"${id.slice(0, 60)}" is not a run id`, { hint: 'A run id is a UUID.' });
  const { rows } = await driver
    .query({
      text: `select id::text as id, label, digest, selection, in_transaction, status, total, succeeded, failed,
  created_at, finished_at from public.fleet_runs where id = $1::uuid`,
      values: [id],
    })
    .catch((error: unknown) => {
      throw recordsError(error);
    });
  const row = rows[0];
  if (!row) throw new FleetRunError(`No run ${id}`, { hint: 'The run id is printed when a run starts (and in --json).' });
  return {
    id: String(row.id),
    label: String(row.label),
    digest: row.digest == null ? null : String(row.digest),
    selection: row.selection as FleetSelection,
    transaction: row.in_transaction === true,
    status: row.status as FleetRunRecord['status'],
    total: Number(row.total),
    succeeded: Number(row.succeeded),
    failed: Number(row.failed),
    startedAt: row.created_at as Date,
    finishedAt: (row.finished_at as Date | null) ?? null,
  };
}

/** A run's record (`public.fleet_runs`); throws `FleetRunError` when there is no such run. */
export async function getFleetRun(id: string, options: { db?: Database } = {}): Promise<FleetRunRecord> {
  return readRun(await (options.db ?? getDatabase()).driver(), id);
}

/** Marks a resumed run running again, with the tenants it now has to do. */
export async function reopenRun(driver: Driver, id: string, remaining: number): Promise<void> {
  await driver.query({
    text: `update public.fleet_runs set status = 'running', finished_at = null, updated_at = now(),
  total = (select count(*)::int from public.fleet_run_tenants where run_id = $1::uuid and status = 'succeeded') + $2
where id = $1::uuid`,
    values: [id, remaining],
  });
}

/**
 * Closes a run: its counts from its tenants' records. A synchronous commit, so every record (and every
 * tenant transaction) committed before it is durable.
 */
export async function finishRun(driver: Driver, id: string, status: 'finished' | 'stopped'): Promise<void> {
  await driver.query({
    text: `update public.fleet_runs r set status = $2, finished_at = now(), updated_at = now(),
  succeeded = c.succeeded, failed = c.failed
from (select count(*) filter (where status = 'succeeded')::int as succeeded,
             count(*) filter (where status <> 'succeeded')::int as failed
      from public.fleet_run_tenants where run_id = $1::uuid) c
where r.id = $1::uuid`,
    values: [id, status],
  });
}

/**
 * Settles the tenants a killed run left `started` (recorded with their transaction id just before COMMIT):
 * committed ones become `succeeded`, the others `failed`. Resolves to how many are still in progress (the
 * server has not yet noticed that their process died).
 */
export async function resolveInDoubt(driver: Driver, id: string): Promise<number> {
  const { rows } = await driver.query({
    text: `with doubt as (
  select slug, pg_xact_status(xid) as outcome from public.fleet_run_tenants
  where run_id = $1::uuid and status = 'started'
), settled as (
  update public.fleet_run_tenants r
  set status = case when d.outcome = 'committed' then 'succeeded' else 'failed' end,
      error_code = case when d.outcome = 'committed' then null else 'CGK_EXEC_RUN' end,
      error_message = case when d.outcome = 'committed' then null
                           else 'interrupted: the process running it ended before its transaction committed' end,
      updated_at = now()
  from doubt d
  where r.run_id = $1::uuid and r.slug = d.slug and d.outcome is distinct from 'in progress'
)
select count(*) filter (where outcome = 'in progress')::int as busy from doubt`,
    values: [id],
  });
  return Number(rows[0]?.busy ?? 0);
}

/** How long a resume waits for the previous process's connections to end (a process killed a moment ago). */
const LOCK_WAIT_MS = 5000;

/**
 * The run's lock: a session advisory lock held on a connection of its own for the whole run, so that two
 * processes never run (or resume) the same run at once. The lock of a killed process goes with its
 * connections; a resume started just after waits for that (up to 5 s), then refuses.
 */
export async function lockRun(driver: Driver, id: string): Promise<Session> {
  const session = await driver.acquire();
  const until = Date.now() + LOCK_WAIT_MS;
  try {
    for (;;) {
      const { rows } = await session.query({
        text: `select pg_try_advisory_lock(hashtextextended('cgk:fleet-run:' || $1, 0)) as locked`,
        values: [id],
      });
      if (rows[0]?.locked === true) return session;
      if (Date.now() > until) {
        throw new FleetRunError(`Run ${id} is being run by another process`, {
          hint: 'Wait for it to end (or stop it), then resume.',
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    session.release(true);
    throw error;
  }
}

/** Gives the run's lock back (closing its connection if that fails). */
export async function unlockRun(session: Session, id: string): Promise<void> {
  try {
    await session.query({ text: `select pg_advisory_unlock(hashtextextended('cgk:fleet-run:' || $1, 0))`, values: [id] });
    session.release();
  } catch {
    session.release(true);
  }
}
