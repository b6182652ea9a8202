import type pg from 'pg';
import * as clients from './clients.js';

/**
 * The pg driver's pool with tenant affinity (`pool_affinity=1`; docs/SCALING.md, "Tenant affinity in the
 * pool"). A PostgreSQL backend caches the catalog entries of each tenant relation it touches, and a
 * tenant's first request on a connection costs 2-3.6x a warm one; pg-pool hands any free connection to any
 * tenant, so with many tenants nearly every request is such a first touch. Here each tenant has a home slot
 * (a stable hash of its name, mod `max`) and a scope takes, in order: its home connection if free; a free
 * connection that already served the tenant; any free connection (an open one before opening a new one).
 * A free connection is never left idle while a scope waits. A released connection goes to a waiter whom it
 * already served, looking at the first `2 * max` waiters only (else to the oldest); the oldest waiter goes
 * first once it has been passed over `2 * max` times or has waited `MAX_BYPASS_MS`, so none starves.
 */

/**
 * Times the oldest waiter may be passed over, per connection of the pool: a waiter's own connections come by
 * about once per `max` releases, so a smaller bound (4 was measured) turns the queue back into FIFO.
 */
const PASSES_PER_CONNECTION = 2;
/** How long the oldest waiter may wait before it is served first whatever the tenants. */
const MAX_BYPASS_MS = 200;
/** Tenants remembered per connection (a bound on this process's memory, not the server's). */
const KNOWN_TENANTS = 4096;

/** What the pool needs to know. */
export interface AffinityPoolOptions extends clients.ClientSettings {
  /** The connection string, pool parameters removed. */
  connectionString: string;
  /** The same, password removed, for messages. */
  target: string;
  max: number;
}

interface Slot extends clients.Lifetime {
  index: number;
  client?: pg.Client;
  busy: boolean;
  /** Tenants this connection has served (their catalog entries are cached in its backend). */
  known: Set<string>;
}

interface Waiter extends clients.Waiter {
  tenant: string | undefined;
  home: number;
  passed: number;
}

/** A pool of at most `max` pg.Clients, each tenant's scopes kept on the connections that know it. */
export class AffinityPool {
  /** A slot is empty (undefined), opening (a Slot without client), busy, or idle. */
  readonly #slots: (Slot | undefined)[];
  readonly #bySlot = new WeakMap<pg.Client, Slot>();
  readonly #queue: clients.WaitQueue<Waiter>;
  #ended = false;
  readonly #maxPasses: number;

  constructor(private readonly options: AffinityPoolOptions) {
    this.#slots = Array.from({ length: Math.max(1, options.max) }, () => undefined);
    this.#maxPasses = PASSES_PER_CONNECTION * this.#slots.length;
    const { target, max, connectTimeoutMs } = options;
    this.#queue = new clients.WaitQueue<Waiter>({ target, max, connectTimeoutMs }, () => this.totalCount);
  }

  /** Connections open or opening (pg-pool's `totalCount`). */
  get totalCount(): number {
    return this.#slots.filter(Boolean).length;
  }

  /** Callers waiting for a connection (pg-pool's `waitingCount`). */
  get waitingCount(): number {
    return this.#queue.length;
  }

  /** Open connections nobody has checked out (pg-pool's `idleCount`). */
  get idleCount(): number {
    return this.#slots.filter((s) => s?.client && !s.busy).length;
  }

  /**
   * A connection checked out for the caller until `release()`, chosen for `tenant` (see the module comment);
   * without a tenant, any free one. Waits up to the connect timeout, then fails with `PoolExhaustedError`.
   */
  async acquire(tenant?: string): Promise<pg.Client> {
    if (this.#ended) throw new Error(clients.POOL_ENDED);
    const home = tenant === undefined ? -1 : homeSlot(tenant, this.#slots.length);
    const free = this.#freeFor(tenant, home);
    if (free) return this.#checkOut(free, tenant);
    const empty = this.#emptySlot(home);
    if (empty >= 0) return this.#open(empty, tenant);
    return new Promise<pg.Client>((resolve, reject) => {
      this.#queue.push({ tenant, home, resolve, reject, since: performance.now(), passed: 0 });
    });
  }

  /** Gives `client` back: handed to a waiter, parked idle, or closed (`destroy`, worn out, lost, ended). */
  release(client: pg.Client, destroy = false): void {
    const slot = this.#bySlot.get(client);
    if (!slot?.busy) return;
    slot.busy = false;
    if (clients.wornOut(slot, this.options, destroy) || this.#ended) {
      this.#retire(slot);
      return;
    }
    const waiter = this.#nextWaiter(slot);
    if (waiter) this.#handTo(slot, waiter);
    else this.#park(slot);
  }

  /** Closes every idle connection and refuses the waiters; busy connections close when released. */
  async end(): Promise<void> {
    this.#ended = true;
    this.#queue.rejectAll(() => new Error(clients.POOL_ENDED));
    const closing: Promise<void>[] = [];
    for (const slot of this.#slots) {
      if (!slot?.client || slot.busy) continue;
      clearTimeout(slot.idleTimer);
      this.#slots[slot.index] = undefined;
      closing.push(this.#close(slot));
    }
    await Promise.all(closing);
  }

  /** The best free connection for `tenant`: its home, else one that knows it, else the one that knows fewest. */
  #freeFor(tenant: string | undefined, home: number): Slot | undefined {
    const homeSlot = home >= 0 ? this.#slots[home] : undefined;
    if (homeSlot?.client && !homeSlot.busy) return homeSlot;
    let best: Slot | undefined;
    for (const slot of this.#slots) {
      if (!slot?.client || slot.busy) continue;
      if (tenant !== undefined && slot.known.has(tenant)) return slot;
      if (!best || slot.known.size < best.known.size) best = slot;
    }
    return best;
  }

  /** An empty slot, the tenant's home when it is empty; -1 when every slot holds a connection. */
  #emptySlot(home: number): number {
    if (home >= 0 && !this.#slots[home]) return home;
    return this.#slots.findIndex((s) => !s);
  }

  #checkOut(slot: Slot, tenant: string | undefined): pg.Client {
    const client = slot.client!;
    clients.unpark(client, slot);
    slot.busy = true;
    this.#remember(slot, tenant);
    return client;
  }

  #remember(slot: Slot, tenant: string | undefined): void {
    if (tenant === undefined || slot.known.has(tenant)) return;
    if (slot.known.size >= KNOWN_TENANTS) slot.known.delete(slot.known.values().next().value!);
    slot.known.add(tenant);
  }

  /** Opens a connection on empty slot `index` for the caller; the slot is empty again if that fails. */
  async #open(index: number, tenant: string | undefined): Promise<pg.Client> {
    const slot: Slot = { index, busy: true, known: new Set(), ...clients.newLifetime() };
    this.#slots[index] = slot;
    const client: pg.Client = clients.newClient(this.options.connectionString, this.options, () => this.#lost(slot));
    try {
      await client.connect();
    } catch (error) {
      this.#slots[index] = undefined;
      this.#slotFreed(index);
      throw error;
    }
    slot.client = client;
    this.#bySlot.set(client, slot);
    if (this.#ended) {
      // end() ran while this connection was opening: the caller gets the refusal it would have had.
      this.#slots[index] = undefined;
      void this.#close(slot);
      throw new Error(clients.POOL_ENDED);
    }
    this.#remember(slot, tenant);
    return client;
  }

  /**
   * The waiter a connection released from `slot` goes to: the oldest, once it has been passed over enough
   * or waited long enough; else the first (of the first `2 * max`) whose tenant this connection knows; else
   * the oldest. A home alone is no claim: with more tenants than the connections keep warm, a tenant's home
   * rarely still knows it, and passing older waiters over for it only lengthened the p99 (docs/SCALING.md).
   */
  #nextWaiter(slot: Slot): Waiter | undefined {
    const waiters = this.#queue.list;
    const oldest = waiters[0];
    if (!oldest) return undefined;
    if (oldest.passed >= this.#maxPasses || performance.now() - oldest.since >= MAX_BYPASS_MS) return oldest;
    const scan = Math.min(waiters.length, 2 * this.#slots.length);
    for (let i = 0; i < scan; i++) {
      const w = waiters[i]!;
      if (w.tenant === undefined || !slot.known.has(w.tenant)) continue;
      for (let j = 0; j < i; j++) waiters[j]!.passed++;
      return w;
    }
    return oldest;
  }

  #handTo(slot: Slot, waiter: Waiter): void {
    this.#queue.remove(waiter);
    waiter.resolve(this.#checkOut(slot, waiter.tenant));
  }

  #park(slot: Slot): void {
    clients.parkIdle(slot.client!, slot, this.options.idleTimeoutMs, () => {
      if (this.#slots[slot.index] === slot && !slot.busy) this.#retire(slot);
    });
  }

  /** An 'error' event: the server ended the connection. Idle, it is replaced now; busy, when released. */
  #lost(slot: Slot): void {
    slot.dead = true;
    if (slot.client && !slot.busy && this.#slots[slot.index] === slot) this.#retire(slot);
  }

  /** Closes the connection of `slot` and gives the slot to the waiter that needs it, if any. */
  #retire(slot: Slot): void {
    clearTimeout(slot.idleTimer);
    void this.#close(slot).then(() => {
      if (this.#slots[slot.index] === slot) this.#slots[slot.index] = undefined;
      this.#slotFreed(slot.index);
    });
  }

  #close(slot: Slot): Promise<void> {
    slot.busy = true; // never handed out again
    return slot.client ? clients.closeClient(slot.client, this.options.connectTimeoutMs) : Promise.resolve();
  }

  /** Slot `index` is empty: the waiter whose home it is (or the oldest) gets a new connection on it. */
  #slotFreed(index: number): void {
    if (this.#slots[index] || this.#ended) return;
    const waiters = this.#queue.list;
    const oldest = waiters[0];
    if (!oldest) return;
    const waiter =
      oldest.passed >= this.#maxPasses
        ? oldest
        : (waiters.slice(0, 2 * this.#slots.length).find((w) => w.home === index) ?? oldest);
    this.#queue.remove(waiter);
    this.#open(index, waiter.tenant).then(waiter.resolve, waiter.reject);
  }
}

/** A tenant's home slot: FNV-1a of its name, mod the pool size; stable across processes. */
export function homeSlot(tenant: string, size: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < tenant.length; i++) hash = Math.imul(hash ^ tenant.charCodeAt(i), 0x01000193) >>> 0;
  return hash % size;
}
