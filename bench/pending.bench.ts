/**
 * Tenants in advance and copies of tenants (#28), each against its baseline in the same run:
 * - createTenant claiming a pending tenant against a cold createTenant (the whole DDL);
 * - cloneTenant without rows against a cold createTenant;
 * - cloneTenant with rows against `pg_dump -n tenant_<source> | psql` of the same schema into another database.
 * The real tenant template (packages/db/src/migrations/tenant), on node-postgres, local PostgreSQL.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Database, cloneTenant, createPendingTenants, createTenant, setupDatabase } from '../packages/db/src/index.js';
import { alternate, createScratchDatabase, isMain, median, printTable, row, timed, type BenchRow } from './lib.js';
import { psqlTarget } from './psql.js';

const run = promisify(execFile);

/** Rows in the cloned source: customers, orders and products (what a small shop holds). */
const SOURCE_ROWS = { customers: 20_000, orders: 20_000, products: 2_000 };

async function fillSource(db: Database, slug: string): Promise<void> {
  await db.withTenant(slug, async (sql) => {
    await sql`insert into customers (email)
              select 'c' || i || '@example.com' from generate_series(1, ${SOURCE_ROWS.customers}::int) i`;
    await sql`insert into orders (order_number, currency, total_cents)
              select 'O-' || i, 'USD', i from generate_series(1, ${SOURCE_ROWS.orders}::int) i`;
    await sql`insert into products (title, handle)
              select 'P ' || i, 'p-' || i from generate_series(1, ${SOURCE_ROWS.products}::int) i`;
  });
}

/** `pg_dump -n <schema> <from> | psql <to>`, timed (ms); the schema is dropped from `to` first, untimed. */
async function dumpRestore(fromUrl: string, toUrl: string, schema: string): Promise<number> {
  const [from, to] = [psqlTarget(fromUrl), psqlTarget(toUrl)];
  await run('psql', ['-X', '-q', '-d', to.url, '-c', `drop schema if exists ${schema} cascade`], { env: to.env });
  const started = performance.now();
  await run(
    'bash',
    ['-o', 'pipefail', '-c', 'pg_dump -n "$SCHEMA" -d "$FROM" | psql -X -q -v ON_ERROR_STOP=1 -d "$TO" >/dev/null'],
    {
      env: { ...to.env, SCHEMA: schema, FROM: from.url, TO: to.url },
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  return performance.now() - started;
}

/** A pool of `count` pending tenants, then `count` claims against as many cold creates, taking turns. */
async function measureClaims(db: Database, count: number): Promise<{ cold: number[]; claimed: number[] }> {
  await createPendingTenants(count, { db, concurrency: 2 });
  const cold: number[] = [];
  const claimed: number[] = [];
  for (let i = 0; i < count; i++) {
    await alternate(i, [
      () => timed(cold, () => createTenant({ slug: `cold${i}` }, { db, usePending: false })),
      () => timed(claimed, () => createTenant({ slug: `warm${i}` }, { db })),
    ]);
  }
  return { cold, claimed };
}

export async function runPendingBench(options: { tenants?: number } = {}): Promise<BenchRow[]> {
  const count = options.tenants ?? 20;
  const scratch = await createScratchDatabase('cgk_bench_pending');
  const restore = await createScratchDatabase('cgk_bench_restore');
  const db = new Database({ url: scratch.url });
  try {
    await setupDatabase({ db });
    const { cold, claimed } = await measureClaims(db, count);
    await createTenant({ slug: 'source' }, { db, usePending: false });
    await fillSource(db, 'source');
    const coldAgain: number[] = [];
    const cloned: number[] = [];
    for (let i = 0; i < count; i++) {
      await alternate(i, [
        () => timed(coldAgain, () => createTenant({ slug: `base${i}` }, { db, usePending: false })),
        () => timed(cloned, () => cloneTenant('source', `copy${i}`, { db, usePending: false })),
      ]);
    }
    const dumps: number[] = [];
    const full: number[] = [];
    const rounds = Math.max(3, Math.min(count, 6));
    for (let i = 0; i < rounds; i++) {
      await alternate(i, [
        async () => dumps.push(await dumpRestore(scratch.url, restore.url, 'tenant_source')),
        () => timed(full, () => cloneTenant('source', `full${i}`, { db, withData: true, usePending: false })),
      ]);
    }
    // Reported as soon as measured: dropping the scratch databases waits for a checkpoint, long on a busy server.
    console.error(
      `pending bench: cold ${median(cold).toFixed(1)} ms, claimed ${median(claimed).toFixed(1)} ms; ` +
        `cold ${median(coldAgain).toFixed(1)} ms, clone ${median(cloned).toFixed(1)} ms; ` +
        `pg_dump | psql ${median(dumps).toFixed(1)} ms, clone --with-data ${median(full).toFixed(1)} ms`,
    );
    const rowsNote = `${SOURCE_ROWS.customers} customers, ${SOURCE_ROWS.orders} orders, ${SOURCE_ROWS.products} products`;
    return [
      row(`createTenant from the pending pool vs a cold createTenant, median of ${count}`, 'ms', median(cold), median(claimed), {
        goal: '≤ 10 ms, ≤ 0.10x',
      }),
      row(`tenant:clone without rows vs a cold createTenant, median of ${count}`, 'ms', median(coldAgain), median(cloned), {
        goal: '≤ 1.20x',
      }),
      row(`tenant:clone --with-data vs pg_dump -n | psql (${rowsNote}), median of ${rounds}`, 'ms', median(dumps), median(full), {
        goal: '≤ 1.30x',
      }),
    ];
  } finally {
    await db.end();
    // The restored schema holds grants to the source's tenant role: its database goes first, then the roles.
    // A slow drop (a checkpoint on a busy server) must not lose the figures: it is reported, not thrown.
    await restore.drop().catch((error: unknown) => console.error(`could not drop ${restore.name}: ${String(error)}`));
    await scratch.drop().catch((error: unknown) => console.error(`could not drop ${scratch.name}: ${String(error)}`));
  }
}

if (isMain(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  printTable('Pending tenants and clones (pg, local PostgreSQL)', await runPendingBench(quick ? { tenants: 6 } : {}));
}
