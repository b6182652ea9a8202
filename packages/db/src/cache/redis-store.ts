import type { RedisOptions } from 'ioredis';
import { CacheError, CgkError, ConfigError } from '../errors/index.js';
import { loadOptional } from '../optional.js';
import { escapeGlob, type CacheStore, type RedisClient } from './store.js';

/** Keys SCAN looks at per call: each call is short, so clear() never holds Redis for long. */
const SCAN_COUNT = 1000;
/** Wait between reconnection attempts while Redis is down (commands fail fast meanwhile). */
const MAX_RECONNECT_DELAY_MS = 2000;

/**
 * A store on Redis through ioredis. Either it owns its client (made from a URL, lazily, on the first command,
 * and closed by `close()`), or it uses a caller's client, which it never closes.
 *
 * Bounded waits: an owned client has `connectTimeout` and `commandTimeout` = `timeoutMs`, fails queued commands
 * at the first failed connection attempt (`maxRetriesPerRequest: 0`) and queues commands only while it
 * connects (`enableOfflineQueue`, bounded by `commandTimeout`). A caller's client gets the same bound from a
 * timer around each command, whatever `commandTimeout` of its own it has (the shorter of the two wins).
 * Not part of `CacheStore`: `closeCache()` calls `close()` on the stores it owns, which are all RedisStores.
 */
export class RedisStore implements CacheStore {
  readonly target: string;
  readonly #url: string | undefined;
  readonly #timeoutMs: number;
  readonly #deadline: boolean;
  #client: RedisClient | undefined;
  #opening: Promise<RedisClient> | undefined;
  #lastError: Error | undefined;

  private constructor(target: string, timeoutMs: number, url: string | undefined, client: RedisClient | undefined) {
    this.target = target;
    this.#timeoutMs = timeoutMs;
    this.#url = url;
    this.#client = client;
    // A caller's client keeps its own options (its commandTimeout may be longer, or absent): always time it.
    this.#deadline = client !== undefined;
  }

  /** A store with its own connection to `url` (`redis://` or `rediss://`, with a password or not), opened on first use. */
  static fromUrl(url: string, timeoutMs: number): RedisStore {
    return new RedisStore(describeUrl(url), timeoutMs, url, undefined);
  }

  /** A store on the caller's client; `close()` leaves it open. Refuses a client with a `keyPrefix` (see below). */
  static fromClient(client: RedisClient, timeoutMs: number): RedisStore {
    if (client.options.keyPrefix) {
      // ioredis prefixes GET/SET/UNLINK keys but not SCAN's MATCH pattern, so clear() would silently miss every key.
      throw new ConfigError(
        'A Redis client with a keyPrefix cannot back a tenant cache',
        'Pass a client without keyPrefix: the tenant cache names its keys cgk:{slug}:... itself.',
      );
    }
    const { host, port, db, tls } = client.options;
    return new RedisStore(
      `${tls ? 'rediss' : 'redis'}://${host ?? 'localhost'}:${port ?? 6379}/${db ?? 0}`,
      timeoutMs,
      undefined,
      client,
    );
  }

  // The hot paths hand back #run's promise as is: one async frame between the caller and ioredis.
  get(key: string): Promise<string | null> {
    return this.#run('GET', (client) => client.get(key));
  }

  set(key: string, value: string, ttlMs: number | undefined): Promise<unknown> {
    return this.#run('SET', (client) => (ttlMs === undefined ? client.set(key, value) : client.set(key, value, 'PX', ttlMs)));
  }

  async delete(key: string): Promise<boolean> {
    return (await this.#run('UNLINK', (client) => client.unlink(key))) > 0;
  }

  /**
   * SCAN with MATCH on the escaped prefix, COUNT 1000 per call, and UNLINK of each batch (the memory is freed
   * in the background), until the cursor comes back to 0. Never KEYS, never FLUSHDB: each call is short, so
   * Redis keeps serving other clients in between. Keys written during the scan may survive it (SCAN's rules).
   */
  async deletePrefix(prefix: string): Promise<number> {
    let removed = 0;
    await this.#scanPrefix(prefix, async (mine) => {
      removed += await this.#run('UNLINK', (client) => client.unlink(...mine));
    });
    return removed;
  }

  async countPrefix(prefix: string): Promise<number> {
    let found = 0;
    await this.#scanPrefix(prefix, async (mine) => {
      found += mine.length;
    });
    return found;
  }

  /** SCAN over the keys under `prefix` (escaped for MATCH), batch by batch; never KEYS. */
  async #scanPrefix(prefix: string, each: (keys: string[]) => Promise<void>): Promise<void> {
    const pattern = `${escapeGlob(prefix)}*`;
    let cursor = '0';
    do {
      const [next, keys] = await this.#run('SCAN', (client) => client.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT));
      cursor = next;
      // MATCH already did this; checking again costs nothing and keeps the guarantee local.
      const mine = keys.filter((key) => key.startsWith(prefix));
      if (mine.length > 0) await each(mine);
    } while (cursor !== '0');
  }

  /** Quits the owned connection (or drops it if Redis does not answer in time); the next command reopens one. */
  async close(): Promise<void> {
    const client = this.#url === undefined ? undefined : (this.#client ?? (await this.#opening?.catch(() => undefined)));
    if (!client) return;
    this.#client = undefined;
    if (client.status === 'ready') {
      try {
        await client.quit();
        return;
      } catch {
        // fall through: not answering, drop it
      }
    }
    client.disconnect();
  }

  async #run<T>(command: string, send: (client: RedisClient) => Promise<T>): Promise<T> {
    try {
      const reply = send(this.#client ?? (await this.#connection()));
      return await (this.#deadline ? withDeadline(reply, this.#timeoutMs) : reply);
    } catch (error) {
      // ioredis not installed (a ConfigError naming it) is not Redis being unavailable.
      if (error instanceof CgkError) throw error;
      throw this.#failure(command, error);
    }
  }

  /** The owned client, made on first use; ioredis itself is loaded then too (an optional dependency). */
  #connection(): Promise<RedisClient> {
    this.#opening ??= this.#open().finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  async #open(): Promise<RedisClient> {
    const { Redis } = await loadOptional('ioredis', () => import(/* webpackIgnore: true */ 'ioredis'));
    const client = new Redis(this.#url!, clientOptions(this.#timeoutMs));
    // Without a listener ioredis prints every failed reconnection; keep the last one for the error message.
    client.on('error', (error: Error) => {
      this.#lastError = error;
    });
    client.on('ready', () => {
      this.#lastError = undefined;
    });
    this.#client = client;
    return client;
  }

  #failure(command: string, error: unknown): CacheError {
    const text = error instanceof Error ? error.message : String(error);
    const last = this.#lastError?.message;
    let reason: string;
    if (/command timed out/i.test(text))
      reason = `no reply within ${this.#timeLimit(error)} ms${last && !/command timed out/i.test(last) ? ` (${last})` : ''}`;
    else if (error instanceof Error && error.name === 'MaxRetriesPerRequestError')
      reason = `cannot connect${last ? ` (${last})` : ''}`;
    else if (/connection is closed/i.test(text)) reason = `connection closed${last ? ` (${last})` : ''}`;
    else reason = text; // Redis answered with an error (NOAUTH, WRONGTYPE, OOM...)
    return new CacheError('unavailable', `Cache unavailable: ${command} on Redis at ${this.target} failed: ${reason}`, {
      cause: error,
    });
  }

  /**
   * The bound that expired: ours (our timer, or an owned client's commandTimeout, which is ours), or a caller's
   * client's shorter commandTimeout.
   */
  #timeLimit(error: unknown): number {
    if (error instanceof DeadlineError || this.#url !== undefined) return this.#timeoutMs;
    const own = this.#client?.options.commandTimeout;
    return typeof own === 'number' ? own : this.#timeoutMs;
  }
}

/** Our timer's expiry (as opposed to ioredis' own commandTimeout); same message as ioredis'. */
class DeadlineError extends Error {
  constructor() {
    super('Command timed out');
    this.name = 'DeadlineError';
  }
}

/** The ioredis options behind the bounded waits described on `RedisStore`. */
function clientOptions(timeoutMs: number): RedisOptions {
  return {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: true,
    retryStrategy: (attempt: number) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
  };
}

/** `redis://host:port/db` without user or password; refuses what is not a redis:// or rediss:// URL. */
function describeUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('REDIS_URL is not a valid URL', 'Use redis://[:password@]host:port[/db] or rediss://... for TLS.');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new ConfigError(
      `REDIS_URL must start with redis:// or rediss://, not ${parsed.protocol}//`,
      'Use redis://[:password@]host:port[/db] or rediss://... for TLS.',
    );
  }
  const db = parsed.pathname.length > 1 ? parsed.pathname.slice(1) : '0';
  return `${parsed.protocol}//${parsed.host}${parsed.port ? '' : ':6379'}/${db}`;
}

function withDeadline<T>(reply: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError()), timeoutMs);
  });
  return Promise.race([reply, late]).finally(() => clearTimeout(timer));
}
