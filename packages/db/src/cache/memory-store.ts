import { processShared } from '../process/shared.js';
import type { CacheStore } from './store.js';

interface Entry {
  value: string;
  /** `Date.now()` after which the entry is gone; Infinity for none. */
  expiresAt: number;
}

/** Entries examined for expiry on each write, so expired keys that nobody reads do not pile up. */
const EXPIRY_CHECKS_PER_WRITE = 4;

/**
 * The in-process store used when `REDIS_URL` is not set: a Map of JSON text, with the same semantics as Redis
 * for what the tenant cache uses (TTL, replace-on-set, prefix delete). Expired entries vanish on read and are
 * swept a few at a time on each write, like Redis' own active expiry. Not shared between processes; unbounded.
 */
export class MemoryStore implements CacheStore {
  readonly target = 'memory';
  readonly #entries = new Map<string, Entry>();
  /** A live iterator over the entries, resumed by each write's sweep. */
  #sweep: Iterator<[string, Entry]> | undefined;

  async get(key: string): Promise<string | null> {
    return this.#live(key)?.value ?? null;
  }

  async set(key: string, value: string, ttlMs: number | undefined): Promise<void> {
    this.#entries.set(key, { value, expiresAt: ttlMs === undefined ? Infinity : Date.now() + ttlMs });
    this.#sweepSome();
  }

  async delete(key: string): Promise<boolean> {
    const found = this.#live(key) !== undefined;
    this.#entries.delete(key);
    return found;
  }

  async deletePrefix(prefix: string): Promise<number> {
    const now = Date.now();
    let removed = 0;
    // Deleting the entry being visited is safe for a Map iterator.
    for (const [key, entry] of this.#entries) {
      if (!key.startsWith(prefix)) continue;
      if (entry.expiresAt > now) removed++;
      this.#entries.delete(key);
    }
    return removed;
  }

  async countPrefix(prefix: string): Promise<number> {
    const now = Date.now();
    let found = 0;
    for (const [key, entry] of this.#entries) if (key.startsWith(prefix) && entry.expiresAt > now) found++;
    return found;
  }

  /** Milliseconds before `key` expires, -1 without expiry, -2 when absent: the same answers as Redis' PTTL. */
  pttl(key: string): number {
    const entry = this.#live(key);
    if (!entry) return -2;
    return entry.expiresAt === Infinity ? -1 : entry.expiresAt - Date.now();
  }

  /** The live keys, for tests and debugging. */
  keys(): string[] {
    const now = Date.now();
    return [...this.#entries].filter(([, entry]) => entry.expiresAt > now).map(([key]) => key);
  }

  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > Date.now()) return entry;
    this.#entries.delete(key);
    return undefined;
  }

  #sweepSome(): void {
    const now = Date.now();
    for (let checked = 0; checked < EXPIRY_CHECKS_PER_WRITE; checked++) {
      this.#sweep ??= this.#entries.entries();
      const next = this.#sweep.next();
      if (next.done) {
        this.#sweep = undefined;
        return;
      }
      const [key, entry] = next.value;
      if (entry.expiresAt <= now) this.#entries.delete(key);
    }
  }
}

/** The one in-process store every fallback tenant cache of this process shares, whichever bundled copy made it. */
export function processMemoryStore(): MemoryStore {
  return processShared('memory-cache-store', () => new MemoryStore());
}
