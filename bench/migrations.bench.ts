/**
 * The migration runner over a fleet of tenants (docs/ARCHITECTURE.md, rule 5). Two scratch databases with the
 * same fleet (`CGK_BENCH_TENANTS` tenants, default 1000, each a 3-table template, created with
 * migrateTenantInTransaction): one for our runner, one for the baselines, so each side changes only its own
 * tenants.
 *
 * - "nothing pending": ours = migrateTenants() from a fresh Database, files read from disk (one query on the
 *   summary table); baseline = what the schema-per-tenant anchors do, ask every tenant: one
 *   `select max(version) from tenant_x.schema_migrations` per tenant over one warm connection (kinder to the
 *   baseline than django-tenants, which also starts a migrate command per tenant).
 * - "one-line migration" (`alter table orders add column ...`): baseline = ONE psql session running the
 *   statements schema by schema (`set search_path = tenant_x; alter table ...;` per tenant, autocommit, one
 *   commit per tenant like ours). That is the fairer (stronger) baseline: a psql process per schema pays a
 *   process start and a connection per tenant, which is shown as a note, measured on 100 tenants. Ours also
 *   writes the tracking row and the summary row, each tenant in its own transaction, and checks checksums.
 *   Three rounds, interleaved (a different column each run); medians are reported. Our default
 *   commits each tenant with synchronous_commit off (still atomic) and flushes the WAL once at the end; the
 *   `synchronousCommit` row shows the cost of waiting for every commit's flush, as psql's autocommit does.
 *
 * Run: `npx tsx bench/migrations.bench.ts`; the large fleet: `CGK_BENCH_TENANTS=10000 CGK_BENCH_PARTS=noop npx tsx
 * bench/migrations.bench.ts` (setting up 2 x 10,000 tenants takes a few minutes).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { Database } from '../packages/db/src/database/database.js';
import {
  clearMigrationCache,
  migrateTenantInTransaction,
  migrateTenants,
  throwIfFailed,
} from '../packages/db/src/migrations/index.js';
import { psqlTarget } from './psql.js';
import { createScratchDatabase, isMain, median, printTable, row, type BenchRow, type ScratchDatabase } from './lib.js';

const run = promisify(execFile);

const TEMPLATE = {
  '001_orders.sql':
    'create table orders (id bigserial primary key, total numeric not null default 0, ' +
    'created_at timestamptz not null default now());\n',
  '002_customers.sql': 'create table customers (id bigserial primary key, email text not null unique);\n',
  '003_products.sql':
    'create table products (id bigserial primary key, title text not null, price numeric not null);\n' +
    'create index products_title_idx on products (title);\n',
};

export interface MigrationsBenchOptions {
  /** Fleet size; default CGK_BENCH_TENANTS or 1000. */
  tenants?: number;
  /** 'noop' measures only "nothing pending" (for the 10,000-tenant run); default CGK_BENCH_PARTS or 'all'. */
  parts?: 'all' | 'noop';
}

/** A migration directory of its own per version of the files (the runner reads each directory once). */
type MakeDir = (name: string, files: Record<string, string>) => string;

export async function runMigrationsBench(options: MigrationsBenchOptions = {}): Promise<BenchRow[]> {
  const tenants = options.tenants ?? Number(process.env.CGK_BENCH_TENANTS ?? 1000);
  const parts = options.parts ?? (process.env.CGK_BENCH_PARTS === 'noop' ? 'noop' : 'all');
  const work = mkdtempSync(join(tmpdir(), 'cgk-bench-migrations-'));
  const dir: MakeDir = (name, files) => {
    const path = join(work, name);
    mkdirSync(path);
    for (const [file, text] of Object.entries(files)) writeFileSync(join(path, file), text);
    return path;
  };
  const slugs = Array.from({ length: tenants }, (_, i) => `t${String(i).padStart(6, '0')}`);
  let ours: ScratchDatabase | undefined;
  let base: ScratchDatabase | undefined;
  try {
    ours = await createScratchDatabase('cgk_bench_migr_ours');
    base = await createScratchDatabase('cgk_bench_migr_base');
    const template = dir('template', TEMPLATE);
    await Promise.all([createFleet(ours.url, slugs, template), createFleet(base.url, slugs, template)]);
    const noopRows = await measureNothingPending(ours.url, base.url, slugs, template);
    if (parts === 'noop') return noopRows;
    return [...noopRows, ...(await measureOneLine(ours.url, base.url, slugs, work, dir))];
  } finally {
    await ours?.drop();
    await base?.drop();
    rmSync(work, { recursive: true, force: true });
    clearMigrationCache();
  }
}

/** "Nothing pending": our fast check and verify against asking every tenant, five rounds interleaved. */
async function measureNothingPending(oursUrl: string, baseUrl: string, slugs: string[], template: string): Promise<BenchRow[]> {
  const tenants = slugs.length;
  const fastSamples: number[] = [];
  const verifySamples: number[] = [];
  const perTenantSamples: number[] = [];
  for (let round = 0; round < 5; round++) {
    perTenantSamples.push(await timed(() => askEveryTenant(baseUrl, slugs)));
    fastSamples.push(await timed(() => noopRun(oursUrl, template, false)));
    if (round < 2) verifySamples.push(await timed(() => noopRun(oursUrl, template, true)));
  }
  const baselineNoop = median(perTenantSamples);
  return [
    row(`nothing pending, ${tenants} tenants (ours: fast check)`, 'ms', baselineNoop, median(fastSamples), {
      goal: tenants >= 10_000 ? '< 5000 ms' : '< 1000 ms',
      note: 'baseline: one query per tenant on a warm connection',
    }),
    row(`nothing pending, ${tenants} tenants (ours: verify)`, 'ms', baselineNoop, median(verifySamples), {
      note: 'verify reads every schema_migrations (UNION ALL queries of 25 schemas)',
    }),
  ];
}

/** A one-line migration: rounds interleave the baseline and our three variants; each run adds a column of its own. */
async function measureOneLine(
  oursUrl: string,
  baseUrl: string,
  slugs: string[],
  work: string,
  dir: MakeDir,
): Promise<BenchRow[]> {
  const tenants = slugs.length;
  const samples: Record<'psql' | 'c4' | 'c1' | 'sync', number[]> = { psql: [], c4: [], c1: [], sync: [] };
  const tenantFiles: Record<string, string> = { ...TEMPLATE };
  let column = 0;
  const nextFiles = () => {
    column++;
    const version = Object.keys(tenantFiles).length + 1;
    tenantFiles[`${String(version).padStart(3, '0')}_orders_note${column}.sql`] =
      `alter table orders add column note${column} text;\n`;
    return dir(`v${version}`, tenantFiles);
  };
  for (let round = 1; round <= 3; round++) {
    column++;
    const statement = `alter table orders add column note${column} text;`;
    samples.psql.push(await timed(() => psqlOneSession(baseUrl, slugs, statement, join(work, `psql${round}.sql`))));
    const c4 = nextFiles();
    samples.c4.push(await timed(() => fleetRun(oursUrl, c4, 4)));
    const c1 = nextFiles();
    samples.c1.push(await timed(() => fleetRun(oursUrl, c1, 1)));
    const sync = nextFiles();
    samples.sync.push(await timed(() => fleetRun(oursUrl, sync, 4, true)));
  }
  const perProcess = await psqlPerSchema(baseUrl, slugs.slice(0, 100), 'alter table orders add column note_pp text;');
  const psql = median(samples.psql);
  return [
    row(`one-line migration, ${tenants} tenants, concurrency 4`, 'ms', psql, median(samples.c4), {
      goal: '≤ 1.0x',
      note: `baseline: one psql session; psql per schema would take ~${Math.round((perProcess * tenants) / 100)} ms`,
    }),
    row(`one-line migration, ${tenants} tenants, concurrency 1`, 'ms', psql, median(samples.c1), {
      note: 'same work, one tenant at a time',
    }),
    row(`one-line migration, ${tenants} tenants, concurrency 4, synchronousCommit`, 'ms', psql, median(samples.sync), {
      note: 'each tenant commit waits for its WAL flush (default: one flush at the end)',
    }),
  ];
}

/** The fleet: a minimal registry (public.organizations(slug)), and each tenant created in one transaction. */
async function createFleet(url: string, slugs: string[], template: string): Promise<void> {
  const db = new Database({ url: `${url}?pool_max=8` });
  try {
    const driver = await db.driver();
    await driver.exec('create table public.organizations (slug text primary key)');
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < slugs.length) {
          const batch = slugs.slice(next, next + 5);
          next += 5;
          const { tx } = await driver.begin([]);
          try {
            for (const slug of batch) {
              await tx.exec(`insert into public.organizations values ('${slug}'); create schema tenant_${slug};`);
              await migrateTenantInTransaction(tx, slug, { tenantDir: template });
            }
            await tx.commit();
          } catch (error) {
            await tx.rollback();
            throw error;
          }
        }
      }),
    );
  } finally {
    await db.end();
  }
}

async function noopRun(url: string, template: string, verify: boolean): Promise<void> {
  clearMigrationCache();
  const db = new Database({ url });
  try {
    const result = throwIfFailed(await migrateTenants(db, { tenantDir: template, verify }));
    if (result.pending !== 0) throw new Error(`expected nothing pending, found ${result.pending}`);
  } finally {
    await db.end();
  }
}

async function fleetRun(url: string, dir: string, concurrency: number, synchronousCommit = false): Promise<void> {
  const db = new Database({ url });
  try {
    const result = throwIfFailed(await migrateTenants(db, { tenantDir: dir, concurrency, synchronousCommit }));
    if (result.tenants.length !== result.total) throw new Error(`migrated ${result.tenants.length} of ${result.total}`);
  } finally {
    await db.end();
  }
}

/** The anchors' way: ask each tenant what it has applied. */
async function askEveryTenant(url: string, slugs: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const slug of slugs) await client.query(`select max(version) from tenant_${slug}.schema_migrations`);
  } finally {
    await client.end();
  }
}

async function psqlOneSession(url: string, slugs: string[], statement: string, file: string): Promise<void> {
  writeFileSync(file, slugs.map((slug) => `set search_path = tenant_${slug};\n${statement}\n`).join(''));
  const target = psqlTarget(url);
  await run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', target.url, '-f', file], { env: target.env });
}

/** One psql process per schema, as a shell loop would do; returns the total time for `slugs`. */
async function psqlPerSchema(url: string, slugs: string[], statement: string): Promise<number> {
  const target = psqlTarget(url);
  return timed(async () => {
    for (const slug of slugs)
      await run(
        'psql',
        ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', target.url, '-c', `set search_path = tenant_${slug}; ${statement}`],
        { env: target.env },
      );
  });
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

if (isMain(import.meta.url)) {
  printTable(
    `Migration runner (pg, local PostgreSQL, ${process.env.CGK_BENCH_TENANTS ?? 1000} tenants)`,
    await runMigrationsBench(),
  );
}
