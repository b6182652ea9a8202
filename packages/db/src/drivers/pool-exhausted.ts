import { PoolExhaustedError } from '../errors/index.js';

/** What a pool is, for the message of an exhausted one. */
export interface PoolShape {
  target: string;
  max: number;
  connectTimeoutMs: number;
}

/** pg-pool's message when no connection became free within `connectionTimeoutMillis` (the pool was full). */
const POOL_TIMEOUT = /^timeout exceeded when trying to connect$/;

/**
 * `PoolExhaustedError` for pg-pool's checkout timeout (from `connect()` or `pool.query()`, in pg or in the
 * copy inside Neon's driver), else undefined. pg-pool's own "timeout exceeded when trying to connect" says
 * nothing about the pool being the limit.
 */
export function poolError(
  error: unknown,
  pool: { readonly totalCount: number; readonly waitingCount: number },
  shape: PoolShape,
): PoolExhaustedError | undefined {
  if (!(error instanceof Error) || !POOL_TIMEOUT.test(error.message)) return undefined;
  return new PoolExhaustedError({ ...shape, busy: pool.totalCount, waiting: pool.waitingCount }, error);
}
