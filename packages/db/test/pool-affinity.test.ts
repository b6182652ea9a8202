import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CgkError } from '../src/index.js';
import { homeSlot } from '../src/drivers/pg/affinity-pool.js';
import { createPgDriver } from '../src/drivers/pg/driver.js';
import { parsePoolSettings } from '../src/drivers/pool-settings.js';
import type { Driver, Transaction } from '../src/drivers/types.js';
import { adminQuery, createTestDatabase, type TestDatabase } from './helpers/database.js';

/**
 * The pg driver's tenant-affinity pool (drivers/pg/affinity-pool.ts), on the real server: which backend a scope
 * of a tenant lands on (pg_backend_pid()), what happens under saturation, and everything pg-pool gave.
 */

let scratch: TestDatabase;
beforeAll(async () => {
  scratch = await createTestDatabase('cgk_test_affinity');
});
afterAll(async () => {
  await scratch?.drop();
});

/** A pg driver on the scratch database; the affinity pool unless `params` say `pool_affinity=0`. */
const open = (params: string): Driver =>
  createPgDriver({ connectionString: `${scratch.url}?${params.includes('pool_affinity') ? '' : 'pool_affinity=1&'}${params}` });
/** Runs `work` on a driver opened with `params`, ended afterwards whatever happens. */
async function using(params: string, work: (driver: Driver) => Promise<void>): Promise<void> {
  const driver = open(params);
  try {
    await work(driver);
  } finally {
    await driver.end();
  }
}
/** A pid passed through, `name` appended to `order` when it arrives. */
const noted = (order: string[], name: string) => (pid: number) => {
  order.push(name);
  return pid;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function pidIn(tx: Transaction): Promise<number> {
  return Number((await tx.query({ text: 'select pg_backend_pid() as pid' })).rows[0]!.pid);
}

/** A scope of `tenant` (its schema name, as withTenant passes it) that holds its connection until `hold` settles. */
async function scope(driver: Driver, tenant: string, hold: Promise<unknown> = Promise.resolve()): Promise<number> {
  const { tx } = await driver.begin([], { tenant });
  const pid = await pidIn(tx);
  await hold;
  await tx.commit();
  return pid;
}

/** A scope of `tenant` holding its connection until `release()`; `pid` settles once it has committed. */
function held(driver: Driver, tenant: string): { pid: Promise<number>; release: () => void } {
  let release!: () => void;
  const pid = scope(driver, tenant, new Promise<void>((resolve) => (release = resolve)));
  return { pid, release };
}

/** Both connections of a `pool_max=2` driver held, by a scope of `a` and one of `b`. */
async function holdBoth(driver: Driver, a: string, b: string) {
  const both = [held(driver, a), held(driver, b)] as const;
  await sleep(100);
  return both;
}

/** `count` tenant names, the i-th of which has home slot i % size. */
function tenantsByHome(size: number, count = size): string[] {
  const found: string[] = [];
  for (let n = 0; found.length < count; n++) {
    const name = `tenant_t${n}`;
    if (homeSlot(name, size) === found.length % size) found.push(name);
  }
  return found;
}

async function backends(): Promise<number[]> {
  const { rows } = await adminQuery('select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [
    scratch.name,
  ]);
  return rows.map((r) => Number(r.pid));
}

describe('pool_affinity', () => {
  it('is off by default; pool_affinity=1 turns it on; anything but 0/1 is refused', () => {
    expect(parsePoolSettings('postgres://h/db').affinity).toBe(false);
    const off = parsePoolSettings('postgres://h/db?pool_affinity=0&sslmode=disable');
    expect(off.affinity).toBe(false);
    expect(new URL(off.connectionString).searchParams.has('pool_affinity')).toBe(false);
    expect(parsePoolSettings('postgres://h/db?pool_affinity=1').affinity).toBe(true);
    expect(() => parsePoolSettings('postgres://h/db?pool_affinity=yes')).toThrow(/pool_affinity=yes is not 0 or 1/);
  });

  /** Opens every connection (one scope per home slot at once), then runs scopes one at a time. */
  async function landings(params: string): Promise<Map<string, number[]>> {
    const tenants = tenantsByHome(4, 8);
    const seen = new Map<string, number[]>(tenants.map((t) => [t, []]));
    await using(`pool_max=4&${params}`, async (driver) => {
      const gate = sleep(100);
      await Promise.all(tenants.slice(0, 4).map((t) => scope(driver, t, gate)));
      for (let round = 0; round < 3; round++) {
        for (const t of [...tenants].sort(() => Math.random() - 0.5)) seen.get(t)!.push(await scope(driver, t));
      }
    });
    return seen;
  }

  it('with the pool not saturated, sends each scope of a tenant to the backend that served its last one', async () => {
    const seen = await landings('');
    for (const pids of seen.values()) expect(new Set(pids).size).toBe(1);
    // Not one connection for everything: the tenants are spread over the four (two per home slot).
    expect(new Set([...seen.values()].map((pids) => pids[0])).size).toBe(4);
  });

  it('pool_affinity=0 is pg-pool: one at a time, every scope takes the connection released last', async () => {
    const seen = await landings('pool_affinity=0');
    expect(new Set([...seen.values()].flat()).size).toBe(1);
  });

  it('under saturation hands a released connection to a waiting scope of a tenant it served, before older waiters', async () => {
    const [a, b] = tenantsByHome(2);
    await using('pool_max=2', async (driver) => {
      const [{ pid: heldA, release: releaseA }, { pid: heldB, release: releaseB }] = await holdBoth(driver, a!, b!);
      const order: string[] = [];
      const waitingB = scope(driver, b!).then(noted(order, 'b'));
      await sleep(20);
      let releaseA2!: () => void;
      const holdA2 = new Promise<void>((resolve) => (releaseA2 = resolve));
      const waitingA = scope(driver, a!, holdA2).then(noted(order, 'a'));
      await sleep(20);
      releaseA();
      const pidA = await heldA;
      await sleep(50);
      expect(order).toEqual([]); // B's waiter did not get A's connection
      releaseB();
      expect(await waitingB).toBe(await heldB);
      releaseA2();
      expect(await waitingA).toBe(pidA); // A's connection went to A's waiter, though B's waited longer
    });
  });

  it('under saturation hands a released connection to the oldest waiter when it served none of them (home alone is no claim)', async () => {
    // Home slots 0, 1, 0, 1: C's home is A's connection, which never served C; D's home is B's.
    const [a, b, c, d] = tenantsByHome(2, 4);
    await using('pool_max=2', async (driver) => {
      const [{ pid: heldA, release: releaseA }, { pid: heldB, release: releaseB }] = await holdBoth(driver, a!, b!);
      const order: string[] = [];
      const waitingD = scope(driver, d!, sleep(50)).then(noted(order, 'd'));
      await sleep(20);
      const waitingC = scope(driver, c!, sleep(50)).then(noted(order, 'c'));
      await sleep(20);
      releaseA();
      const pidA = await heldA;
      expect(await waitingD).toBe(pidA); // the older waiter, though A's connection is C's home
      releaseB();
      await heldB;
      await waitingC;
      expect(order).toEqual(['d', 'c']);
    });
  });

  it('does not starve a waiter that no released connection knows, and bounds every wait', async () => {
    const [a, b] = tenantsByHome(2);
    await using('pool_max=2', async (driver) => {
      // B's home connection is held for 1.5 s; a stream of A scopes keeps the other one busy, always with an A
      // waiter queued behind B's. Passed over, B's waiter must get A's connection long before its own is free.
      const long = scope(driver, b!, sleep(1500));
      await sleep(30);
      const until = performance.now() + 2000;
      const stream = Array.from({ length: 4 }, async () => {
        while (performance.now() < until) await scope(driver, a!, sleep(5));
      });
      await sleep(50);
      const asked = performance.now();
      await scope(driver, b!);
      expect(performance.now() - asked).toBeLessThan(1000);
      await long;
      await Promise.all(stream);
    });
    // Many tenants, many callers: every scope ends, none waits near the connect timeout.
    await using('pool_max=3', async (busy) => {
      const tenants = Array.from({ length: 30 }, (_, i) => `tenant_m${i}`);
      let longest = 0;
      const callers = Array.from({ length: 40 }, async () => {
        for (let i = 0; i < 5; i++) {
          const started = performance.now();
          await scope(busy, tenants[Math.floor(Math.random() * tenants.length)]!, sleep(2));
          longest = Math.max(longest, performance.now() - started);
        }
      });
      await Promise.all(callers);
      expect(longest).toBeLessThan(3000);
    });
  });

  it('gives CGK_POOL_EXHAUSTED after connect_timeout with every connection busy, naming the pool', async () => {
    await using('pool_max=1&connect_timeout=0.5', async (driver) => {
      let release!: () => void;
      const held = scope(driver, 'tenant_x', new Promise<void>((resolve) => (release = resolve)));
      await sleep(50);
      const asked = performance.now();
      const error = await driver.begin([], { tenant: 'tenant_y' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(performance.now() - asked).toBeGreaterThanOrEqual(450);
      expect(error).toBeInstanceOf(CgkError);
      expect((error as CgkError).code).toBe('CGK_POOL_EXHAUSTED');
      expect((error as CgkError).message).toMatch(/all 1 of pool_max=1 connections stayed busy for 0.5 s \(0 more/);
      release();
      await held;
    });
  });

  it('waits without limit with connect_timeout=0, as pg-pool does', async () => {
    await using('pool_max=1&connect_timeout=0', async (driver) => {
      const held = scope(driver, 'tenant_x', sleep(300));
      await sleep(50);
      const asked = performance.now();
      await scope(driver, 'tenant_y');
      expect(performance.now() - asked).toBeGreaterThanOrEqual(200);
      await held;
    });
  });

  it('closes connections unused for idle_timeout, and end() refuses waiters', async () => {
    await using('pool_max=3&idle_timeout=1', async (driver) => {
      const gate = sleep(100);
      await Promise.all(['tenant_i1', 'tenant_i2', 'tenant_i3'].map((t) => scope(driver, t, gate)));
      expect((await backends()).length).toBe(3);
      await sleep(1600);
      expect(await backends()).toEqual([]);
      let release!: () => void;
      const hold = new Promise<void>((resolve) => (release = resolve));
      const held = Promise.all(['tenant_i1', 'tenant_i2', 'tenant_i3'].map((t) => scope(driver, t, hold)));
      await sleep(50);
      const waiting = driver.begin([], { tenant: 'tenant_i4' });
      const ending = driver.end();
      await expect(waiting).rejects.toThrow(/after calling end/);
      release();
      await held.catch(() => undefined);
      await ending;
    });
  });

  it('still retires a connection after pool_max_tenants tenants, and closes one released broken', async () => {
    await using('pool_max=1&pool_max_tenants=2', async (driver) => {
      const first = await scope(driver, 'tenant_r1');
      expect(await scope(driver, 'tenant_r1')).toBe(first);
      expect(await scope(driver, 'tenant_r2')).toBe(first); // the second tenant: served, then closed
      const second = await scope(driver, 'tenant_r3');
      expect(second).not.toBe(first);
      const session = await driver.acquire();
      session.release(true);
      await sleep(100);
      expect(await backends()).not.toContain(second);
      expect(await scope(driver, 'tenant_r3')).not.toBe(second);
    });
  });

  it('replaces an idle connection the server terminates, without crashing', async () => {
    await using('pool_max=2', async (driver) => {
      const gate = sleep(100);
      const pids = await Promise.all(tenantsByHome(2).map((t) => scope(driver, t, gate)));
      await adminQuery('select pg_terminate_backend($1)', [pids[0]]);
      await sleep(200);
      expect(await backends()).not.toContain(pids[0]);
      const again = await Promise.all(tenantsByHome(2).map((t) => scope(driver, t, sleep(50))));
      expect(again).not.toContain(pids[0]);
      expect(again).toContain(pids[1]);
      expect((await backends()).length).toBe(2);
    });
  });
});
