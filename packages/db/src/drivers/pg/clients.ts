import pg from 'pg';
import { PoolExhaustedError } from '../../errors/index.js';
import { pgSslSettings } from '../ssl.js';

/**
 * The life of one raw pg.Client in a pool of our own (the login mode's per-tenant pools, tenant-pools.ts,
 * and the tenant-affinity pool, affinity-pool.ts): how it is opened, worn out, parked idle, closed, and how a
 * caller waits for one. Written once so that both pools open, close and time out connections the same way.
 */

/** The longest a connection being closed may take before its socket is destroyed. */
const CLOSE_TIMEOUT_MS = 5000;

/** How connections are opened and when they are worn out. */
export interface ClientSettings {
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  /** Checkouts after which a connection is closed instead of reused; 0 = never. */
  maxUses: number;
  /** Age in seconds after which a connection is closed instead of reused; 0 = never. */
  maxLifetimeSeconds: number;
  statementTimeoutMs?: number | undefined;
}

/** What a pool remembers of one of its connections. */
export interface Lifetime {
  uses: number;
  born: number;
  /** The server ended it (an 'error' event): closed on release, never reused. */
  dead: boolean;
  idleTimer?: NodeJS.Timeout;
}

/** A fresh record for a connection being opened now. */
export function newLifetime(): Lifetime {
  return { uses: 0, born: Date.now(), dead: false };
}

/**
 * An unconnected pg.Client for `connectionString` (SSL settings, statement timeout, pipeline mode as the
 * driver's pool), with an 'error' listener: a connection the server ends while idle must not crash the
 * process, `onLost` is told instead.
 */
export function newClient(connectionString: string, settings: ClientSettings, onLost: () => void): pg.Client {
  const client = new pg.Client({
    ...pgSslSettings(connectionString),
    connectionTimeoutMillis: settings.connectTimeoutMs,
    ...(settings.statementTimeoutMs === undefined ? {} : { statement_timeout: settings.statementTimeoutMs }),
    pipeline: true,
  } as pg.ClientConfig);
  client.on('error', onLost);
  return client;
}

/** Counts a finished checkout; true when the connection must now be closed rather than reused. */
export function wornOut(life: Lifetime, settings: ClientSettings, destroy: boolean): boolean {
  life.uses++;
  return (
    destroy ||
    life.dead ||
    (settings.maxUses > 0 && life.uses >= settings.maxUses) ||
    (settings.maxLifetimeSeconds > 0 && Date.now() - life.born >= settings.maxLifetimeSeconds * 1000)
  );
}

/**
 * Marks an idle connection: it no longer keeps the process alive (as pg-pool's allowExitOnIdle), and after
 * `idleTimeoutMs` unused `expire` is called (the pool closes it).
 */
export function parkIdle(client: pg.Client, life: Lifetime, idleTimeoutMs: number, expire: () => void): void {
  holdOpen(client, false);
  clearTimeout(life.idleTimer);
  life.idleTimer = setTimeout(expire, idleTimeoutMs);
  life.idleTimer.unref();
}

/** Takes a connection out of idleness: its idle timer stops and it keeps the process alive while busy. */
export function unpark(client: pg.Client, life: Lifetime | undefined): void {
  clearTimeout(life?.idleTimer);
  holdOpen(client, true);
}

/**
 * Ends a connection; resolves once its socket is closed (so the server's count has dropped too). Bounded:
 * pg's end() waits for pipelined statements still on the wire, and a connection given back broken might
 * never answer them; its socket is then destroyed, so the slot is never lost.
 */
export async function closeClient(client: pg.Client, connectTimeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const forced = new Promise<void>((resolve) => {
    timer = setTimeout(
      () => {
        (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
        resolve();
      },
      connectTimeoutMs > 0 ? Math.min(connectTimeoutMs, CLOSE_TIMEOUT_MS) : CLOSE_TIMEOUT_MS,
    );
  });
  await Promise.race([client.end().catch(() => undefined), forced]);
  clearTimeout(timer);
}

/** Whether an open connection keeps the process alive (pg's Client has ref/unref; its types do not say so). */
function holdOpen(client: pg.Client, hold: boolean): void {
  const socket = client as unknown as { ref?(): void; unref?(): void };
  if (hold) socket.ref?.();
  else socket.unref?.();
}

/** A caller waiting for a connection. */
export interface Waiter {
  resolve(client: pg.Client): void;
  reject(error: unknown): void;
  timer?: NodeJS.Timeout;
  /** When it started waiting (performance.now()). */
  since: number;
}

/** What a pool is, for the message of an exhausted one. */
export interface ExhaustionShape {
  target: string;
  max: number;
  connectTimeoutMs: number;
}

/**
 * Callers waiting for a connection, in arrival order. A waiter not served within the connect timeout is
 * removed and fails with `PoolExhaustedError` (what pg-pool's own timeout becomes in drivers/pool-exhausted.ts).
 */
export class WaitQueue<W extends Waiter> {
  readonly list: W[] = [];

  constructor(
    private readonly shape: ExhaustionShape,
    private readonly busy: () => number,
  ) {}

  get length(): number {
    return this.list.length;
  }

  /**
   * Queues `waiter` (its resolve/reject settle the returned promise's caller) with the connect timeout;
   * `connect_timeout=0` waits without limit, as pg-pool's `connectionTimeoutMillis: 0` and libpq's 0 do.
   */
  push(waiter: W): void {
    if (this.shape.connectTimeoutMs > 0) {
      waiter.timer = setTimeout(() => {
        if (this.remove(waiter)) waiter.reject(this.exhausted());
      }, this.shape.connectTimeoutMs);
    }
    this.list.push(waiter);
  }

  /** Removes a waiter and stops its timer; false when it was no longer queued. */
  remove(waiter: W): boolean {
    clearTimeout(waiter.timer);
    const at = this.list.indexOf(waiter);
    if (at < 0) return false;
    this.list.splice(at, 1);
    return true;
  }

  /** Fails every waiter with `error` (the pool is ending). */
  rejectAll(error: () => Error): void {
    for (const waiter of this.list.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(error());
    }
  }

  exhausted(): PoolExhaustedError {
    const cause = new Error('timeout exceeded when trying to connect');
    return new PoolExhaustedError({ ...this.shape, busy: this.busy(), waiting: this.list.length }, cause);
  }
}

/** What a pool's acquire() after end() says (pg-pool's words). */
export const POOL_ENDED = 'Cannot use a pool after calling end on the pool';
