import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { Database } from '../src/database/database.js';
import { closeCache, createTenantCache, tenantCache, type TenantCache } from '../src/cache/index.js';
import { schemaNameFor } from '../src/sql/identifier.js';
import { identifier } from '../src/sql/tag.js';
import { processMemoryStore } from '../src/cache/memory-store.js';
import { escapeGlob } from '../src/cache/store.js';
import { CacheError, ConfigError, InvalidSlugError } from '../src/errors/index.js';

/**
 * The tenant cache against a real Redis (no mocks) and against the in-process fallback: one behavioural suite,
 * run over both. Every slug holds this run's id, so parallel runs never share a key; whatever a test wrote is
 * removed from Redis at the end. Redis down makes the whole file fail, never skip.
 */
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const RUN = randomBytes(4).toString('hex');
/** Prefix of every raw (non-cache) key this run writes, to prove clear() leaves them alone. */
const RAW = `cgktest:${RUN}:`;

let raw: Redis;
let redisDown: Error | undefined;
let counter = 0;

/** A slug no other test or run uses. */
function slug(label = 't'): string {
  return `ct${RUN}_${label}${++counter}`;
}

beforeAll(async () => {
  raw = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 0 });
  raw.on('error', () => {});
  try {
    await raw.ping();
  } catch (error) {
    redisDown = new Error(`Test Redis at ${REDIS_URL} is unreachable (${(error as Error).message}). Run: npm run services`);
  }
});

// Every test fails (rather than being skipped, as a failing beforeAll would do) when Redis is down.
beforeEach(() => {
  if (redisDown) throw redisDown;
});

afterAll(async () => {
  if (redisDown) {
    raw.disconnect();
    return;
  }
  for (const pattern of [`cgk:ct${RUN}_*`, `${RAW}*`]) {
    for (const key of await scanKeys(pattern)) await raw.unlink(key);
  }
  await raw.quit();
  await closeCache();
});

async function scanKeys(pattern: string): Promise<string[]> {
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) found.add(key);
  } while (cursor !== '0');
  return [...found].sort();
}

/** What the suite needs from a store besides the cache itself: a look at the raw keys, from outside the cache. */
interface Backend {
  name: string;
  cache(slug: string): TenantCache;
  /** Every live key the store holds that starts with `prefix`, sorted. */
  keys(prefix: string): Promise<string[]>;
  /** Writes `value` at `key` directly, bypassing the cache (an unrelated key, or garbage under a prefix). */
  rawSet(key: string, value: string): Promise<void>;
  /** PTTL of a full key, as Redis reports it: ms left, -1 no expiry, -2 absent. */
  pttl(key: string): Promise<number>;
}

const memory = processMemoryStore();
const backends: Backend[] = [
  {
    name: 'redis',
    cache: (s) => createTenantCache(s, { url: REDIS_URL }),
    keys: (prefix) => scanKeys(`${escapeGlob(prefix)}*`),
    rawSet: async (key, value) => {
      await raw.set(key, value);
    },
    pttl: (key) => raw.pttl(key),
  },
  {
    name: 'memory',
    cache: (s) => createTenantCache(s, { memory: true }),
    keys: async (prefix) =>
      memory
        .keys()
        .filter((key) => key.startsWith(prefix))
        .sort(),
    rawSet: (key, value) => memory.set(key, value, undefined),
    pttl: async (key) => memory.pttl(key),
  },
];

describe.each(backends)('tenant cache on $name', (backend) => {
  it('keeps two tenants apart: same key, different values, neither sees nor deletes the other', async () => {
    const a = backend.cache(slug('a'));
    const b = backend.cache(slug('b'));
    await a.set('user:1', { name: 'alice' });
    await b.set('user:1', { name: 'bob' });
    expect(await a.get('user:1')).toEqual({ name: 'alice' });
    expect(await b.get('user:1')).toEqual({ name: 'bob' });
    await a.set('only-a', 1);
    expect(await b.get('only-a')).toBeUndefined();
    expect(await b.delete('only-a')).toBe(false);
    expect(await a.get('only-a')).toBe(1);
    expect(await backend.keys(a.prefix)).toEqual([`${a.prefix}only-a`, `${a.prefix}user:1`]);
    expect(await backend.keys(b.prefix)).toEqual([`${b.prefix}user:1`]);
  });

  it('stores every key under cgk:{slug}: verbatim, hostile ones included', async () => {
    const aSlug = slug('a');
    const bSlug = slug('b');
    const a = backend.cache(aSlug);
    const b = backend.cache(bSlug);
    expect(a.prefix).toBe(`cgk:${aSlug}:`);
    const hostile = ['*', '?', '[a-z]*', '\\*', `cgk:${bSlug}:x`, `../${bSlug}`, ':', '', ' ', 'ключ', '😀', 'a\nb'];
    await b.set('x', 'b-owns-this');
    for (const key of hostile) await a.set(key, `a:${key}`);
    for (const key of hostile) expect(await a.get(key)).toBe(`a:${key}`);
    expect(await backend.keys(a.prefix)).toEqual(hostile.map((key) => `cgk:${aSlug}:${key}`).sort());
    // tenant a's key "cgk:b:x" did not touch tenant b's "x", and b sees nothing of a's keys
    expect(await b.get('x')).toBe('b-owns-this');
    expect(await backend.keys(b.prefix)).toEqual([`cgk:${bSlug}:x`]);
    for (const key of hostile) expect(await b.get(key)).toBeUndefined();
    // a glob-looking key is a key, not a pattern: deleting "*" deletes exactly that entry
    expect(await a.delete('*')).toBe(true);
    expect(await a.get('?')).toBe('a:?');
    expect(await backend.keys(a.prefix)).toHaveLength(hostile.length - 1);
    expect(await a.clear()).toBe(hostile.length - 1);
    expect(await b.get('x')).toBe('b-owns-this');
  });

  it('clear() removes only its own tenant: not other tenants, not a tenant whose slug extends it, not unrelated keys', async () => {
    const aSlug = slug('a');
    const a = backend.cache(aSlug);
    const b = backend.cache(slug('b'));
    const longer = backend.cache(`${aSlug}_x`); // prefix cgk:{a}_x: starts with cgk:{a}
    for (let i = 0; i < 20; i++) {
      await a.set(`k${i}`, i);
      await b.set(`k${i}`, i);
      await longer.set(`k${i}`, i);
    }
    const unrelated = [`${RAW}unrelated`, `cgk:${aSlug}`, `cgk:${aSlug}x`, `${RAW}cgk:${aSlug}:k1`];
    for (const key of unrelated) await backend.rawSet(key, 'keep');

    expect(await a.clear()).toBe(20);
    expect(await backend.keys(a.prefix)).toEqual([]);
    expect(await backend.keys(b.prefix)).toHaveLength(20);
    expect(await backend.keys(longer.prefix)).toHaveLength(20);
    for (const key of unrelated) expect(await backend.keys(key)).toContain(key);
    expect(await b.get('k7')).toBe(7);
    expect(await a.clear()).toBe(0);
    await b.clear();
    await longer.clear();
  });

  it('count() counts only its own live entries: not another tenant, not a tenant whose slug extends it, not expired ones', async () => {
    const aSlug = slug('a');
    const a = backend.cache(aSlug);
    const b = backend.cache(slug('b'));
    const longer = backend.cache(`${aSlug}_x`);
    for (let i = 0; i < 1200; i++) await a.set(`k${i}`, i); // more than one SCAN batch
    await a.set('short-lived', 1, 0.05);
    await b.set('k', 1);
    await longer.set('k', 1);
    await backend.rawSet(`cgk:${aSlug}`, 'not an entry');
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await a.count()).toBe(1200);
    expect(await b.count()).toBe(1);
    expect(await a.clear()).toBe(1200);
    expect(await a.count()).toBe(0);
    await b.clear();
    await longer.clear();
  });

  it('clear() on a larger keyspace (5,000 keys in five tenants, plus unrelated keys) removes exactly one tenant', async () => {
    const tenants = Array.from({ length: 5 }, () => backend.cache(slug('big')));
    const perTenant = 1000;
    for (const cache of tenants) {
      for (let start = 0; start < perTenant; start += 250) {
        await Promise.all(Array.from({ length: 250 }, (_, i) => cache.set(`item:${start + i}`, { n: start + i })));
      }
    }
    for (let i = 0; i < 300; i++) await backend.rawSet(`${RAW}bulk:${i}`, 'keep');

    const [victim, ...others] = tenants as [TenantCache, ...TenantCache[]];
    expect(await victim.clear()).toBe(perTenant);
    expect(await backend.keys(victim.prefix)).toEqual([]);
    for (const cache of others) expect(await backend.keys(cache.prefix)).toHaveLength(perTenant);
    expect(await backend.keys(`${RAW}bulk:`)).toHaveLength(300);
    for (const cache of others) expect(await cache.clear()).toBe(perTenant);
  });

  it('sets a TTL when asked, and only then; an expired entry is a miss', async () => {
    const c = backend.cache(slug('ttl'));
    await c.set('long', 'v', 60);
    const left = await backend.pttl(`${c.prefix}long`);
    // Generous below: only the time between SET and PTTL has passed, which a loaded machine may stretch.
    expect(left).toBeGreaterThan(50_000);
    expect(left).toBeLessThanOrEqual(60_000);

    await c.set('forever', 'v');
    expect(await backend.pttl(`${c.prefix}forever`)).toBe(-1);
    // setting again without a TTL removes the earlier TTL (Redis SET semantics)
    await c.set('long', 'v2');
    expect(await backend.pttl(`${c.prefix}long`)).toBe(-1);

    await c.getOrSet('loaded', () => 'x', 30);
    expect(await backend.pttl(`${c.prefix}loaded`)).toBeGreaterThan(20_000);

    await c.set('short', 'gone soon', 0.05);
    expect(await c.get('short')).toBe('gone soon');
    await vi.waitFor(async () => expect(await c.get('short')).toBeUndefined(), { timeout: 2000, interval: 20 });
    expect(await backend.pttl(`${c.prefix}short`)).toBe(-2);
    expect(await c.getOrSet('short', () => 'reloaded')).toBe('reloaded');

    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '5' as unknown as number]) {
      await expect(c.set('bad', 1, bad)).rejects.toMatchObject({ code: 'CGK_CACHE', reason: 'usage' });
    }
    expect(await c.get('bad')).toBeUndefined();
    await c.clear();
  });

  it('getOrSet is single-flight: fifty concurrent misses call the loader once, and all get the value', async () => {
    const c = backend.cache(slug('sf'));
    let calls = 0;
    const loader = async () => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 30));
      return { price: 42, at: new Date(0) };
    };
    const results = await Promise.all(Array.from({ length: 50 }, () => c.getOrSet('product:1', loader, 60)));
    expect(calls).toBe(1);
    for (const result of results) expect(result).toEqual({ price: 42, at: '1970-01-01T00:00:00.000Z' });
    // each caller gets its own copy
    expect(new Set(results).size).toBe(50);
    expect(await c.get('product:1')).toEqual({ price: 42, at: '1970-01-01T00:00:00.000Z' });
    // a hit does not call the loader
    expect(await c.getOrSet('product:1', loader)).toEqual({ price: 42, at: '1970-01-01T00:00:00.000Z' });
    expect(calls).toBe(1);

    // two caches of the same tenant share the flight; another tenant has its own
    const same = backend.cache(c.slug);
    const other = backend.cache(slug('sf'));
    let sharedCalls = 0;
    const counted = async () => {
      const call = ++sharedCalls;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return call;
    };
    const [x, y, z] = await Promise.all([c.getOrSet('k', counted), same.getOrSet('k', counted), other.getOrSet('k', counted)]);
    expect(sharedCalls).toBe(2);
    expect(x).toBe(y);
    expect(z).not.toBe(x);
    await c.clear();
    await other.clear();
  });

  it('getOrSet refuses a loader that is not a function, with the usage error, and stores nothing', async () => {
    const c = backend.cache(slug('sf'));
    for (const bad of [undefined, null, 'value', 42, { then: () => {} }]) {
      await expect(c.getOrSet('k', bad as unknown as () => unknown)).rejects.toMatchObject({
        code: 'CGK_CACHE',
        reason: 'usage',
        message: expect.stringContaining('needs a loader function') as unknown as string,
      });
    }
    expect(await c.get('k')).toBeUndefined();
    expect(await backend.keys(c.prefix)).toEqual([]);
  });

  it("getOrSet: concurrent calls with different TTLs share one flight, and the first caller's TTL wins", async () => {
    const c = backend.cache(slug('sf'));
    let calls = 0;
    const loader = async () => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return 'v';
    };
    const results = await Promise.all([c.getOrSet('ttl', loader, 600), c.getOrSet('ttl', loader, 5), c.getOrSet('ttl', loader)]);
    expect(results).toEqual(['v', 'v', 'v']);
    expect(calls).toBe(1);
    const pttl = await backend.pttl(`${c.prefix}ttl`);
    expect(pttl).toBeGreaterThan(5_000);
    expect(pttl).toBeLessThanOrEqual(600_000);
    await c.clear();
  });

  it('getOrSet: a failing loader stores nothing, every waiter gets its error, and the next call retries', async () => {
    const c = backend.cache(slug('sf'));
    let calls = 0;
    const failing = async () => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 10));
      throw new Error('database down');
    };
    const settled = await Promise.allSettled(Array.from({ length: 10 }, () => c.getOrSet('k', failing)));
    expect(calls).toBe(1);
    for (const outcome of settled) expect(outcome).toMatchObject({ status: 'rejected', reason: { message: 'database down' } });
    expect(await c.get('k')).toBeUndefined();
    expect(await c.getOrSet('k', () => 'ok')).toBe('ok');
    await expect(c.getOrSet('u', () => undefined)).rejects.toMatchObject({ code: 'CGK_CACHE', reason: 'value' });
    expect(await c.get('u')).toBeUndefined();
    expect(await c.getOrSet('n', () => null)).toBeNull();
    expect(await c.getOrSet('n', () => 'not called')).toBeNull();
    await c.clear();
  });

  it('round-trips JSON: miss is undefined, null is a hit, dates become strings, the unstorable is refused', async () => {
    const c = backend.cache(slug('json'));
    expect(await c.get('missing')).toBeUndefined();
    await c.set('null', null);
    expect(await c.get('null')).toBeNull();
    for (const value of [0, '', false, 'text', 3.5, [1, 'two', null], { nested: { deep: [true] } }]) {
      await c.set('v', value);
      expect(await c.get('v')).toEqual(value);
    }
    await c.set('shaped', {
      at: new Date('2024-05-01T10:00:00Z'),
      gone: undefined,
      list: [undefined, 1],
      nan: Number.NaN,
      map: new Map([[1, 2]]),
    });
    expect(await c.get('shaped')).toEqual({ at: '2024-05-01T10:00:00.000Z', list: [null, 1], nan: null, map: {} });

    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const bad of [undefined, 10n, { id: 10n }, () => 1, Symbol('s'), circular]) {
      const error = await c.set('bad', bad).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CacheError);
      expect(error).toMatchObject({ code: 'CGK_CACHE', reason: 'value' });
    }
    expect(await c.get('bad')).toBeUndefined();

    await backend.rawSet(`${c.prefix}garbage`, 'not json {');
    await expect(c.get('garbage')).rejects.toMatchObject({ code: 'CGK_CACHE', reason: 'value' });
    expect(await c.delete('garbage')).toBe(true);
    await c.clear();
  });

  it('refuses keys that are not well-formed strings', async () => {
    const c = backend.cache(slug('keys'));
    for (const bad of [42, null, undefined, { toString: () => 'x' }, 'lone \uD800 surrogate']) {
      await expect(c.get(bad as string)).rejects.toMatchObject({ code: 'CGK_CACHE', reason: 'usage' });
      await expect(c.set(bad as string, 1)).rejects.toMatchObject({ code: 'CGK_CACHE', reason: 'usage' });
    }
    expect(await backend.keys(c.prefix)).toEqual([]);
  });

  it('refuses a bad slug with InvalidSlugError, by the schema rules', () => {
    for (const bad of ['', 'Acme', 'a-b', 'a:b', 'a*', 'a b', '1abc', 'x'.repeat(57)]) {
      expect(() => backend.cache(bad)).toThrow(InvalidSlugError);
    }
    expect(backend.cache('x'.repeat(56)).slug).toHaveLength(56);
    // keywords and pg_ names are tenants like any other: the key prefix is cgk:{slug}:
    for (const good of ['public', 'pg_x', 'select', 'cgk']) expect(backend.cache(good).prefix).toBe(`cgk:${good}:`);
  });
});

describe('tenantCache(): the cache of the current withTenant() scope', () => {
  let db: Database;
  const scoped = slug('scope');

  beforeAll(async () => {
    db = new Database({ driver: 'pglite', dataDir: ':memory:' });
    await db.sql`create schema ${identifier(schemaNameFor(scoped))}`;
  });

  afterAll(async () => {
    await db?.end();
  });

  it.each(backends)('inside a scope, on $name, uses the scope tenant', async (backend) => {
    const options = backend.name === 'redis' ? { url: REDIS_URL } : { memory: true };
    const value = await db.withTenant(scoped, async () => {
      const cache = tenantCache(options);
      expect(cache.slug).toBe(scoped);
      await cache.set('in-scope', { ok: true });
      return cache.get('in-scope');
    });
    expect(value).toEqual({ ok: true });
    expect(await backend.keys(`cgk:${scoped}:`)).toEqual([`cgk:${scoped}:in-scope`]);
    await backend.cache(scoped).clear();
  });

  it('outside a scope, throws a typed error instead of guessing a tenant', () => {
    expect(() => tenantCache({ memory: true })).toThrow(CacheError);
    expect(() => tenantCache({ url: REDIS_URL })).toThrow(expect.objectContaining({ code: 'CGK_CACHE', reason: 'usage' }));
  });
});

describe('Redis connection', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** A loopback port nothing listens on: bound to 0, then closed. */
  async function closedPort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }

  async function failure(run: () => Promise<unknown>): Promise<{ error: CacheError; ms: number }> {
    const started = performance.now();
    const error = await run().then(
      () => undefined,
      (e: unknown) => e,
    );
    const ms = performance.now() - started;
    expect(error).toBeInstanceOf(CacheError);
    return { error: error as CacheError, ms };
  }

  it('Redis unreachable: every operation fails with a typed error, fast, and never shows the password', async () => {
    const port = await closedPort();
    const cache = createTenantCache(slug('down'), { url: `redis://:s3cret@127.0.0.1:${port}`, timeoutMs: 500 });
    let loaderCalls = 0;
    const operations: Array<() => Promise<unknown>> = [
      () => cache.get('k'),
      () => cache.set('k', 1, 10),
      () => cache.delete('k'),
      () => cache.clear(),
      () => cache.getOrSet('k', () => ++loaderCalls),
    ];
    for (const operation of operations) {
      const { error, ms } = await failure(operation);
      // A refused connection fails at once; generous, since only a hang (or a retry loop) is the bug.
      expect(ms).toBeLessThan(5000);
      expect(error.code).toBe('CGK_CACHE');
      expect(error.reason).toBe('unavailable');
      expect(error.message).toContain(`127.0.0.1:${port}`);
      expect(error.message).toMatch(/ECONNREFUSED|cannot connect/);
      for (const text of [error.message, error.hint ?? '', error.toLine(), String(error), error.stack ?? '']) {
        expect(text).not.toContain('s3cret');
      }
    }
    expect(loaderCalls).toBe(0);
    await closeCache();
  });

  it('Redis accepting connections but never answering: a typed error within the timeout, not a hang', async () => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const cache = createTenantCache(slug('slow'), { url: `redis://:s3cret@127.0.0.1:${port}`, timeoutMs: 300 });
      const { error, ms } = await failure(() => cache.get('k'));
      // It waited for the timeout (a lower bound a loaded machine cannot break), and did not hang.
      expect(ms).toBeGreaterThanOrEqual(250);
      expect(ms).toBeLessThan(5000);
      expect(error.reason).toBe('unavailable');
      expect(error.message).toMatch(/no reply within 300 ms/);
      expect(error.message).not.toContain('s3cret');
      const started = performance.now();
      await closeCache();
      expect(performance.now() - started).toBeLessThan(5000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('bounds a caller-supplied client without commandTimeout too', async () => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
    client.on('error', () => {});
    try {
      const cache = createTenantCache(slug('own'), { client, timeoutMs: 300 });
      const { error, ms } = await failure(() => cache.get('k'));
      expect(ms).toBeGreaterThanOrEqual(250);
      expect(ms).toBeLessThan(5000);
      expect(error.reason).toBe('unavailable');
      expect(error.message).toMatch(/no reply within 300 ms/);
    } finally {
      client.disconnect();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('bounds a caller-supplied client by timeoutMs even when its own commandTimeout is longer', async () => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    // The client's own limit is far above ours, so a generous bound still tells which one ended the wait.
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, commandTimeout: 60_000 });
    client.on('error', () => {});
    try {
      const cache = createTenantCache(slug('own'), { client, timeoutMs: 300 });
      const { error, ms } = await failure(() => cache.get('k'));
      expect(ms).toBeGreaterThanOrEqual(250);
      expect(ms).toBeLessThan(10_000);
      expect(error.reason).toBe('unavailable');
      expect(error.message).toMatch(/no reply within 300 ms/);
    } finally {
      client.disconnect();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('checks the slug first: a bad slug with bad options is an InvalidSlugError, not a ConfigError', () => {
    for (const options of [{ url: 'not a url' }, { url: 'not a url', timeoutMs: -1 }]) {
      let thrown: unknown;
      try {
        createTenantCache('Bad-Slug', options);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InvalidSlugError);
      expect(thrown).not.toBeInstanceOf(ConfigError);
    }
    // the same options with a good slug are refused by the option checks
    expect(() => createTenantCache(slug('cfg'), { url: 'not a url' })).toThrow(ConfigError);
  });

  it('uses a caller-supplied client as is, and closeCache() leaves it open', async () => {
    const client = new Redis(REDIS_URL, { lazyConnect: true });
    const prefixed = new Redis(REDIS_URL, { lazyConnect: true, keyPrefix: 'app:' });
    try {
      // ioredis does not prefix SCAN patterns: clear() would miss every key, so such a client is refused
      expect(() => createTenantCache(slug('own'), { client: prefixed })).toThrow(ConfigError);
      expect(prefixed.status).toBe('wait');
      const cache = createTenantCache(slug('own'), { client });
      await cache.set('k', 'v');
      expect(await raw.get(`${cache.prefix}k`)).toBe('"v"');
      await closeCache();
      expect(client.status).toBe('ready');
      expect(await cache.get('k')).toBe('v');
      await cache.clear();
    } finally {
      await client.quit();
      prefixed.disconnect();
    }
  });

  it('reads REDIS_URL when no url is given, and reopens after closeCache()', async () => {
    vi.stubEnv('REDIS_URL', REDIS_URL);
    try {
      const cache = createTenantCache(slug('env'));
      expect(cache.target).toMatch(/^redis:\/\/.+\/\d+$/);
      await cache.set('k', [1]);
      expect(await raw.get(`${cache.prefix}k`)).toBe('[1]');
      await closeCache();
      expect(await cache.get('k')).toEqual([1]);
      await cache.clear();
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('takes rediss:// (TLS) and refuses other schemes with a typed error', async () => {
    const { port, hostname } = new URL(REDIS_URL);
    // A plain Redis cannot complete a TLS handshake: proof that rediss:// means TLS, and that it fails typed, bounded.
    const tls = createTenantCache(slug('tls'), { url: `rediss://:s3cret@${hostname}:${port || 6379}`, timeoutMs: 500 });
    expect(tls.target).toMatch(/^rediss:\/\//);
    const { error, ms } = await failure(() => tls.get('k'));
    expect(ms).toBeLessThan(5000);
    expect(error.message).not.toContain('s3cret');
    await closeCache();

    for (const url of ['http://:s3cret@127.0.0.1:6379', 'not a url s3cret']) {
      const thrown = (() => {
        try {
          createTenantCache(slug('cfg'), { url });
        } catch (e) {
          return e;
        }
      })();
      expect(thrown).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).message).not.toContain('s3cret');
    }
    expect(() => createTenantCache(slug('cfg'), { url: REDIS_URL, timeoutMs: 0 })).toThrow(ConfigError);
  });

  it("without REDIS_URL falls back to the in-process store, writing nothing to the application's stderr", async () => {
    vi.stubEnv('REDIS_URL', '');
    const writes: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    try {
      const first = createTenantCache(slug('mem'));
      const second = createTenantCache(first.slug);
      expect(first.target).toBe('memory');
      await first.set('k', 'v', 60);
      expect(await second.get('k')).toBe('v');
      expect(memory.pttl(`${first.prefix}k`)).toBeGreaterThan(50_000);
      expect(writes).toEqual([]);
      expect(await first.clear()).toBe(1);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
