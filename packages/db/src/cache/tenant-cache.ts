import { CacheError } from '../errors/index.js';
import type { CacheStore } from './store.js';
import { processShared } from '../process/shared.js';

/**
 * A cache bound to one tenant: every key lives under `cgk:{slug}:` in its store, so a tenant can never read,
 * overwrite or clear another tenant's entries.
 *
 * Values are JSON: what `get` returns is `JSON.parse(JSON.stringify(value))`. Dates come back as ISO strings,
 * `Map`/`Set` as `{}`, `NaN`/`Infinity` as `null`, object properties holding `undefined` or a function vanish
 * (array items become `null`), `toJSON()` is honoured. `undefined`, functions, symbols, bigints and cycles
 * cannot be stored: `set` throws `CacheError` (reason `value`); store `null` to cache "nothing".
 */
export interface TenantCache {
  /** The tenant's slug (validated). */
  readonly slug: string;
  /** `cgk:{slug}:`: the namespace every key of this cache is stored under. */
  readonly prefix: string;
  /** Where the entries live: `redis://host:port/db` (no password) or `memory`. */
  readonly target: string;

  /**
   * The value stored at `key`, or `undefined` on a miss (absent or expired). A stored `null` is a hit and
   * returns `null`. `T` is not checked: it is what the caller says was stored (after the JSON round trip).
   *
   * @example
   * const product = await cache.get<Product>(`product:${id}`);
   * if (product === undefined) { ... }
   */
  get<T = unknown>(key: string): Promise<T | undefined>;

  /**
   * Stores `value` (as JSON) at `key`, replacing any earlier value and its TTL. With `ttlSeconds` (a positive
   * number; fractions allowed, millisecond precision) the entry expires after that long, otherwise never.
   *
   * @example
   * await cache.set('settings', { currency: 'EUR' }, 300);
   */
  set(key: string, value: unknown, ttlSeconds?: number): Promise<void>;

  /** Removes `key`; true when there was a live entry. */
  delete(key: string): Promise<boolean>;

  /**
   * The value at `key`; on a miss, calls `loader`, stores its result (with `ttlSeconds`) and returns it as a
   * later `get` would (after the JSON round trip). Single-flight within the process: concurrent calls for the
   * same tenant and key share one lookup and one `loader` call (the first caller's `ttlSeconds` wins); each
   * caller gets its own copy. A loader that throws stores nothing, and every waiting caller gets its error.
   * A loader result of `undefined` is refused like in `set`: return `null` to cache "nothing".
   *
   * @example
   * const menu = await cache.getOrSet('menu', () => sql`select * from menu_items`.then((r) => r.rows), 60);
   */
  getOrSet<T>(key: string, loader: () => T | Promise<T>, ttlSeconds?: number): Promise<T>;

  /**
   * Removes every entry of this tenant, and nothing else: on Redis by SCAN over the (escaped) prefix in batches
   * and UNLINK, never KEYS or FLUSHDB, so a large keyspace does not block Redis. Returns how many were removed.
   * An entry written while `clear()` runs (including by a `getOrSet` loader that was already running) may survive.
   */
  clear(): Promise<number>;

  /** How many live entries this tenant has (SCAN over its prefix on Redis, never KEYS): for operators' views. */
  count(): Promise<number>;
}

/** Single-flight lookups in progress, per store, by full key: one map shared by every cache on a store. */
const flightsByStore = processShared('cache-flights', () => new WeakMap<CacheStore, Map<string, Promise<string>>>());

/** Lone UTF-16 surrogates: Redis would store them as U+FFFD, so two different keys would collide. */
const LONE_SURROGATE = /\p{Cs}/u;

/** A tenant cache on `store`. `slug` must already be valid: `createTenantCache()` checks it, before it resolves a store. */
export function bindTenantCache(slug: string, store: CacheStore): TenantCache {
  return new BoundTenantCache(slug, store);
}

class BoundTenantCache implements TenantCache {
  readonly slug: string;
  readonly prefix: string;
  readonly #store: CacheStore;
  readonly #flights: Map<string, Promise<string>>;

  constructor(slug: string, store: CacheStore) {
    this.slug = slug;
    // Slugs are [a-z][a-z0-9_]*, never ':', so no tenant's prefix is a prefix of another's.
    this.prefix = `cgk:${slug}:`;
    this.#store = store;
    let flights = flightsByStore.get(store);
    if (!flights) flightsByStore.set(store, (flights = new Map()));
    this.#flights = flights;
  }

  get target(): string {
    return this.#store.target;
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    const text = await this.#store.get(this.#key(key));
    return text === null ? undefined : decode<T>(text, key);
  }

  async set(key: string, value: unknown, ttlSeconds?: number): Promise<void> {
    const full = this.#key(key);
    const ttlMs = toTtlMs(ttlSeconds);
    await this.#store.set(full, encode(value, key), ttlMs);
  }

  async delete(key: string): Promise<boolean> {
    return this.#store.delete(this.#key(key));
  }

  async getOrSet<T>(key: string, loader: () => T | Promise<T>, ttlSeconds?: number): Promise<T> {
    const full = this.#key(key);
    const ttlMs = toTtlMs(ttlSeconds);
    if (typeof loader !== 'function') throw new CacheError('usage', `getOrSet("${key}") needs a loader function`);
    const flights = this.#flights;
    let flight = flights.get(full);
    if (!flight) {
      const store = this.#store;
      // Runs synchronously up to its first await, so it is in the map before anyone else can look.
      let own: Promise<string> | undefined;
      own = (async () => {
        try {
          const cached = await store.get(full);
          if (cached !== null) return cached;
          const text = encode(await loader(), key);
          await store.set(full, text, ttlMs);
          return text;
        } finally {
          if (flights.get(full) === own) flights.delete(full);
        }
      })();
      flights.set(full, (flight = own));
    }
    return decode<T>(await flight, key);
  }

  async clear(): Promise<number> {
    return this.#store.deletePrefix(this.prefix);
  }

  count(): Promise<number> {
    return this.#store.countPrefix(this.prefix);
  }

  /** The stored key: the prefix, then the caller's key verbatim (glob characters and colons included). */
  #key(key: string): string {
    if (typeof key !== 'string')
      throw new CacheError('usage', `A cache key must be a string, not ${key === null ? 'null' : typeof key}`);
    if (LONE_SURROGATE.test(key))
      throw new CacheError('usage', 'A cache key must be well-formed Unicode (it holds a lone surrogate)');
    return this.prefix + key;
  }
}

function toTtlMs(ttlSeconds: number | undefined): number | undefined {
  if (ttlSeconds === undefined) return undefined;
  if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new CacheError('usage', `ttlSeconds must be a positive number of seconds, not ${String(ttlSeconds)}`, {
      hint: 'Leave it out for an entry that never expires.',
    });
  }
  return Math.max(1, Math.round(ttlSeconds * 1000));
}

function encode(value: unknown, key: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    const bigint = error instanceof TypeError && /bigint/i.test(error.message);
    throw new CacheError('value', `Cannot cache the value of "${key}" as JSON: ${(error as Error).message}`, {
      hint: bigint
        ? 'Convert bigints to strings (or numbers) before caching them.'
        : 'Cache plain data: objects, arrays, strings, numbers, booleans, null.',
      cause: error,
    });
  }
  if (text === undefined) {
    throw new CacheError('value', `Cannot cache ${typeof value} as the value of "${key}": JSON has no representation for it`, {
      hint:
        value === undefined
          ? 'Store null to cache "nothing"; a miss is reported as undefined.'
          : 'Cache plain data: objects, arrays, strings, numbers, booleans, null.',
    });
  }
  return text;
}

function decode<T>(text: string, key: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new CacheError('value', `The cached value of "${key}" is not JSON (was it written by something else?)`, {
      hint: 'Delete the key, or clear() the tenant cache.',
      cause: error,
    });
  }
}
