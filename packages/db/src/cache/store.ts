/**
 * What a tenant cache needs from the place its data lives. Two implementations: `RedisStore` (shared by every
 * process that uses the same Redis) and `MemoryStore` (this process only). Stores see full keys
 * (`cgk:{slug}:{key}`) and JSON text; tenants, JSON and single-flight are the tenant cache's business.
 * Every method fails with a `CacheError`, never with a raw client error.
 */
export interface CacheStore {
  /** Where the data lives, for messages: `redis://127.0.0.1:6379/0` (never a password) or `memory`. */
  readonly target: string;
  /** The text stored at `key`, or null when there is none (or it has expired). */
  get(key: string): Promise<string | null>;
  /** Stores `value` at `key`, replacing any value and TTL; expires after `ttlMs` when given, else never. */
  set(key: string, value: string, ttlMs: number | undefined): Promise<unknown>;
  /** Removes `key`; true when it was there. */
  delete(key: string): Promise<boolean>;
  /** Removes every key that starts with `prefix` (and no other), in batches; returns how many were removed. */
  deletePrefix(prefix: string): Promise<number>;
  /** How many live keys start with `prefix`, counted in batches (never KEYS). */
  countPrefix(prefix: string): Promise<number>;
}

/**
 * Escapes the glob metacharacters of Redis' MATCH (`*`, `?`, `[`, `]`, `\`) so `text` matches only itself.
 * Tenant prefixes (`cgk:` + `[a-z0-9_]` + `:`) contain none of them; clear() escapes anyway, so the pattern
 * stays right whatever a prefix may contain one day.
 */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * What the tenant cache uses of a Redis client. An ioredis `Redis` is one; the type is spelled out here so
 * that the public types of @cgk/db do not need ioredis (an optional dependency) installed.
 */
export interface RedisClient {
  readonly options: { keyPrefix?: string; host?: string; port?: number; db?: number; tls?: unknown; commandTimeout?: number };
  readonly status: string;
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<unknown>;
  set(key: string, value: string, mode: 'PX', milliseconds: number): Promise<unknown>;
  unlink(...keys: string[]): Promise<number>;
  scan(cursor: string, match: 'MATCH', pattern: string, count: 'COUNT', n: number): Promise<[cursor: string, keys: string[]]>;
  quit(): Promise<unknown>;
  disconnect(): void;
}
