import { CacheError, ConfigError } from '../errors/index.js';
import { assertValidSlug } from '../sql/identifier.js';
import { currentTenant } from '../scope/context.js';
import { processMemoryStore } from './memory-store.js';
import { processShared } from '../process/shared.js';
import { RedisStore } from './redis-store.js';
import type { CacheStore, RedisClient } from './store.js';
import { bindTenantCache, type TenantCache } from './tenant-cache.js';

/**
 * The tenant cache: `createTenantCache(slug)` / `tenantCache()` give a cache whose keys live under
 * `cgk:{slug}:`. Layers: `cache/tenant-cache.ts` (namespacing, JSON, single-flight), `cache/redis-store.ts`
 * (ioredis, bounded waits, SCAN-based clear) and `cache/memory-store.ts` (the fallback without REDIS_URL).
 */
export type { TenantCache } from './tenant-cache.js';
export type { RedisClient } from './store.js';

/** Default bound, in milliseconds, on connecting to Redis and on each command. */
export const DEFAULT_CACHE_TIMEOUT_MS = 2000;

export interface TenantCacheOptions {
  /** A `redis://` or `rediss://` URL (password allowed); default `process.env.REDIS_URL`. */
  url?: string;
  /** Your own ioredis client (tests, custom setups); used as is and never closed by `closeCache()`. */
  client?: RedisClient;
  /** Use the in-process store whatever `REDIS_URL` says (tests, one-off scripts); no announcement. */
  memory?: boolean;
  /** Bound on connecting and on each Redis command, in ms (default 2000); past it, a `CacheError`. */
  timeoutMs?: number;
}

/**
 * One store (one connection, opened lazily) per URL and timeout, shared by every cache of the process, and by
 * every bundled copy of the library in it (process/shared.ts).
 */
const sharedStores = processShared('redis-stores', () => new Map<string, RedisStore>());
const clientStores = processShared('redis-client-stores', () => new WeakMap<RedisClient, Map<number, RedisStore>>());

/**
 * The cache of tenant `slug`. Throws `InvalidSlugError` for a slug that breaks the schema rules, before
 * anything reaches Redis. The store is, in order: `options.client`; the in-process store when
 * `options.memory`; Redis at `options.url` or `REDIS_URL` (one shared connection per URL, opened on the first
 * command); else the in-process store (`target: 'memory'`; said by `cgk doctor`, never written to the
 * application's stderr). Cheap: call it wherever a cache is needed.
 *
 * @example
 * const cache = createTenantCache('acme');
 * const product = await cache.getOrSet(`product:${id}`, () => loadProduct(id), 300);
 */
export function createTenantCache(slug: string, options: TenantCacheOptions = {}): TenantCache {
  // The one slug check: first, so a bad slug is refused before any option is looked at or any store made.
  return bindTenantCache(assertValidSlug(slug), resolveStore(options));
}

/**
 * The cache of the tenant whose `withTenant()` scope the calling code runs in, with the same options as
 * `createTenantCache`. Outside any scope it throws `CacheError` (reason `usage`) rather than guess a tenant.
 *
 * @example
 * await withTenant('acme', async () => {
 *   const settings = await tenantCache().getOrSet('settings', loadSettings);
 * });
 */
export function tenantCache(options: TenantCacheOptions = {}): TenantCache {
  const slug = currentTenant();
  if (slug === undefined) {
    throw new CacheError('usage', 'tenantCache() was called outside a tenant scope', {
      hint: 'Call it inside withTenant(slug, ...), or use createTenantCache(slug) when the tenant is known.',
    });
  }
  return createTenantCache(slug, options);
}

/**
 * Closes every Redis connection the cache opened (QUIT, or a hard close if Redis does not answer in time), so
 * a script or test can exit. Caches created earlier stay usable: their next command opens a new connection.
 * Clients passed in `options.client` are left to their owner; the in-process store keeps its entries.
 */
export async function closeCache(): Promise<void> {
  await Promise.all([...sharedStores.values()].map((store) => store.close()));
}

function resolveStore(options: TenantCacheOptions): CacheStore {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CACHE_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new ConfigError(`timeoutMs must be a positive number of milliseconds, not ${String(timeoutMs)}`);
  }
  if (options.client) {
    let byTimeout = clientStores.get(options.client);
    if (!byTimeout) clientStores.set(options.client, (byTimeout = new Map()));
    let store = byTimeout.get(timeoutMs);
    if (!store) byTimeout.set(timeoutMs, (store = RedisStore.fromClient(options.client, timeoutMs)));
    return store;
  }
  if (options.memory) return processMemoryStore();
  const url = options.url ?? process.env.REDIS_URL;
  // No REDIS_URL: the in-process store, silently; the library writes nothing to the application's stderr (doctor says it).
  if (!url) return processMemoryStore();
  const id = `${timeoutMs} ${url}`;
  let store = sharedStores.get(id);
  if (!store) sharedStores.set(id, (store = RedisStore.fromUrl(url, timeoutMs)));
  return store;
}
