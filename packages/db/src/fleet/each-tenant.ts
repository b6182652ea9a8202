import { getDatabase } from '../database/database.js';
import type { Driver, Session } from '../drivers/types.js';
import { Channel } from './channel.js';
import { FleetRunError } from './errors.js';
import { createRun, finishRun, lockRun, readRun, reopenRun, resolveInDoubt, unlockRun } from './records.js';
import { RunRecorder } from './recorder.js';
import { countSelected, normalizeSelection, selectedTenants, type SelectedTenant } from './select.js';
import { runTenant, type TaskContext } from './task.js';
import type { FleetRunInfo, FleetSelection, ForEachTenantOptions, TenantResult, TenantTask } from './types.js';

/** The run itself: selection, records, lock, workers. Public entry points: forEachTenant, fleetTenants. */

/** A run, opened: what the workers and the closing need. */
interface OpenRun {
  driver: Driver;
  selection: FleetSelection;
  info: FleetRunInfo;
  recorder: RunRecorder | undefined;
  lock: Session | undefined;
}

/**
 * Runs `fn` in every selected tenant's scope, `concurrency` tenants at a time, and yields each tenant's
 * result as it finishes (in completion order). A failing tenant is a result (`ok: false`, a typed `error`),
 * never an exception: the others go on. Tenants are streamed in keyset pages and results wait in a bounded
 * queue for the consumer, so memory stays flat whatever the number of tenants.
 *
 * The run is recorded in `public.fleet_runs` (its id in `onStart`); `resume: id` runs only the tenants that
 * did not succeed in that run. A tenant whose transaction wrote anything is recorded with its transaction id
 * before it commits, so a process killed at any point is resumed without running any tenant twice.
 * Throws (before any tenant runs) `InvalidSlugError` for a bad slug and `FleetRunError` for a run that
 * cannot start or be resumed; breaking out of the loop stops the run after the tenants in flight.
 *
 * @example
 * for await (const r of forEachTenant((sql) => sql`update orders set note = null where note = ''`, { status: 'active' })) {
 *   console.log(r.slug, r.ok ? r.value?.rowCount : r.error?.code);
 * }
 */
export async function* forEachTenant<T>(
  fn: TenantTask<T>,
  options: ForEachTenantOptions = {},
): AsyncGenerator<TenantResult<T>, void, undefined> {
  const db = options.db ?? getDatabase();
  const run = await openRun(options);
  const ctx: TaskContext<T> = {
    db,
    driver: run.driver,
    fn,
    transaction: options.transaction !== false,
    recorder: run.recorder,
    atomic: run.info.recording === 'atomic',
  };
  let stopped = true;
  const channel = new Channel<TenantResult<T>>(run.info.concurrency * 2);
  const tenants = selectedTenants(run.driver, run.selection, pageSize(options), run.info.resumed ? run.info.id : undefined);
  let workers: ReturnType<typeof startWorkers> | undefined;
  let failure: unknown;
  try {
    options.onStart?.(run.info);
    workers = startWorkers(ctx, tenants, channel, run.info.concurrency);
    for (let next = await channel.take(); !next.done; next = await channel.take()) yield next.value;
    stopped = false;
  } finally {
    workers?.stop();
    failure = await workers?.done;
    await closeRun(run, stopped || failure !== undefined);
  }
  // A page that could not be read or a record that could not be written ends the run with that error.
  if (failure !== undefined) throw failure;
}

/**
 * The tenants a run would cover, in slug order, without running anything (a dry run): with `resume`, those
 * that have not succeeded in that run. Streamed in keyset pages.
 */
export async function* fleetTenants(
  options: Pick<ForEachTenantOptions, 'db' | 'tenants' | 'status' | 'source' | 'resume' | 'pageSize'> = {},
): AsyncGenerator<{ slug: string; schema: string; found: boolean }, void, undefined> {
  const driver = await (options.db ?? getDatabase()).driver();
  const selection = options.resume ? (await readRun(driver, options.resume)).selection : normalizeSelection(options);
  if (options.resume) refuseSelection(options);
  for await (const t of selectedTenants(driver, selection, pageSize(options), options.resume)) {
    yield { slug: t.slug, schema: t.schema ?? `tenant_${t.slug}`, found: t.schema !== null };
  }
}

function pageSize(options: ForEachTenantOptions): number {
  return Math.max(1, Math.floor(options.pageSize ?? 500));
}

function refuseSelection(options: FleetSelection): void {
  if (options.tenants !== undefined || options.status !== undefined || options.source !== undefined) {
    throw new FleetRunError('A resumed run keeps the selection it was started with', {
      hint: 'Leave out the tenant selection (tenants, status, source) when resuming.',
    });
  }
}

/**
 * Counts the tenants, records (or reopens) the run and takes its lock. The concurrency is bounded by the
 * pool: one connection per tenant in flight, one for the lock, one for the records.
 */
async function openRun(options: ForEachTenantOptions): Promise<OpenRun> {
  const db = options.db ?? getDatabase();
  const driver = await db.driver();
  const record = options.record !== false || options.resume !== undefined;
  const pool = driver.maxConnections ?? Number.POSITIVE_INFINITY;
  const transaction = options.transaction !== false;
  // A real pool (3 connections or more) has room for the run's lock; the embedded database has one connection.
  const locked = record && pool >= 3;
  const atomic = locked && transaction;
  const reserved = !record ? 0 : locked ? 2 : 1;
  const concurrency = Math.max(1, Math.min(Math.floor(options.concurrency ?? 4), pool - reserved));
  const recording = !record ? 'none' : atomic ? 'atomic' : 'after-commit';
  if (options.resume !== undefined) return resumeRun(driver, options, { concurrency, recording, locked });
  const selection = normalizeSelection(options);
  const total = await countSelected(driver, selection);
  if (!record) {
    const info: FleetRunInfo = { id: undefined, resumed: false, total, concurrency, recording };
    return { driver, selection, info, recorder: undefined, lock: undefined };
  }
  const id = await createRun(driver, {
    label: options.label ?? 'forEachTenant',
    digest: options.digest,
    selection,
    transaction,
    total,
  });
  const lock = locked ? await lockRun(driver, id) : undefined;
  const info: FleetRunInfo = { id, resumed: false, total, concurrency, recording };
  return { driver, selection, info, recorder: new RunRecorder(driver, id), lock };
}

/** Reopens a recorded run: same work (digest), its recorded selection, the tenants in doubt settled first. */
async function resumeRun(
  driver: Driver,
  options: ForEachTenantOptions,
  bound: { concurrency: number; recording: FleetRunInfo['recording']; locked: boolean },
): Promise<OpenRun> {
  const id = options.resume!;
  refuseSelection(options);
  const recorded = await readRun(driver, id);
  if (recorded.digest !== null && options.digest !== undefined && recorded.digest !== options.digest) {
    throw new FleetRunError(`Run ${id} ran other work (${recorded.label})`, {
      hint: 'Resume with the same SQL, file or module the run was started with.',
    });
  }
  const lock = bound.locked ? await lockRun(driver, id) : undefined;
  try {
    await settleInDoubt(driver, id);
    const total = await countSelected(driver, recorded.selection, id);
    await reopenRun(driver, id, total);
    const info: FleetRunInfo = { id, resumed: true, total, concurrency: bound.concurrency, recording: bound.recording };
    return { driver, selection: recorded.selection, info, recorder: new RunRecorder(driver, id), lock };
  } catch (error) {
    if (lock) await unlockRun(lock, id);
    throw error;
  }
}

/** Waits (up to 5 s) for the transactions a killed process left open to end, and settles them. */
async function settleInDoubt(driver: Driver, id: string): Promise<void> {
  const until = Date.now() + 5000;
  while ((await resolveInDoubt(driver, id)) > 0) {
    if (Date.now() > until) {
      throw new FleetRunError(`Run ${id} still has tenant transactions in progress`, {
        hint: 'Another process is still running it: wait for it to end, then resume.',
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Writes the last records, closes the run and gives its lock back. */
async function closeRun(run: OpenRun, stopped: boolean): Promise<void> {
  const id = run.info.id;
  try {
    if (run.recorder && id !== undefined) {
      await run.recorder.flush();
      await finishRun(run.driver, id, stopped ? 'stopped' : 'finished');
    }
  } finally {
    if (run.lock && id !== undefined) await unlockRun(run.lock, id);
  }
}

/**
 * `concurrency` workers taking tenants from the stream; each result goes into the channel, which is closed
 * when all have stopped. `done` resolves then, to the error that stopped the stream (a page that could not be
 * read, a record that could not be written), if any. `stop()`: no new tenant is taken.
 */
function startWorkers<T>(
  ctx: TaskContext<T>,
  tenants: AsyncGenerator<SelectedTenant>,
  channel: Channel<TenantResult<T>>,
  concurrency: number,
): { done: Promise<unknown>; stop(): void } {
  let failure: { error: unknown } | undefined;
  let stopped = false;
  const next = async (): Promise<SelectedTenant | undefined> => {
    if (failure || stopped || ctx.recorder?.failure !== undefined) return undefined;
    try {
      const item = await tenants.next();
      return item.done ? undefined : item.value;
    } catch (error) {
      failure = { error };
      return undefined;
    }
  };
  const worker = async () => {
    for (let tenant = await next(); tenant !== undefined; tenant = await next()) await channel.push(await runTenant(ctx, tenant));
  };
  const done = Promise.all(Array.from({ length: concurrency }, worker)).then(() => {
    channel.close();
    return failure?.error ?? ctx.recorder?.failure;
  });
  return {
    done,
    stop: () => {
      stopped = true;
      channel.close();
    },
  };
}
