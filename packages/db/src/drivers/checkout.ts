import { PoolExhaustedError } from '../errors.js';

/**
 * Checking a connection out of a node-postgres pool (pg's, or the copy inside Neon's serverless driver),
 * for the two faults the pool itself does not handle:
 * - a checked-out connection that the server ends (pg_terminate_backend, a restart, a failover,
 *   idle_in_transaction_session_timeout) emits 'error' between two queries; pg-pool listens only on idle
 *   connections, so without a listener of ours Node dies with an unhandled 'error' event;
 * - a pool whose every connection stays busy past the connect timeout rejects with a bare
 *   "timeout exceeded when trying to connect", which says nothing about the pool being the limit.
 */

/** The part of a pool this module reads. */
export interface PoolLike<C> {
  connect(): Promise<C>;
  readonly totalCount: number;
  readonly waitingCount: number;
}

/** The part of a checked-out client this module uses. */
export interface ClientLike {
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: 'error', listener: (error: Error) => void): unknown;
  release(destroy?: boolean): void;
}

/** What a pool is, for the message of an exhausted one. */
export interface PoolShape {
  target: string;
  max: number;
  connectTimeoutMs: number;
}

/** A checked-out connection. */
export interface CheckedOut<C> {
  client: C;
  /** The error the connection failed with while checked out, if the server or the network ended it. */
  lost(): Error | undefined;
  /** Gives the connection back; a lost one, or with `destroy`, is closed and never reused. Safe to call twice. */
  release(destroy?: boolean): void;
}

/** pg-pool's message when no connection became free within `connectionTimeoutMillis`. */
const POOL_TIMEOUT = /^timeout exceeded when trying to connect$/;

/**
 * Checks a connection out of `pool` and watches it until it is released. Rejects with `PoolExhaustedError`
 * when the pool had no free connection in time; other failures are rethrown as they came (the caller
 * normalises them).
 */
export async function checkOut<C extends ClientLike>(pool: PoolLike<C>, shape: PoolShape): Promise<CheckedOut<C>> {
  let client: C;
  try {
    client = await pool.connect();
  } catch (error) {
    throw poolError(error, pool, shape) ?? error;
  }
  let lost: Error | undefined;
  const onError = (error: Error) => {
    lost ??= error;
  };
  client.on('error', onError);
  let released = false;
  return {
    client,
    lost: () => lost,
    release(destroy = false) {
      if (released) return;
      released = true;
      // pg-pool puts its own listener back on release; a lost connection is removed rather than reused.
      client.removeListener('error', onError);
      client.release(destroy || lost !== undefined);
    },
  };
}

/** `PoolExhaustedError` for pg-pool's checkout timeout (from `connect()` or `pool.query()`), else undefined. */
export function poolError(error: unknown, pool: Pick<PoolLike<unknown>, 'totalCount' | 'waitingCount'>, shape: PoolShape): PoolExhaustedError | undefined {
  if (!(error instanceof Error) || !POOL_TIMEOUT.test(error.message)) return undefined;
  return new PoolExhaustedError({ ...shape, busy: pool.totalCount, waiting: pool.waitingCount }, error);
}
