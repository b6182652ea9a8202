import type { Driver } from '../drivers/types.js';

/**
 * The per-tenant writes of a run, batched: many tenants' records go out as one statement (`unnest` of
 * arrays), at most one statement in flight, so a run over 10,000 tenants sends a few hundred small writes
 * instead of 20,000 and keeps a bounded queue. Written with `synchronous_commit = off`: the tenant
 * transaction that follows an intent (or the run's closing update) is a synchronous commit later in the WAL,
 * which makes every earlier record durable with it.
 */

/** A tenant's outcome as recorded. */
export interface TenantRecord {
  slug: string;
  ok: boolean;
  errorCode?: string;
  errorMessage?: string;
  durationMs: number;
}

/** Settled outcomes are written at least this often (and whenever this many are waiting). */
const SETTLE_EVERY_MS = 200;
const SETTLE_BATCH = 500;

const ASYNC_COMMIT = "(select set_config('synchronous_commit', 'off', true)) as async_commit";

export class RunRecorder {
  #intents: Array<{ slug: string; xid: string; done: (error?: unknown) => void }> = [];
  #intentFlush: Promise<void> | undefined;
  #settled: TenantRecord[] = [];
  #settleFlush: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The first failed write: the run stops taking tenants, and the error is the run's. */
  failure: unknown;

  constructor(
    private readonly driver: Driver,
    readonly runId: string,
  ) {}

  /**
   * Records that `slug`'s transaction `xid` is about to commit; resolves once that is written. Called inside
   * the tenant's transaction, before its COMMIT: a process killed after the COMMIT leaves this record, and
   * `pg_xact_status(xid)` then says the tenant succeeded.
   */
  intend(slug: string, xid: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#intents.push({ slug, xid, done: (error) => (error === undefined ? resolve() : reject(error)) });
      this.#intentFlush ??= this.#flushIntents();
    });
  }

  async #flushIntents(): Promise<void> {
    while (this.#intents.length > 0) {
      const batch = this.#intents.splice(0);
      try {
        await this.driver.query({
          text: `insert into public.fleet_run_tenants (run_id, slug, status, xid)
select $1::uuid, u.slug, 'started', u.xid::xid8 from unnest($2::text[], $3::text[]) as u(slug, xid), ${ASYNC_COMMIT}
on conflict (run_id, slug) do update set status = 'started', xid = excluded.xid, error_code = null,
  error_message = null, updated_at = now()`,
          values: [this.runId, batch.map((b) => b.slug), batch.map((b) => b.xid)],
        });
        for (const b of batch) b.done();
      } catch (error) {
        this.failure ??= error;
        for (const b of batch) b.done(error);
      }
    }
    this.#intentFlush = undefined;
  }

  /** Queues a tenant's outcome; written within `SETTLE_EVERY_MS` (or `flush()`). */
  settle(record: TenantRecord): void {
    this.#settled.push(record);
    if (this.#settled.length >= SETTLE_BATCH) this.#startSettleFlush();
    else this.#timer ??= setTimeout(() => this.#startSettleFlush(), SETTLE_EVERY_MS);
  }

  #startSettleFlush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#settleFlush ??= this.#flushSettled();
  }

  async #flushSettled(): Promise<void> {
    while (this.#settled.length > 0) {
      const batch = this.#settled.splice(0, SETTLE_BATCH);
      try {
        await this.driver.query({
          text: `insert into public.fleet_run_tenants (run_id, slug, status, error_code, error_message, duration_ms)
select $1::uuid, u.slug, case when u.ok then 'succeeded' else 'failed' end, u.code, u.message, u.ms
from unnest($2::text[], $3::boolean[], $4::text[], $5::text[], $6::int[]) as u(slug, ok, code, message, ms), ${ASYNC_COMMIT}
on conflict (run_id, slug) do update set status = excluded.status, error_code = excluded.error_code,
  error_message = excluded.error_message, duration_ms = excluded.duration_ms, updated_at = now()`,
          values: [
            this.runId,
            batch.map((r) => r.slug),
            batch.map((r) => r.ok),
            batch.map((r) => r.errorCode ?? null),
            batch.map((r) => r.errorMessage ?? null),
            batch.map((r) => Math.round(r.durationMs)),
          ],
        });
      } catch (error) {
        this.failure ??= error;
      }
    }
    this.#settleFlush = undefined;
  }

  /** Writes everything queued; rejects with the first write that failed. */
  async flush(): Promise<void> {
    this.#startSettleFlush();
    await this.#intentFlush;
    await this.#settleFlush;
    if (this.failure !== undefined) throw this.failure;
  }
}
