import type { FleetActivitySample } from '@cgk/db';

/** Samples kept: an hour at one a minute, and the one before it (a rate needs two). */
const KEEP = 61;

/**
 * Reads the fleet's cumulative activity counters at a fixed interval while the console runs, and turns the
 * readings into rows touched per minute for the last hour. A failed reading is skipped (the next one is
 * tried); a counter that went down (statistics reset) starts the series again.
 */
export class ActivitySampler {
  #samples: FleetActivitySample[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly read: () => Promise<FleetActivitySample>,
    private readonly intervalMs = 60_000,
  ) {}

  /** Takes a first reading now, then one per interval; the timer never keeps the process alive. */
  start(): void {
    void this.sample();
    this.#timer = setInterval(() => void this.sample(), this.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async sample(): Promise<void> {
    try {
      const reading = await this.read();
      const last = this.#samples[this.#samples.length - 1];
      if (last && reading.rows < last.rows) this.#samples = [];
      this.#samples.push(reading);
      if (this.#samples.length > KEEP) this.#samples.shift();
    } catch {
      // The database may be briefly unreachable; the chart shows a gap rather than stopping the console.
    }
  }

  /** Rows touched per minute between consecutive readings, stamped at the later reading. */
  perMinute(): { at: Date; value: number }[] {
    return this.#samples.slice(1).map((sample, i) => {
      const before = this.#samples[i]!;
      const minutes = Math.max(1e-3, (sample.at.getTime() - before.at.getTime()) / 60_000);
      return { at: sample.at, value: (sample.rows - before.rows) / minutes };
    });
  }
}
