/**
 * The ORM adapters' cost per query. Each adapter against the same ORM on its stock node-postgres driver over
 * one `pg.Client` (Drizzle's `drizzle-orm/node-postgres`, Kysely's `PostgresDialect`), same query, same server,
 * variants interleaved: inside one open tenant scope (ours) versus inside one open transaction on the client
 * (stock), so both sides pay exactly one round trip per query and the difference is what the adapter adds.
 * Goal: at most 15 µs added per query. Also: the round trips of a one-query scope through each adapter,
 * counted by a protocol-reading proxy (goal 2: BEGIN, path, role and the query in one flight, then COMMIT).
 */
import { sql as dsql, eq } from 'drizzle-orm';
import { drizzle as stockDrizzle } from 'drizzle-orm/node-postgres';
import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { startPgProxy } from '../packages/db/test/helpers/pg-proxy.js';
import { Database } from '../packages/db/src/index.js';
import { tenantDrizzle } from '../packages/db/src/orm/drizzle.js';
import { tenantKysely } from '../packages/db/src/orm/kysely.js';
import { grantTenantRoleSql } from '../packages/db/src/roles/tenant-role.js';
import { createScratchDatabase, interleave, isMain, median, printTable, row, type BenchRow } from './lib.js';

const items = pgTable('items', { id: integer('id').primaryKey(), name: text('name').notNull() });

interface Tables {
  items: { id: number; name: string };
}

export interface OrmBenchOptions {
  rounds?: number;
  perRound?: number;
}

/**
 * Client CPU per query (user + system time of this process over a block, divided by the block's queries),
 * each variant's blocks interleaved, median over rounds. The server does the same work for both sides, so
 * this is what the adapter adds in JavaScript, and unlike wall time it barely moves when other processes
 * take the cores.
 */
async function cpuPerQuery(variants: Record<string, () => Promise<unknown>>, rounds: number, perRound: number) {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
  const entries = Object.entries(variants);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < entries.length; k++) {
      const [name, run] = entries[(round + k) % entries.length]!;
      const start = process.cpuUsage();
      for (let i = 0; i < perRound; i++) await run();
      const used = process.cpuUsage(start);
      samples[name]!.push((used.user + used.system) / perRound);
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));
}

/** Per-query medians: each adapter inside an open scope, the stock ORM inside an open transaction. */
async function perQuery(url: string, rounds: number, perRound: number): Promise<BenchRow[]> {
  const db = new Database({ url: `${url}?pool_max=2` });
  const ours = { drizzle: tenantDrizzle({ database: db }), kysely: tenantKysely<Tables>({ database: db }) };
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('set search_path to tenant_bench, public');
  const stock = {
    drizzle: stockDrizzle({ client: client as never }),
    kysely: new Kysely<Tables>({ dialect: new PostgresDialect({ pool: singleClientPool(client) as never }) }),
  };
  let results: Record<string, number> = {};
  let cpu: Record<string, number> = {};
  try {
    // Both sides inside an open transaction: ours in a tenant scope, stock in BEGIN ... COMMIT on its client.
    await db.withTenant('bench', async (sql) => {
      await client.query('begin');
      const variants = {
        'drizzle ours': () => ours.drizzle.select().from(items).where(eq(items.id, 7)),
        'drizzle stock': () => stock.drizzle.select().from(items).where(eq(items.id, 7)),
        'kysely ours': () => ours.kysely.selectFrom('items').selectAll().where('id', '=', 7).execute(),
        'kysely stock': () => stock.kysely.selectFrom('items').selectAll().where('id', '=', 7).execute(),
        'sql ours': () => sql`select id, name from items where id = ${7}`,
        'sql stock': () => client.query('select id, name from items where id = $1', [7]),
      };
      results = await interleave(variants, rounds, perRound);
      cpu = await cpuPerQuery(variants, rounds, perRound);
      await client.query('commit');
    });
  } finally {
    await client.end();
    await db.end();
  }
  const added = (orm: 'drizzle' | 'kysely' | 'sql') => results[`${orm} ours`]! - results[`${orm} stock`]!;
  return [
    row('Drizzle select by id, in a scope vs node-postgres', 'µs', results['drizzle stock']!, results['drizzle ours']!, {
      goal: '≤ 15 µs added',
      note: `${added('drizzle').toFixed(1)} µs added`,
    }),
    row('Kysely select by id, in a scope vs PostgresDialect', 'µs', results['kysely stock']!, results['kysely ours']!, {
      goal: '≤ 15 µs added',
      note: `${added('kysely').toFixed(1)} µs added`,
    }),
    row('Drizzle select by id: client CPU per query, scope vs node-postgres', 'µs', cpu['drizzle stock']!, cpu['drizzle ours']!, {
      note: `${(cpu['drizzle ours']! - cpu['drizzle stock']!).toFixed(1)} µs CPU added`,
    }),
    row('Kysely select by id: client CPU per query, scope vs PostgresDialect', 'µs', cpu['kysely stock']!, cpu['kysely ours']!, {
      note: `${(cpu['kysely ours']! - cpu['kysely stock']!).toFixed(1)} µs CPU added`,
    }),
    row(
      'sql tag in a scope vs pg.Client.query (context: the connection itself)',
      'µs',
      results['sql stock']!,
      results['sql ours']!,
      {
        note: `${added('sql').toFixed(1)} µs added`,
      },
    ),
  ];
}

/** A pg.Pool look-alike over one client, for Kysely's PostgresDialect (it only connects and releases). */
function singleClientPool(client: pg.Client) {
  const shared = Object.assign(client, { release: () => {} });
  return { connect: async () => shared, end: async () => {} };
}

/** Round trips of a one-query scope through each adapter, counted on the wire. */
async function roundTrips(url: string): Promise<BenchRow[]> {
  const proxy = await startPgProxy(url);
  const db = new Database({ url: `${proxy.url}?pool_max=1` });
  const drizzle = tenantDrizzle({ database: db });
  const kysely = tenantKysely<Tables>({ database: db });
  try {
    const count = async (run: () => Promise<unknown>) => {
      await run(); // warm: the connection is open
      const before = proxy.roundTrips;
      await run();
      return proxy.roundTrips - before;
    };
    const viaSql = await count(() => db.withTenant('bench', (sql) => sql`select id, name from items where id = ${7}`));
    const viaDrizzle = await count(() => db.withTenant('bench', () => drizzle.select().from(items).where(eq(items.id, 7))));
    const viaKysely = await count(() =>
      db.withTenant('bench', () => kysely.selectFrom('items').selectAll().where('id', '=', 7).execute()),
    );
    const viaDrizzleRaw = await count(() => db.withTenant('bench', () => drizzle.execute(dsql`select 1`)));
    return [
      row('round trips, one-query scope via Drizzle (vs the sql tag)', 'round trips', viaSql, viaDrizzle, { goal: '2' }),
      row('round trips, one-query scope via Kysely (vs the sql tag)', 'round trips', viaSql, viaKysely, { goal: '2' }),
      row('round trips, one-query scope via drizzle.execute (vs the sql tag)', 'round trips', viaSql, viaDrizzleRaw, {
        goal: '2',
      }),
    ];
  } finally {
    await db.end();
    await proxy.stop();
  }
}

/** Runs the ORM benchmark on a scratch database of its own. */
export async function runOrmBench(options: OrmBenchOptions = {}): Promise<BenchRow[]> {
  const scratch = await createScratchDatabase('cgk_bench_orm');
  try {
    const setup = new Database({ url: scratch.url });
    const driver = await setup.driver();
    await driver.exec(`create schema tenant_bench; create table tenant_bench.items (id int primary key, name text not null);
      insert into tenant_bench.items select n, 'item ' || n from generate_series(1, 100) n`);
    await driver.exec(grantTenantRoleSql('bench', { existingTables: true }));
    await setup.end();
    const rows = await perQuery(scratch.url, options.rounds ?? 10, options.perRound ?? 300);
    return [...rows, ...(await roundTrips(scratch.url))];
  } finally {
    await scratch.drop();
  }
}

if (isMain(import.meta.url)) {
  const rows = await runOrmBench();
  printTable('ORM adapters (bench/orm.bench.ts)', rows);
}
