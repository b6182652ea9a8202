/**
 * Durations kept as counts in logarithmic buckets: recording is one array increment, memory is fixed (a few
 * hundred bytes per tenant at any traffic), and a percentile is read back within one bucket's width (~9%).
 */

/** Buckets per doubling: each bucket spans a factor of 2^(1/8) ≈ 1.09. */
const PER_DOUBLING = 8;
/** The smallest duration told apart: 10 µs (everything faster lands in bucket 0). */
const FLOOR_MS = 0.01;
/** 10 µs .. ~11 hours. */
const BUCKETS = PER_DOUBLING * 32;

/** A fixed-size histogram of durations in milliseconds, with their count, sum and maximum. */
export class DurationHistogram {
  readonly #counts = new Uint32Array(BUCKETS);
  count = 0;
  totalMs = 0;
  maxMs = 0;

  /** Adds one duration. */
  record(ms: number): void {
    const value = Math.max(ms, 0);
    const index = value <= FLOOR_MS ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log2(value / FLOOR_MS) * PER_DOUBLING));
    this.#counts[index]!++;
    this.count++;
    this.totalMs += value;
    if (value > this.maxMs) this.maxMs = value;
  }

  /**
   * The duration at or below which `p` percent of the recorded ones lie (the upper edge of that bucket, capped
   * at the largest recorded), or 0 when nothing was recorded.
   */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(this.maxMs, FLOOR_MS * 2 ** ((i + 1) / PER_DOUBLING));
    }
    return this.maxMs;
  }
}
