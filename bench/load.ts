/**
 * Many tenants under load, on one server: `npm run bench:load` (never run by the test suite).
 *
 *   npm run bench:load                     10 tenants against 10,000 (creating 10,000 takes ~7-15 minutes)
 *   npm run bench:load -- --quick          10 against 1,000, shorter phases
 *
 * Options: --tenants N, --seconds S (measured time per side, split in rounds), --rounds R, --callers C (32),
 * --dist uniform|zipf (how requests pick their tenant: uniformly, or Zipf with exponent 1, the first tenant
 * the busiest, as tenant traffic is in practice: a few tenants take most of it; default uniform),
 * --params 'k=v&k2=v2' (appended to both connection strings, e.g. pool settings), --keep (leave the big
 * database), --reuse NAME (measure a database a --keep run left instead of building one), --affinity (the
 * hash-routing experiment that preceded the pool's own tenant affinity: each side served by as many
 * one-connection Databases as the pool size, a tenant's scopes always sent to the same one, chosen by a hash
 * of its slug). The library's own tenant affinity is `--params pool_affinity=1` (off by default: pg-pool).
 *
 * Each side is a scratch database of tenants made by createTenant() (the real template), each seeded with one
 * order, served by one long-lived `Database` with the library's default pool. C callers loop for a fixed time,
 * each request a withTenant() scope on a tenant drawn uniformly at random: an indexed read, an insert and an
 * update. The two sides take turns in rounds (order alternating) on the same server in the same run; the
 * latencies of all rounds are pooled per side. At the end, the memory of each side's server connections is
 * read from /proc/<pid>/smaps_rollup (anonymous memory: the backend's own heap, where the catalog caches live;
 * shared buffers are not in it), also sampled every second during the run (peak). Writes
 * bench/results/load-<timestamp>.json and load-latest.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Database } from '../packages/db/src/index.js';
import { parsePoolSettings } from '../packages/db/src/drivers/pool-settings.js';
import { isMain, positiveInt } from './lib.js';
import {
  backendMemory,
  coldWarmProfile,
  log,
  memorySummary,
  prepareFleet,
  request,
  type BackendMemory,
  type Fleet,
} from './load-fleet.js';
import { machineInfo, resultsDir, timestamp } from './run.js';

export interface LoadOptions {
  tenants: number;
  seconds: number;
  rounds: number;
  callers: number;
  params: string;
  keep: boolean;
  reuse?: string;
  quick: boolean;
  affinity: boolean;
  dist: 'uniform' | 'zipf';
}

interface Side {
  label: string;
  fleet: Fleet;
  route: Router;
  /** Picks the tenant of the next request. */
  draw: () => string;
  latenciesUs: number[];
  errors: number;
  measuredMs: number;
  /** Largest anonymous memory of any of this side's backends over the run's samples. */
  peakMiB: number;
  /** Every backend pid seen: more than the pool size means connections were replaced. */
  pids: Set<number>;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

function withParams(url: string, params: string): string {
  if (!params) return url;
  const parsed = new URL(url);
  for (const [k, v] of new URLSearchParams(params)) parsed.searchParams.set(k, v);
  return parsed.toString();
}

/** Which Database serves a tenant's scope. */
interface Router {
  pick(slug: string): Database;
  end(): Promise<void>;
}

/**
 * The library's default: one Database, its pool hands any free connection to any tenant. With `affinity`,
 * as many one-connection Databases as that pool's size, a tenant always sent to the same one (FNV-1a of its
 * slug): each connection then sees 1/N of the tenants, so more of its requests find the tenant's catalog
 * entries already cached, at the price of waiting for that connection when another one is free.
 */
function router(url: string, affinity: boolean): Router {
  if (!affinity) {
    const db = new Database({ url });
    return { pick: () => db, end: () => db.end() };
  }
  const size = parsePoolSettings(url).max;
  const one = new URL(url);
  one.searchParams.set('pool_max', '1');
  const dbs = Array.from({ length: size }, () => new Database({ url: one.toString() }));
  return {
    pick: (slug) => dbs[fnv1a(slug) % size]!,
    end: async () => {
      await Promise.all(dbs.map((db) => db.end()));
    },
  };
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}

/**
 * How requests pick their tenant. Zipf (exponent 1): the tenant of rank k gets a share proportional to 1/k, so
 * at 10,000 tenants the first takes ~10% of the requests and the first 100 about half; drawn by binary search
 * in the cumulative weights.
 */
export function drawer(slugs: readonly string[], dist: 'uniform' | 'zipf'): () => string {
  if (dist === 'uniform') return () => slugs[Math.floor(Math.random() * slugs.length)]!;
  const cumulative = new Float64Array(slugs.length);
  let total = 0;
  for (let k = 0; k < slugs.length; k++) cumulative[k] = total += 1 / (k + 1);
  return () => {
    const x = Math.random() * total;
    let lo = 0;
    let hi = slugs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return slugs[lo]!;
  };
}

/** `callers` loops of one scope on a random tenant each, for `ms`; latencies appended to the side. */
async function phase(side: Side, callers: number, ms: number): Promise<void> {
  const started = performance.now();
  const until = started + ms;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < until) {
        const slug = side.draw();
        const t = performance.now();
        try {
          await side.route.pick(slug).withTenant(slug, request);
          side.latenciesUs.push((performance.now() - t) * 1000);
        } catch (error) {
          if (side.errors++ === 0) log(`${side.label}: first error: ${(error as Error).message}`);
        }
      }
    }),
  );
  side.measuredMs += performance.now() - started;
}

/** Samples the side's backends every second while `work` runs. */
async function sampled(side: Side, work: Promise<void>): Promise<void> {
  let running = true;
  const loop = (async () => {
    while (running) {
      await new Promise((r) => setTimeout(r, 1000));
      const samples = await backendMemory(side.fleet.name).catch((): BackendMemory[] => []);
      for (const s of samples) {
        side.pids.add(s.pid);
        side.peakMiB = Math.max(side.peakMiB, s.anonMiB);
      }
    }
  })();
  try {
    await work;
  } finally {
    running = false;
    await loop;
  }
}

function sideReport(side: Side, memory: BackendMemory[]) {
  const seconds = side.measuredMs / 1000;
  return {
    tenants: side.fleet.slugs.length,
    database: side.fleet.name,
    requests: side.latenciesUs.length,
    errors: side.errors,
    throughputPerSecond: Math.round(side.latenciesUs.length / seconds),
    p50Ms: percentile(side.latenciesUs, 50) / 1000,
    p99Ms: percentile(side.latenciesUs, 99) / 1000,
    memory: { ...memorySummary(memory), peakMiB: side.peakMiB, connectionsSeen: side.pids.size, perBackend: memory },
  };
}

export async function runLoad(options: LoadOptions) {
  const startedAt = new Date();
  const small = await prepareFleet('s', 10, { keep: false });
  let big: Fleet | undefined;
  const sides: Side[] = [];
  try {
    big = await prepareFleet('t', options.tenants, { keep: options.keep, ...(options.reuse ? { reuse: options.reuse } : {}) });
    for (const [label, fleet] of [
      ['10 tenants', small],
      [`${options.tenants} tenants`, big],
    ] as const) {
      sides.push({
        label,
        fleet,
        route: router(withParams(fleet.url, options.params), options.affinity),
        draw: drawer(fleet.slugs, options.dist),
        latenciesUs: [],
        errors: 0,
        measuredMs: 0,
        peakMiB: 0,
        pids: new Set(),
      });
    }
    const perPhase = (options.seconds * 1000) / options.rounds;
    const params = options.params ? `, params ${options.params}` : '';
    log(`${options.callers} callers, ${options.rounds} rounds of ${(perPhase / 1000).toFixed(1)} s per side${params}`);
    for (const side of sides) await phase(side, options.callers, 1000); // warm-up: connections open
    for (const side of sides) Object.assign(side, { latenciesUs: [], measuredMs: 0, errors: 0 });
    for (let round = 0; round < options.rounds; round++) {
      const order = round % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) await sampled(side, phase(side, options.callers, perPhase));
      log(`round ${round + 1}/${options.rounds}: ${sides.map((s) => `${s.label} ${s.latenciesUs.length} requests`).join(', ')}`);
    }
    const memory = await Promise.all(sides.map((s) => backendMemory(s.fleet.name)));
    const [smallReport, bigReport] = sides.map((s, i) => sideReport(s, memory[i]!));
    await Promise.all(sides.map((s) => s.route.end()));
    const firstTouch = await coldWarmProfile(big.url, big.slugs, 200);
    const report = {
      kind: 'load',
      date: startedAt.toISOString(),
      options,
      poolSize: parsePoolSettings(withParams(small.url, options.params)).max,
      poolAffinity: parsePoolSettings(withParams(small.url, options.params)).affinity,
      machine: await machineInfo(),
      small: smallReport!,
      big: bigReport!,
      /** One connection: a tenant's first request on it against its second, per statement (µs, medians). */
      firstTouch,
    };
    await mkdir(resultsDir, { recursive: true });
    const json = JSON.stringify(report, null, 2);
    await writeFile(join(resultsDir, `load-${timestamp(startedAt)}.json`), json);
    await writeFile(join(resultsDir, 'load-latest.json'), json);
    return report;
  } finally {
    await Promise.all(sides.map((s) => s.route.end()));
    await small.drop();
    await big?.drop();
  }
}

type LoadReport = Awaited<ReturnType<typeof runLoad>>;

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

/** One table line: measure, 10 tenants, N tenants, ratio, goal, met? (`goal` checks N's value or the ratio). */
function line(name: string, unit: string, small: number, big: number, goal?: { text: string; met: boolean }): string[] {
  return [
    name,
    `${fmt(small)} ${unit}`,
    `${fmt(big)} ${unit}`,
    `${(big / small).toFixed(2)}x`,
    goal?.text ?? '—',
    goal ? (goal.met ? 'yes' : 'NO') : '—',
  ];
}

/** The rows and the goals: p99 ≤ 1.5x, throughput ≥ 0.8x, ≤ 32 MiB per connection at the large fleet. */
export function printLoad(r: LoadReport): void {
  const s = r.small;
  const b = r.big;
  const rps = b.throughputPerSecond / s.throughputPerSecond;
  const rows = [
    line('p50 latency', 'ms', s.p50Ms, b.p50Ms),
    line('p99 latency', 'ms', s.p99Ms, b.p99Ms, { text: '≤ 1.50x', met: b.p99Ms / s.p99Ms <= 1.5 }),
    line('throughput', 'req/s', s.throughputPerSecond, b.throughputPerSecond, { text: '≥ 0.80x', met: rps >= 0.8 }),
    line('server memory per connection (anon, largest at end)', 'MiB', s.memory.maxMiB, b.memory.maxMiB, {
      text: '≤ 32 MiB',
      met: b.memory.maxMiB <= 32,
    }),
    line('server memory per connection (anon, median at end)', 'MiB', s.memory.medianMiB, b.memory.medianMiB),
    line('server memory per connection (anon, peak in run)', 'MiB', s.memory.peakMiB, b.memory.peakMiB, {
      text: '≤ 32 MiB',
      met: b.memory.peakMiB <= 32,
    }),
  ];
  const header = ['measure', 'baseline: 10 tenants', `ours: ${b.tenants} tenants`, 'ratio', 'goal', 'met?'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((l) => l[i]!.length)));
  const o = r.options;
  console.log(
    `\nbench:load: ${o.callers} callers, ${o.dist ?? 'uniform'} tenants, ${o.seconds} s per side in ${o.rounds} rounds, ` +
      `pool ${r.poolSize} ${o.params}` +
      (o.affinity ? ', hash routing (one-connection Databases)' : r.poolAffinity ? ', pool_affinity on' : ', pg-pool'),
  );
  for (const cells of [header, widths.map((w) => '-'.repeat(w)), ...rows]) {
    console.log(
      cells
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    );
  }
  console.log(`\nrequests: ${s.requests} / ${b.requests}; errors: ${s.errors} / ${b.errors}`);
  console.log(`connections seen: ${s.memory.connectionsSeen} / ${b.memory.connectionsSeen}`);
  console.log(`PSS median at end ${fmt(s.memory.pssMedianMiB)} / ${fmt(b.memory.pssMedianMiB)} MiB`);
  const ft = r.firstTouch;
  const part = (k: keyof typeof ft.cold) => `${k} ${fmt(ft.cold[k])} vs ${fmt(ft.warm[k])} µs`;
  const parts = (['scope', 'read', 'insert', 'update'] as const).map(part).join(', ');
  console.log(`first request of a tenant on a connection vs its second (one connection, 200 tenants): ${parts}`);
}

export function parseLoadArgs(argv: string[]): LoadOptions {
  const quick = argv.includes('--quick');
  const options: LoadOptions = {
    tenants: quick ? 1000 : 10_000,
    seconds: quick ? 24 : 60,
    rounds: quick ? 4 : 6,
    callers: 32,
    params: '',
    keep: false,
    quick,
    affinity: false,
    dist: 'uniform',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const int = () => positiveInt(argv, i++);
    if (arg === '--tenants') options.tenants = int();
    else if (arg === '--seconds') options.seconds = int();
    else if (arg === '--rounds') options.rounds = int();
    else if (arg === '--callers') options.callers = int();
    else if (arg === '--params') options.params = argv[++i] ?? '';
    else if (arg === '--reuse') options.reuse = argv[++i];
    else if (arg === '--keep') options.keep = true;
    else if (arg === '--affinity') options.affinity = true;
    else if (arg === '--dist') {
      const dist = argv[++i];
      if (dist !== 'uniform' && dist !== 'zipf') throw new Error(`--dist takes uniform or zipf, not ${String(dist)}`);
      options.dist = dist;
    } else if (arg === '--quick') continue;
    else throw new Error(`unknown option ${arg}; see the comment at the top of bench/load.ts`);
  }
  return options;
}

if (isMain(import.meta.url)) {
  printLoad(await runLoad(parseLoadArgs(process.argv.slice(2))));
  setTimeout(() => process.exit(), 1000).unref();
}
