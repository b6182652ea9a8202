/**
 * A bounded queue between a run's workers and its consumer: a worker waits when `capacity` results are
 * waiting to be taken, so a slow consumer (a terminal, a pipe) holds the run back instead of letting its
 * results pile up in memory.
 */
export class Channel<T> {
  #items: T[] = [];
  #closed = false;
  #takers: Array<(item: IteratorResult<T, undefined>) => void> = [];
  #givers: Array<() => void> = [];

  constructor(private readonly capacity: number) {}

  /** Adds an item; resolves once there is room (at once when the channel is closed: the item is dropped). */
  async push(item: T): Promise<void> {
    if (this.#closed) return;
    const taker = this.#takers.shift();
    if (taker) {
      taker({ value: item, done: false });
      return;
    }
    this.#items.push(item);
    while (this.#items.length > this.capacity && !this.#closed) await new Promise<void>((resolve) => this.#givers.push(resolve));
  }

  /** The next item, or done once the channel is closed and empty. */
  take(): Promise<IteratorResult<T, undefined>> {
    if (this.#items.length > 0) {
      const value = this.#items.shift() as T;
      this.#givers.shift()?.();
      return Promise.resolve({ value, done: false });
    }
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.#takers.push(resolve));
  }

  /** No more items: waiting takers get done, waiting givers go on (their items are kept if there is room). */
  close(): void {
    this.#closed = true;
    for (const taker of this.#takers.splice(0)) taker({ value: undefined, done: true });
    for (const giver of this.#givers.splice(0)) giver();
  }
}
