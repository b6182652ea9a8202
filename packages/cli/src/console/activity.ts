import type { TenantStatsSnapshot } from '@cgk/db';

/** Readings kept: an hour at one a minute, and the one before it (a rate needs two). */
const KEEP = 61;

/**
 * Takes a snapshot of every tenant schema's size and activity at a fixed interval while the console runs: the
 * tenants pages sort and show from the latest one (so a page reads no catalog), and the readings' totals give
 * rows touched per minute over the last hour. A failed reading is skipped (the next one is tried); a total that
 * went down (statistics reset) starts the series again.
 */
export class ActivitySampler {
  #readings: { at: Date; rows: number }[] = [];
  #latest: TenantStatsSnapshot | undefined;
  #first: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly read: () => Promise<TenantStatsSnapshot>,
    private readonly intervalMs = 60_000,
  ) {}

  /** Takes a first snapshot now, then one per interval; the timer never keeps the process alive. */
  start(): void {
    this.#first = this.sample();
    this.#timer = setInterval(() => void this.sample(), this.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async sample(): Promise<void> {
    try {
      const snapshot = await this.read();
      const last = this.#readings[this.#readings.length - 1];
      if (last && snapshot.rows < last.rows) this.#readings = [];
      this.#readings.push({ at: snapshot.at, rows: snapshot.rows });
      if (this.#readings.length > KEEP) this.#readings.shift();
      this.#latest = snapshot;
    } catch {
      // The database may be briefly unreachable; the chart shows a gap rather than stopping the console.
    }
  }

  /** The latest snapshot, waiting for the first one if it is still being taken; undefined if it failed. */
  async latest(): Promise<TenantStatsSnapshot | undefined> {
    if (!this.#latest) await this.#first;
    return this.#latest;
  }

  /** Rows touched per minute between consecutive readings, stamped at the later reading. */
  perMinute(): { at: Date; value: number }[] {
    return this.#readings.slice(1).map((reading, i) => {
      const before = this.#readings[i]!;
      const minutes = Math.max(1e-3, (reading.at.getTime() - before.at.getTime()) / 60_000);
      return { at: reading.at, value: (reading.rows - before.rows) / minutes };
    });
  }
}
