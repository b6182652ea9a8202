/**
 * withTenant's cost. Baselines, all on node-postgres against the same local server in the same run:
 * - bare: one `select 1` on the pool (no scope at all);
 * - floor: the hand-written pipelined scope, BEGIN + set_config(search_path, true) + query sent together,
 *   then COMMIT: two round trips, the least any correct scope can cost;
 * - naive: BEGIN, set_config, query, COMMIT as four waits, the way scope helpers are usually written.
 * "ours" runs with tenant roles on (SET LOCAL ROLE in the same prelude); "roles off" is search_path only.
 */
import pg from 'pg';
import { Database } from '../packages/db/src/index.js';
import { grantTenantRoleSql } from '../packages/db/src/roles.js';
import { createScratchDatabase, interleave, isMain, median, printTable, row, throughput, type BenchRow } from './lib.js';

export async function runTenantBench(options: { rounds?: number; perRound?: number; trials?: number } = {}): Promise<BenchRow[]> {
  const rounds = options.rounds ?? 8;
  const perRound = options.perRound ?? 60;
  // Which core each side's server process lands on moves single figures by ±30% on a 2-core machine, so
  // the sequential figures are taken in several trials, each with fresh pools, and the median taken.
  const trials = options.trials ?? 7;
  const scratch = await createScratchDatabase('cgk_bench_tenant');
  let db = new Database({ url: scratch.url, tenantRoles: true });
  let noRoles = new Database({ url: scratch.url, tenantRoles: false });
  let pipelined = new pg.Pool({ connectionString: scratch.url, max: 16, pipeline: true } as pg.PoolConfig);
  let plain = new pg.Pool({ connectionString: scratch.url, max: 16 });
  try {
    await db.sql`create schema tenant_bench`;
    await db.sql`create table tenant_bench.orders (id int primary key, status text not null)`;
    await db.sql`insert into tenant_bench.orders select g, 'pending' from generate_series(1, 10000) g`;
    await db.sql`analyze tenant_bench.orders`;
    await (await db.driver()).exec(grantTenantRoleSql('bench', { existingTables: true }));
    const path = 'tenant_bench, public';

    const floor = async (text: string, values: unknown[]) => {
      const client = await pipelined.connect();
      try {
        const begin = client.query('BEGIN');
        const set = client.query("select set_config('search_path', $1, true)", [path]);
        const result = client.query(text, values);
        await Promise.all([begin, set, result]);
        await client.query('COMMIT');
        return result;
      } finally {
        client.release();
      }
    };
    const naive = async (text: string, values: unknown[]) => {
      const client = await plain.connect();
      try {
        await client.query('BEGIN');
        await client.query("select set_config('search_path', $1, true)", [path]);
        const result = await client.query(text, values);
        await client.query('COMMIT');
        return result;
      } finally {
        client.release();
      }
    };

    const perTrial: Record<string, number>[] = [];
    for (let trial = 0; trial < trials; trial++) {
      if (trial > 0) {
        await Promise.all([db.end(), noRoles.end(), pipelined.end(), plain.end()]);
        db = new Database({ url: scratch.url, tenantRoles: true });
        noRoles = new Database({ url: scratch.url, tenantRoles: false });
        pipelined = new pg.Pool({ connectionString: scratch.url, max: 16, pipeline: true } as pg.PoolConfig);
        plain = new pg.Pool({ connectionString: scratch.url, max: 16 });
      }
      perTrial.push(await interleave({
        bare: () => plain.query('select 1'),
        floor: () => floor('select 1', []),
        naive: () => naive('select 1', []),
        ours: () => db.withTenant('bench', (sql) => sql`select 1`),
        oursNoRoles: () => noRoles.withTenant('bench', (sql) => sql`select 1`),
      }, rounds, perRound));
    }
    const one = Object.fromEntries(Object.keys(perTrial[0]!).map((k) => [k, median(perTrial.map((t) => t[k]!))]));
    const spread = perTrial.map((t) => (t.ours! / t.floor!).toFixed(2)).join(' ');

    let id = 0;
    const nextId = () => (id = (id % 10000) + 1);
    const ms = 1500;
    const tpFloor = await throughput(() => floor('select * from orders where id = $1', [nextId()]), 16, ms);
    const tpOurs = await throughput(() => db.withTenant('bench', (sql) => sql`select * from orders where id = ${nextId()}`), 16, ms);
    const tpNaive = await throughput(() => naive('select * from orders where id = $1', [nextId()]), 16, ms);

    return [
      row('withTenant(select 1) vs pipelined floor', 'µs', one.floor!, one.ours!, { goal: '≤ 1.10x', note: `median of ${trials} trials with fresh pools; per trial: ${spread}` }),
      row('withTenant(select 1), tenant roles on vs off', 'µs', one.oursNoRoles!, one.ours!, { goal: 'on ≤ 1.10x floor' }),
      row('withTenant(select 1) vs bare select 1', 'µs', one.bare!, one.ours!, { note: `floor/bare ${(one.floor! / one.bare!).toFixed(2)}x` }),
      row('withTenant(select 1) vs naive 4-wait scope', 'µs', one.naive!, one.ours!, { note: `naive/bare ${(one.naive! / one.bare!).toFixed(2)}x` }),
      // Throughput: higher is better, so the ratio is baseline time per op over ours (ops/s ours / ops/s baseline inverted).
      row('16 callers, indexed read: ops/s floor vs ours', 'op/s', tpFloor, tpOurs, { note: 'ratio = ours/floor throughput (≥ 0.9 wanted)' }),
      row('16 callers, indexed read: ops/s naive vs ours', 'op/s', tpNaive, tpOurs, { note: 'ratio = ours/naive throughput' }),
    ];
  } finally {
    await Promise.all([db.end(), noRoles.end(), pipelined.end(), plain.end()]);
    await scratch.drop();
  }
}

if (isMain(import.meta.url)) {
  printTable('withTenant (pg, local PostgreSQL)', await runTenantBench());
}
