/**
 * withTenant's cost. Baselines, all on node-postgres against the same local server in the same run:
 * - bare: one `select 1` on the pool (no scope at all);
 * - floor: the hand-written pipelined scope, BEGIN + set_config(search_path, true) + query sent together,
 *   then COMMIT: two round trips, the least any correct scope can cost;
 * - naive: BEGIN, set_config, query, COMMIT as four waits, the way scope helpers are usually written.
 * "ours" runs with tenant roles on (SET LOCAL ROLE in the same prelude); "roles off" is search_path only.
 */
import type pg from 'pg';
import { Database } from '../packages/db/src/index.js';
import { grantTenantRoleSql } from '../packages/db/src/roles/tenant-role.js';
import { createScratchDatabase, interleave, isMain, median, printTable, rawPool, row, throughput, type BenchRow } from './lib.js';

const PATH = 'tenant_bench, public';

/** The hand-written pipelined scope: BEGIN + set_config + query sent together, then COMMIT (two round trips). */
async function floorScope(pool: pg.Pool, text: string, values: unknown[]) {
  const client = await pool.connect();
  try {
    const begin = client.query('BEGIN');
    const set = client.query("select set_config('search_path', $1, true)", [PATH]);
    const result = client.query(text, values);
    await Promise.all([begin, set, result]);
    await client.query('COMMIT');
    return result;
  } finally {
    client.release();
  }
}

/** BEGIN, set_config, query, COMMIT as four waits, the way scope helpers are usually written. */
async function naiveScope(pool: pg.Pool, text: string, values: unknown[]) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query("select set_config('search_path', $1, true)", [PATH]);
    const result = await client.query(text, values);
    await client.query('COMMIT');
    return result;
  } finally {
    client.release();
  }
}

/** Every side's pools, opened together (each trial opens fresh ones). */
function openSides(url: string) {
  return {
    db: new Database({ url, tenantRoles: true }),
    noRoles: new Database({ url, tenantRoles: false }),
    pipelined: rawPool({ connectionString: url, max: 16, pipeline: true }),
    plain: rawPool({ connectionString: url, max: 16 }),
  };
}

type Sides = ReturnType<typeof openSides>;

async function endSides(sides: Sides): Promise<void> {
  await Promise.all([sides.db.end(), sides.noRoles.end(), sides.pipelined.end(), sides.plain.end()]);
}

async function createBenchTenant(db: Database): Promise<void> {
  await db.sql`create schema tenant_bench`;
  await db.sql`create table tenant_bench.orders (id int primary key, status text not null)`;
  await db.sql`insert into tenant_bench.orders select g, 'pending' from generate_series(1, 10000) g`;
  await db.sql`analyze tenant_bench.orders`;
  await (await db.driver()).exec(grantTenantRoleSql('bench', { existingTables: true }));
}

/**
 * The sequential figures. Which core each side's server process lands on moves single figures by ±30% on a
 * 2-core machine, so they are taken in several trials, each with fresh pools, and the median taken.
 */
async function sequentialTrials(url: string, sides: { current: Sides }, trials: number, rounds: number, perRound: number) {
  const perTrial: Record<string, number>[] = [];
  for (let trial = 0; trial < trials; trial++) {
    if (trial > 0) {
      await endSides(sides.current);
      sides.current = openSides(url);
    }
    const { db, noRoles, pipelined, plain } = sides.current;
    const runs = {
      bare: () => plain.query('select 1'),
      floor: () => floorScope(pipelined, 'select 1', []),
      naive: () => naiveScope(plain, 'select 1', []),
      ours: () => db.withTenant('bench', (sql) => sql`select 1`),
      oursNoRoles: () => noRoles.withTenant('bench', (sql) => sql`select 1`),
    };
    perTrial.push(await interleave(runs, rounds, perRound));
  }
  const one = Object.fromEntries(Object.keys(perTrial[0]!).map((k) => [k, median(perTrial.map((t) => t[k]!))]));
  return { one, spread: perTrial.map((t) => (t.ours! / t.floor!).toFixed(2)).join(' ') };
}

/** 16 concurrent callers doing an indexed read in a scope, for 1.5 s per side. */
async function throughputs(sides: Sides) {
  let id = 0;
  const nextId = () => {
    id = (id % 10000) + 1;
    return id;
  };
  const read = 'select * from orders where id = $1';
  const ms = 1500;
  const floor = await throughput(() => floorScope(sides.pipelined, read, [nextId()]), 16, ms);
  const ours = await throughput(
    () => sides.db.withTenant('bench', (sql) => sql`select * from orders where id = ${nextId()}`),
    16,
    ms,
  );
  const naive = await throughput(() => naiveScope(sides.plain, read, [nextId()]), 16, ms);
  return { floor, ours, naive };
}

export async function runTenantBench(options: { rounds?: number; perRound?: number; trials?: number } = {}): Promise<BenchRow[]> {
  const trials = options.trials ?? 7;
  const scratch = await createScratchDatabase('cgk_bench_tenant');
  const sides = { current: openSides(scratch.url) };
  try {
    await createBenchTenant(sides.current.db);
    const { one, spread } = await sequentialTrials(scratch.url, sides, trials, options.rounds ?? 8, options.perRound ?? 60);
    const tp = await throughputs(sides.current);
    const trialNote = `median of ${trials} trials with fresh pools; per trial: ${spread}`;
    return [
      row('withTenant(select 1) vs pipelined floor', 'µs', one.floor!, one.ours!, { goal: '≤ 1.10x', note: trialNote }),
      row('withTenant(select 1), tenant roles on vs off', 'µs', one.oursNoRoles!, one.ours!, { goal: 'on ≤ 1.10x floor' }),
      row('withTenant(select 1) vs bare select 1', 'µs', one.bare!, one.ours!, {
        note: `floor/bare ${(one.floor! / one.bare!).toFixed(2)}x`,
      }),
      row('withTenant(select 1) vs naive 4-wait scope', 'µs', one.naive!, one.ours!, {
        note: `naive/bare ${(one.naive! / one.bare!).toFixed(2)}x`,
      }),
      // Throughput: higher is better, so the ratio is baseline time per op over ours (ops/s ours / ops/s baseline inverted).
      row('16 callers, indexed read: ops/s floor vs ours', 'op/s', tp.floor, tp.ours, {
        note: 'ratio = ours/floor throughput (≥ 0.9 wanted)',
      }),
      row('16 callers, indexed read: ops/s naive vs ours', 'op/s', tp.naive, tp.ours, { note: 'ratio = ours/naive throughput' }),
    ];
  } finally {
    await endSides(sides.current);
    await scratch.drop();
  }
}

if (isMain(import.meta.url)) {
  printTable('withTenant (pg, local PostgreSQL)', await runTenantBench());
}
