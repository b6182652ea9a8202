/**
 * Migration waves: which tenants a fleet run may still start. `canary` N: the first N tenants go first; the
 * rest waits until they have finished, and is not started at all when any of them failed. `maxFailures` N:
 * no tenant is started after the Nth failure. Tenants already running finish either way; the ones never
 * started are untouched (nothing is sent to them).
 */

/** Why a run stopped before its last tenant. */
export type FleetStop = 'canary' | 'max-failures';

/** The options that shape a run into waves. */
export interface WaveOptions {
  canary?: number;
  maxFailures?: number;
}

/** Counts finished tenants and gates the task stream; `finished` is called after each tenant. */
export class Waves {
  #finished = 0;
  #failures = 0;
  #canaryDone: Promise<void>;
  #releaseCanary: () => void = () => {};
  stopped: FleetStop | undefined;

  constructor(private readonly options: WaveOptions) {
    this.#canaryDone = new Promise((resolve) => {
      this.#releaseCanary = resolve;
    });
    if (!options.canary) this.#releaseCanary();
  }

  /** Records one finished tenant. */
  finished(result: { status: string }): void {
    this.#finished++;
    if (result.status === 'Error') this.#failures++;
    const { canary, maxFailures } = this.options;
    if (maxFailures !== undefined && this.#failures >= maxFailures && this.stopped === undefined) this.stopped = 'max-failures';
    if (canary && this.#finished >= canary) this.#releaseCanary();
  }

  /** The tasks, as far as the waves allow: a canary's first N, then (if they all succeeded) the rest. */
  async *gate<T>(tasks: AsyncGenerator<T>): AsyncGenerator<T> {
    let started = 0;
    for await (const task of tasks) {
      if (this.options.canary && started === this.options.canary) {
        await this.#canaryDone;
        if (this.#failures > 0 && this.stopped === undefined) this.stopped = 'canary';
      }
      if (this.stopped !== undefined) return;
      started++;
      yield task;
    }
  }
}
