/**
 * The tenant cache against the raw ioredis client, same Redis, same run: what do namespacing, key checks,
 * error translation and the bounded-wait options (a commandTimeout timer per command) cost per operation?
 * Goal: at most 1.2x. The baseline serialises like the cache does (JSON); the "raw string" rows do not.
 *
 *   npx tsx bench/cache.bench.ts          (20,000 ops, 5 rounds; CGK_BENCH_OPS / CGK_BENCH_ROUNDS override)
 *
 * Each case runs `ops` operations per side per round, the two sides interleaved in blocks of ops/10 (the
 * order swapped from one block to the next, and the first block's order alternating round by round), for
 * `rounds` rounds, and reports the median per-operation time of each side and their ratio. Sequential cases
 * wait for each reply; the concurrent ones keep 16 operations in flight. Not part of the test suite.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { closeCache, createTenantCache, type TenantCache } from '../packages/db/src/cache/index.js';
import { isMain, median, printTable, row, type BenchRow } from './lib.js';

export interface CacheBenchOptions {
  /** Operations per side per round; default 20,000. */
  ops?: number;
  /** Rounds; the medians are over them. Default 5. */
  rounds?: number;
}

const IN_FLIGHT = 16;
/** Blocks per round, alternating sides. */
const BLOCKS = 10;
const KEYS = 100;

/** Runs `op(i)` for i in [0, ops) with `parallel` in flight; returns microseconds per operation. */
async function timeOps(ops: number, parallel: number, op: (i: number) => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  let next = 0;
  const worker = async () => {
    while (next < ops) await op(next++);
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return Number(process.hrtime.bigint() - started) / 1000 / ops;
}

type Op = (i: number) => Promise<unknown>;

interface BenchCase {
  name: string;
  parallel: number;
  baseline: Op;
  ours: Op;
}

/**
 * The cases: the baseline does what a hand-written cache on ioredis does for the same call (GET +
 * JSON.parse, JSON.stringify + SET); the "raw string" rows leave JSON out of the baseline, the strictest
 * comparison.
 */
function benchCases(raw: Redis, cache: TenantCache, rawKeys: string[], ourKeys: string[], value: object): BenchCase[] {
  const text = JSON.stringify(value);
  const rawGet: Op = (i) => raw.get(rawKeys[i % KEYS]!).then((t) => (t === null ? undefined : JSON.parse(t)));
  const rawSet: Op = (i) => raw.set(rawKeys[i % KEYS]!, JSON.stringify(value));
  const ourGet: Op = (i) => cache.get(ourKeys[i % KEYS]!);
  const ourSet: Op = (i) => cache.set(ourKeys[i % KEYS]!, value);
  return [
    { name: 'get', parallel: 1, baseline: rawGet, ours: ourGet },
    { name: 'set', parallel: 1, baseline: rawSet, ours: ourSet },
    {
      name: 'getOrSet (hit) vs get',
      parallel: 1,
      baseline: rawGet,
      ours: (i) => cache.getOrSet(ourKeys[i % KEYS]!, () => value),
    },
    { name: `get, ${IN_FLIGHT} in flight`, parallel: IN_FLIGHT, baseline: rawGet, ours: ourGet },
    { name: `set, ${IN_FLIGHT} in flight`, parallel: IN_FLIGHT, baseline: rawSet, ours: ourSet },
    {
      name: `get, ${IN_FLIGHT} in flight, raw string`,
      parallel: IN_FLIGHT,
      baseline: (i) => raw.get(rawKeys[i % KEYS]!),
      ours: ourGet,
    },
    {
      name: `set, ${IN_FLIGHT} in flight, raw string`,
      parallel: IN_FLIGHT,
      baseline: (i) => raw.set(rawKeys[i % KEYS]!, text),
      ours: ourSet,
    },
  ];
}

/**
 * One case over `rounds` rounds. One round = `ops` operations on each side, interleaved in blocks (order
 * swapped every block, the first block's order alternating by round), so a slowdown of the machine hits both
 * sides alike.
 */
async function measureCase(c: BenchCase, ops: number, rounds: number): Promise<BenchRow> {
  const baseline: number[] = [];
  const ours: number[] = [];
  const block = Math.ceil(ops / BLOCKS);
  for (let round = 0; round < rounds; round++) {
    let b = 0;
    let o = 0;
    for (let k = 0; k < BLOCKS; k++) {
      if ((round + k) % 2 === 0) {
        b += await timeOps(block, c.parallel, c.baseline);
        o += await timeOps(block, c.parallel, c.ours);
      } else {
        o += await timeOps(block, c.parallel, c.ours);
        b += await timeOps(block, c.parallel, c.baseline);
      }
    }
    baseline.push(b / BLOCKS);
    ours.push(o / BLOCKS);
  }
  const extra = c.name.includes('raw string')
    ? { note: 'baseline skips JSON: strictest comparison, no goal' }
    : /^(get|set)\b/.test(c.name)
      ? { goal: '≤ 1.20x' }
      : {};
  return row(`cache ${c.name} vs raw ioredis`, 'µs', median(baseline), median(ours), extra);
}

/** Benchmarks get, set and getOrSet (hit) through the tenant cache against GET/SET on a raw client. */
export async function runCacheBench({ ops = 20_000, rounds = 5 }: CacheBenchOptions = {}): Promise<BenchRow[]> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const run = randomBytes(4).toString('hex');
  const raw = new Redis(url, { lazyConnect: true });
  const cache = createTenantCache(`bench_${run}`, { url });
  const value = { id: 1234, name: 'Blue widget', price: 19.99, tags: ['sale', 'new'], stock: { eu: 12, us: 3 } };
  const rawKeys = Array.from({ length: KEYS }, (_, i) => `cgkbench:${run}:product:${i}`);
  const ourKeys = Array.from({ length: KEYS }, (_, i) => `product:${i}`);
  const cases = benchCases(raw, cache, rawKeys, ourKeys, value);
  try {
    for (let i = 0; i < KEYS; i++) {
      await raw.set(rawKeys[i]!, JSON.stringify(value));
      await cache.set(ourKeys[i]!, value);
    }
    // warm-up: connections open, JIT warm
    for (const c of cases) {
      await timeOps(Math.min(ops, 2000), c.parallel, c.baseline);
      await timeOps(Math.min(ops, 2000), c.parallel, c.ours);
    }
    const results: BenchRow[] = [];
    for (const c of cases) results.push(await measureCase(c, ops, rounds));
    return results;
  } finally {
    await cache.clear().catch(() => 0);
    if (rawKeys.length > 0) await raw.unlink(...rawKeys).catch(() => 0);
    await raw.quit().catch(() => raw.disconnect());
    await closeCache();
  }
}

if (isMain(import.meta.url)) {
  const ops = Number(process.env.CGK_BENCH_OPS ?? 20_000);
  const rounds = Number(process.env.CGK_BENCH_ROUNDS ?? 5);
  const title = `Tenant cache vs raw ioredis: ${ops} ops per measurement, median of ${rounds} alternating rounds (µs/op)`;
  printTable(title, await runCacheBench({ ops, rounds }));
}
