import type pg from 'pg';
import { REFUSED_PASSWORD } from '../errors.js';
import {
  closeClient,
  newClient,
  newLifetime,
  parkIdle,
  POOL_ENDED,
  unpark,
  WaitQueue,
  wornOut,
  type ClientSettings,
  type Lifetime,
  type Waiter as QueuedWaiter,
} from './clients.js';
import type { TenantPoolStats } from '../types.js';

/**
 * The connections of the `login` isolation mode (docs/ISOLATION.md): each tenant scope runs on a connection
 * logged in AS the tenant's role, so SQL inside the scope (`RESET ROLE`, `SET SESSION AUTHORIZATION
 * DEFAULT`) can only ever return to that tenant. One pool per tenant in use, all of them under two bounds:
 *   - `maxConnections`: server connections open (or opening) across every tenant, never exceeded. A scope
 *     that needs a connection when all are taken first closes an idle connection of another tenant; if every
 *     connection is busy it waits, in order, and after `connectTimeoutMs` fails with `PoolExhaustedError`.
 *   - `maxTenants`: tenants that keep connections, least recently used evicted first. An evicted tenant's idle
 *     connections close at once; its busy ones close when their scope ends.
 * A released connection goes to a waiter of its tenant first; else it is closed and its slot reopened for a
 * waiter whose tenant has no connection; else it stays idle in its pool.
 */

/**
 * How long a scope whose tenant has busy connections waits for one of them before it closes another tenant's
 * idle connection to open its own: what a new login costs, so the worst case costs at most twice the best
 * choice (the ski-rental rule), and a burst over a few tenants does not turn into a login per scope. The
 * pools measure their logins (a moving average, bounded to 5-100 ms); before the first one, 10 ms (TCP +
 * SCRAM took 6-13 ms on loopback, see docs/BENCHMARKS.md).
 */
const STEAL_AFTER_MS = 10;
const STEAL_BOUNDS_MS = [5, 100] as const;

/** What the pools need to know; `password(role)` derives the role's password (roles/credentials.ts). */
export interface TenantPoolsOptions extends ClientSettings {
  /** The application's connection string, pool parameters removed; user and password are replaced per tenant. */
  connectionString: string;
  /** The same, password removed, for messages. */
  target: string;
  maxConnections: number;
  maxTenants: number;
  /** The role's passwords to try, in order (roles/credentials.ts derives them; former secrets last). */
  passwords(role: string): string[];
}

interface Pool {
  role: string;
  idle: pg.Client[];
  busy: number;
  evicted: boolean;
}

interface Meta extends Lifetime {
  pool: Pool;
}

interface Waiter extends QueuedWaiter {
  role: string;
  steal?: NodeJS.Timeout;
}

/** Per-tenant pools of connections logged in as the tenant's role, under one connection cap and one LRU. */
export class TenantPools {
  /** Least recently used first (a Map keeps insertion order; a use moves the tenant to the end). */
  readonly #pools = new Map<string, Pool>();
  readonly #meta = new WeakMap<pg.Client, Meta>();
  readonly #queue: WaitQueue<Waiter>;
  readonly #waiters: Waiter[];
  #open = 0;
  #logins = 0;
  /** What a login costs here, measured (see STEAL_AFTER_MS). */
  #stealAfterMs = STEAL_AFTER_MS;
  #ended = false;

  constructor(private readonly options: TenantPoolsOptions) {
    const { target, maxConnections: max, connectTimeoutMs } = options;
    this.#queue = new WaitQueue<Waiter>({ target, max, connectTimeoutMs }, () => this.#open);
    this.#waiters = this.#queue.list;
  }

  /** A connection logged in as `role`, checked out for the caller until `release()`. */
  async acquire(role: string): Promise<pg.Client> {
    if (this.#ended) throw new Error(POOL_ENDED);
    const pool = this.#touch(role);
    const idle = this.#takeIdle(pool);
    if (idle) return idle;
    if (this.#open < this.options.maxConnections) {
      this.#open++;
      return this.#connect(pool);
    }
    // A tenant with busy connections waits for one of them first (see #stealAfterMs); one with none takes
    // the slot of another tenant's idle connection at once.
    const victim = pool.busy === 0 ? this.#oldestIdle() : undefined;
    if (victim) return this.#replace(victim, role);
    return this.#wait(role, pool.busy > 0);
  }

  /** Closes `victim` and opens a connection for `role` on its slot: the count never goes above the cap. */
  async #replace(victim: pg.Client, role: string): Promise<pg.Client> {
    await this.#close(victim);
    return this.#connect(this.#touch(role));
  }

  /** Gives `client` back: reused, handed to a waiter, or closed (`destroy`, retired, evicted tenant, ended). */
  release(client: pg.Client, destroy = false): void {
    const meta = this.#meta.get(client);
    if (!meta) return;
    meta.pool.busy--;
    const retire = wornOut(meta, this.options, destroy) || meta.pool.evicted || this.#ended;
    const same = this.#waiters.findIndex((w) => w.role === meta.pool.role);
    if (!retire && same >= 0) {
      const [waiter] = this.#waiters.splice(same, 1);
      this.#handTo(waiter!, client, meta.pool);
    } else if (retire || this.#waiters.some((w) => (this.#pools.get(w.role)?.busy ?? 0) === 0)) {
      // Closed for a waiter whose tenant has no connection to wait for; other waiters get their own tenant's.
      void this.#close(client).then(() => this.#slotFreed());
    } else {
      this.#park(client, meta);
    }
  }

  /** Counts, for tests and diagnostics. */
  stats(): TenantPoolStats {
    let idle = 0;
    for (const pool of this.#pools.values()) idle += pool.idle.length;
    return { open: this.#open, tenants: this.#pools.size, idle, waiting: this.#waiters.length, logins: this.#logins };
  }

  /** Closes every idle connection, refuses waiters; busy connections close when released. */
  async end(): Promise<void> {
    this.#ended = true;
    for (const waiter of this.#waiters) clearTimeout(waiter.steal);
    this.#queue.rejectAll(() => new Error(POOL_ENDED));
    const closing: Promise<void>[] = [];
    for (const pool of this.#pools.values()) {
      for (const client of pool.idle.splice(0)) closing.push(this.#close(client).then(() => this.#slotFreed()));
    }
    this.#pools.clear();
    await Promise.all(closing);
  }

  /** Forgets `role`'s pool (its tenant was dropped): idle connections close now, busy ones when released. */
  retire(role: string): void {
    const pool = this.#pools.get(role);
    if (pool) this.#drop(role, pool);
  }

  #drop(name: string, pool: Pool): void {
    this.#pools.delete(name);
    pool.evicted = true;
    for (const client of pool.idle.splice(0)) {
      clearTimeout(this.#meta.get(client)?.idleTimer);
      void this.#close(client).then(() => this.#slotFreed());
    }
  }

  /** The tenant's pool, made most recently used (created empty if it has none). */
  #touch(role: string): Pool {
    let pool = this.#pools.get(role);
    if (pool) this.#pools.delete(role);
    else pool = { role, idle: [], busy: 0, evicted: false };
    this.#pools.set(role, pool);
    return pool;
  }

  /**
   * Evicts tenants beyond `maxTenants`, least recently used first, never `keep`. Run once a connection is
   * open, not when one is asked for: a scope of a tenant that does not exist (its login fails) must not
   * cost a real tenant its connections. Pools without connections go first, at no cost.
   */
  #evict(keep: Pool): void {
    const limit = Math.max(1, this.options.maxTenants);
    for (const [name, old] of this.#pools) {
      if (this.#pools.size <= limit) return;
      if (old !== keep && old.busy === 0 && old.idle.length === 0) this.#pools.delete(name);
    }
    for (const [name, old] of this.#pools) {
      if (this.#pools.size <= limit) return;
      if (old !== keep) this.#drop(name, old);
    }
  }

  #takeIdle(pool: Pool): pg.Client | undefined {
    const client = pool.idle.pop();
    if (!client) return undefined;
    unpark(client, this.#meta.get(client));
    pool.busy++;
    return client;
  }

  /** The least recently used tenant's idle connection, taken out of its pool (to be closed). */
  #oldestIdle(): pg.Client | undefined {
    for (const pool of this.#pools.values()) {
      const client = pool.idle.shift();
      if (client) {
        clearTimeout(this.#meta.get(client)?.idleTimer);
        return client;
      }
    }
    return undefined;
  }

  /** Opens a connection as `pool.role` on a slot already counted in `#open`; frees the slot if it fails. */
  async #connect(pool: Pool): Promise<pg.Client> {
    pool.busy++;
    const meta: Meta = { pool, ...newLifetime() };
    let client: pg.Client;
    const started = performance.now();
    try {
      client = await this.#login(pool.role, meta);
    } catch (error) {
      pool.busy--;
      if (pool.busy === 0 && pool.idle.length === 0 && this.#pools.get(pool.role) === pool) this.#pools.delete(pool.role);
      this.#slotFreed();
      throw error;
    }
    this.#meta.set(client, meta);
    this.#logins++;
    const [low, high] = STEAL_BOUNDS_MS;
    const took = Math.min(high, Math.max(low, performance.now() - started));
    this.#stealAfterMs = this.#stealAfterMs * 0.8 + took * 0.2;
    if (this.#pools.get(pool.role) === pool) this.#evict(pool);
    return client;
  }

  /**
   * A connection logged in as `role`, trying its passwords in order (the current secret's, then former ones
   * while a rotation is under way): only a refused password moves on to the next.
   */
  async #login(role: string, meta: Meta): Promise<pg.Client> {
    const o = this.options;
    const passwords = o.passwords(role);
    for (let i = 0; ; i++) {
      const url = new URL(o.connectionString);
      url.username = role;
      url.password = passwords[i]!;
      // A connection the server ends while idle must not crash the process: it is dropped from its pool.
      const client: pg.Client = newClient(url.toString(), o, () => this.#lost(client, meta));
      try {
        await client.connect();
        return client;
      } catch (error) {
        if (i + 1 >= passwords.length || !REFUSED_PASSWORD.test((error as Error).message)) throw error;
      }
    }
  }

  #lost(client: pg.Client, meta: Meta): void {
    meta.dead = true;
    const at = meta.pool.idle.indexOf(client);
    if (at >= 0) {
      meta.pool.idle.splice(at, 1);
      clearTimeout(meta.idleTimer);
      void this.#close(client).then(() => this.#slotFreed());
    }
  }

  /**
   * Waits for a connection of `role`, up to the connect timeout. `steal`: the tenant has busy connections, so
   * one of them is awaited first; after about one login's time the waiter takes another tenant's idle one.
   */
  #wait(role: string, steal: boolean): Promise<pg.Client> {
    return new Promise<pg.Client>((resolve, reject) => {
      const waiter: Waiter = { role, resolve, since: performance.now(), reject };
      this.#queue.push(waiter);
      if (steal) waiter.steal = setTimeout(() => this.#steal(waiter), this.#stealAfterMs);
    });
  }

  /** Removes a waiter from the queue and stops its timers; false when it was no longer queued. */
  #unqueue(waiter: Waiter): boolean {
    clearTimeout(waiter.steal);
    return this.#queue.remove(waiter);
  }

  #steal(waiter: Waiter): void {
    if (!this.#waiters.includes(waiter)) return;
    const victim = this.#oldestIdle();
    if (!victim) return;
    this.#unqueue(waiter);
    this.#replace(victim, waiter.role).then(waiter.resolve, waiter.reject);
  }

  #handTo(waiter: Waiter, client: pg.Client, pool: Pool): void {
    this.#unqueue(waiter);
    pool.busy++;
    this.#touch(pool.role);
    waiter.resolve(client);
  }

  /** A slot became free: the first waiter gets it (a new connection for its tenant), else the count drops. */
  #slotFreed(): void {
    // end() has refused every waiter already. A waiter whose tenant has no connection to wait for goes first.
    const waiter = this.#waiters.find((w) => (this.#pools.get(w.role)?.busy ?? 0) === 0) ?? this.#waiters[0];
    if (!waiter) {
      this.#open--;
      return;
    }
    this.#unqueue(waiter);
    this.#connect(this.#touch(waiter.role)).then(waiter.resolve, waiter.reject);
  }

  #park(client: pg.Client, meta: Meta): void {
    meta.pool.idle.push(client);
    parkIdle(client, meta, this.options.idleTimeoutMs, () => {
      const at = meta.pool.idle.indexOf(client);
      if (at < 0) return;
      meta.pool.idle.splice(at, 1);
      void this.#close(client).then(() => this.#slotFreed());
    });
  }

  #close(client: pg.Client): Promise<void> {
    return closeClient(client, this.options.connectTimeoutMs);
  }
}
