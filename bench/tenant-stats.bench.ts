/**
 * Per-tenant statistics, limits and the fair share of the pool (#30): `npm run bench -- --only tenant-stats`, or
 * `npx tsx bench/tenant-stats.bench.ts [--reuse DB] [--seconds S]`. Every figure against a baseline of the same run:
 *
 * - noisy neighbour: tenant A keeps 100 scopes of `pg_sleep(0.2)` in flight while 10 callers run bench:load's
 *   request (read, insert, update) on tenants B..K drawn at random; their median and p99 against the same
 *   callers without A, in alternating rounds on one Database (default pool, pool_max 10). Also shown: the same
 *   with the fair share off (share 1: any tenant may take the whole pool), the behaviour before it existed.
 * - statistics cost: withTenant(select 1) with the library's statistics on against off (two Databases).
 * - tenant:stats: `tenantStats({ top: 20 })` on a database of many tenants (`--reuse` one a `bench:load --keep`
 *   run left, e.g. 10,000 tenants), against one `select count(*) from pg_class` there; and the CLI end to end.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Database, configureTenantLimits, type Sql, tenantStats } from '../packages/db/src/index.js';
import {
  ADMIN_URL,
  createFleet,
  createScratchDatabase,
  interleave,
  isMain,
  median,
  printTable,
  row,
  type BenchRow,
} from './lib.js';
import { request } from './load-fleet.js';

const run = promisify(execFile);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

const NEIGHBOURS = Array.from({ length: 10 }, (_, i) => `n${String.fromCharCode(98 + i)}`); // nb..nk

/** `callers` loops of bench:load's request on B..K for `ms`; latencies (ms) appended. */
async function neighbours(db: Database, callers: number, ms: number, into: number[]): Promise<void> {
  const until = performance.now() + ms;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < until) {
        const slug = NEIGHBOURS[Math.floor(Math.random() * NEIGHBOURS.length)]!;
        const t = performance.now();
        await db.withTenant(slug, (sql: Sql) => request(sql));
        into.push(performance.now() - t);
      }
    }),
  );
}

/** Tenant A: `inFlight` loops of a 200 ms scope until `stop` says so; its refusals (TenantBusyError) counted. */
async function noisy(db: Database, inFlight: number, stop: { now: boolean }, refused: { n: number }): Promise<void> {
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (!stop.now) {
        await db.withTenant('na', (sql) => sql`select pg_sleep(0.2)`).catch(() => refused.n++);
      }
    }),
  );
}

async function noisyNeighbour(url: string, seconds: number, callers: number) {
  const fair = new Database({ url });
  const unfair = new Database({ url });
  configureTenantLimits(unfair, { share: 1 });
  const alone: number[] = [];
  const withA: number[] = [];
  const withAUnfair: number[] = [];
  const refused = { n: 0 };
  try {
    await neighbours(fair, callers, 1000, []);
    await neighbours(unfair, callers, 1000, []);
    const rounds = 4;
    const per = (seconds * 1000) / rounds;
    for (let round = 0; round < rounds; round++) {
      await neighbours(fair, callers, per, alone);
      for (const [db, into] of [
        [fair, withA],
        [unfair, withAUnfair],
      ] as const) {
        const stop = { now: false };
        const a = noisy(db, 100, stop, refused);
        await new Promise((resolve) => setTimeout(resolve, 500)); // A's burst is in flight
        await neighbours(db, callers, round === 0 ? per / 2 : per, into);
        stop.now = true;
        await a;
      }
    }
  } finally {
    await Promise.all([fair.end(), unfair.end()]);
  }
  return { alone, withA, withAUnfair, refused: refused.n };
}

async function statsCost(url: string, rounds: number, perRound: number) {
  const on = new Database({ url });
  const off = new Database({ url });
  configureTenantLimits(off, { stats: false });
  try {
    return await interleave(
      {
        on: () => on.withTenant('nb', (sql) => sql`select 1`),
        off: () => off.withTenant('nb', (sql) => sql`select 1`),
      },
      rounds,
      perRound,
    );
  } finally {
    await Promise.all([on.end(), off.end()]);
  }
}

async function statsQuery(url: string) {
  const db = new Database({ url });
  try {
    const tenants = (await tenantStats({ db, top: 1 })).tenants;
    const ours: number[] = [];
    const base: number[] = [];
    for (let i = 0; i < 5; i++) {
      let t = performance.now();
      await db.sql`select count(*) from pg_class`;
      base.push(performance.now() - t);
      t = performance.now();
      await tenantStats({ db, top: 20 });
      ours.push(performance.now() - t);
    }
    const t = performance.now();
    const cli = await run(process.execPath, ['packages/cli/bin/cgk.mjs', 'tenant:stats', '--top', '20', '--json'], {
      env: { ...process.env, DATABASE_URL: url },
      maxBuffer: 64 * 1024 * 1024,
    });
    const cliMs = performance.now() - t;
    JSON.parse(cli.stdout);
    return { tenants, ours: median(ours), base: median(base), cliMs };
  } finally {
    await db.end();
  }
}

export async function runTenantStatsBench(
  options: { seconds?: number; callers?: number; reuse?: string; rounds?: number; print?: boolean } = {},
) {
  const scratch = await createScratchDatabase('cgk_bench_noisy');
  const rows: BenchRow[] = [];
  try {
    const setup = new Database({ url: scratch.url });
    try {
      const { setupDatabase } = await import('../packages/db/src/index.js');
      await setupDatabase({ db: setup });
      await createFleet(setup, ['na', ...NEIGHBOURS], { label: 'Noisy', concurrency: 2, log: () => {} });
    } finally {
      await setup.end();
    }
    const n = await noisyNeighbour(scratch.url, options.seconds ?? 20, options.callers ?? 10);
    const note = `A: 100 scopes of 200 ms in flight; ${n.alone.length}/${n.withA.length} requests; A refused ${n.refused}x`;
    rows.push(
      row('noisy neighbour: B..K median, without A vs with A', 'ms', median(n.alone), median(n.withA), { goal: '≤ 1.50x', note }),
    );
    rows.push(
      row('noisy neighbour: B..K p99, without A vs with A', 'ms', percentile(n.alone, 99), percentile(n.withA, 99), {
        goal: '≤ 3.00x',
      }),
    );
    rows.push(
      row('noisy neighbour: B..K median, fair share off (before #30)', 'ms', median(n.alone), median(n.withAUnfair), {
        note: `p99 ${percentile(n.withAUnfair, 99).toFixed(0)} ms`,
      }),
    );
    const cost = await statsCost(scratch.url, options.rounds ?? 8, 200);
    rows.push(row('withTenant(select 1), statistics off vs on', 'µs', cost.off!, cost.on!, { goal: '≤ 1.05x' }));
    const target = options.reuse ? Object.assign(new URL(ADMIN_URL), { pathname: `/${options.reuse}` }).toString() : scratch.url;
    const q = await statsQuery(target);
    rows.push(
      row(`tenantStats({ top: 20 }), ${q.tenants} tenants, vs count(pg_class)`, 'ms', q.base, q.ours, {
        note: `cgk tenant:stats --top 20 end to end: ${q.cliMs.toFixed(0)} ms (goal < 1 s at 10,000 tenants)`,
      }),
    );
    // Printed before the scratch database is dropped: DROP DATABASE waits for a checkpoint, long on a busy server.
    if (options.print) printTable('per-tenant statistics, limits, fair share (pg, local PostgreSQL)', rows);
    return rows;
  } finally {
    await scratch.drop();
  }
}

if (isMain(import.meta.url)) {
  const argv = process.argv.slice(2);
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const seconds = value('--seconds');
  const reuse = value('--reuse');
  await runTenantStatsBench({ print: true, ...(seconds ? { seconds: Number(seconds) } : {}), ...(reuse ? { reuse } : {}) });
  setTimeout(() => process.exit(), 1000).unref();
}
