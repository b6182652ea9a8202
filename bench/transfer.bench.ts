/**
 * A tenant's data as a file (issue #29), against PostgreSQL's own tools, in the same run:
 *
 * - export of a tenant holding N order rows (default 1,000,000) vs `pg_dump -Fc -n tenant_big` of it;
 * - import of that export into a new database vs `pg_restore` of that dump into a new database;
 * - export of one small tenant in a database of M tenants (default 2,000) vs `pg_dump -n` of it;
 * - peak RSS of `cgk tenant:export` and `cgk tenant:import` at N rows (whole processes, bench/peak-rss.mjs).
 *
 * Rounds alternate which side goes first; medians. Run alone: `npx tsx bench/transfer.bench.ts [--rows N]
 * [--tenants M] [--rounds R]` (the big rows take minutes: the table and its nine indexes are built first).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Database, createTenant, exportTenant, importTenant, setupDatabase } from '../packages/db/src/index.js';
import {
  alternate,
  createFleet,
  createScratchDatabase,
  isMain,
  median,
  positiveInt,
  printTable,
  row,
  timed,
  timeNode,
  type BenchRow,
  type ScratchDatabase,
} from './lib.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'packages', 'cli', 'bin', 'cgk.mjs');
const PEAK = join(ROOT, 'bench', 'peak-rss.mjs');

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { maxBuffer: 64 * 1024 * 1024 }, (error, _stdout, stderr) =>
      error ? reject(new Error(`${command} ${args.join(' ')}: ${error.message} ${stderr.slice(-500)}`)) : resolve(),
    );
  });
}

/** N orders with the columns a real shop fills (text, enums, money, arrays, jsonb, timestamps). */
async function fillOrders(db: Database, slug: string, rows: number): Promise<void> {
  const batch = 200_000;
  for (let from = 1; from <= rows; from += batch) {
    const to = Math.min(rows, from + batch - 1);
    await db.sql.query(`insert into tenant_${slug}.orders (shopify_order_id, order_number, email, status, financial_status,
        currency, subtotal_cents, tax_cents, total_cents, discount_codes, tags, shipping_address, note, placed_at)
      select 'gid://shopify/Order/' || g, '#' || g, 'customer' || (g % 50000) || '@example.com',
        (array['pending','open','closed','cancelled'])[1 + g % 4]::text::tenant_${slug}.order_status,
        (array['pending','paid','refunded'])[1 + g % 3]::text::tenant_${slug}.order_financial_status,
        'EUR', g % 10000, g % 1000, g % 10000 + g % 1000, case when g % 7 = 0 then array['SPRING'] else '{}' end,
        array['web', 'tag' || (g % 20)], jsonb_build_object('city', 'Paris', 'zip', lpad((g % 99999)::text, 5, '0'),
        'line1', g || ' rue de Rivoli'), case when g % 5 = 0 then 'Leave at the door' end,
        now() - (g % 1000) * interval '1 hour'
      from generate_series(${from}, ${to}) g`);
  }
  await db.sql.query(`vacuum analyze tenant_${slug}.orders`);
}

/** One child process of the CLI: its wall time and peak RSS (MB). */
async function cliRss(args: string[], url: string, work: string): Promise<{ ms: number; rssMB: number }> {
  const rssFile = join(work, `.rss-${Math.random().toString(36).slice(2)}`);
  const env = { ...process.env, DATABASE_URL: url, CGK_BENCH_RSS_FILE: rssFile };
  const { ms } = await timeNode(['--import', PEAK, BIN, ...args], { env, cwd: work });
  return { ms, rssMB: Number(await readFile(rssFile, 'utf8')) / 1024 };
}

/** Export and import of the big tenant vs pg_dump -Fc and pg_restore, and the CLI's peak RSS for both. */
async function bigTenant(rows: number, rounds: number, work: string, show: (rows: BenchRow[]) => void): Promise<BenchRow[]> {
  const source = await createScratchDatabase('cgk_bench_xfer');
  const db = new Database({ url: source.url });
  const targets: ScratchDatabase[] = [];
  const target = async () => {
    const t = await createScratchDatabase('cgk_bench_xfer_to');
    targets.push(t);
    return t;
  };
  try {
    await setupDatabase({ db });
    await createTenant({ slug: 'big' }, { db });
    await fillOrders(db, 'big', rows);
    const s = { dump: [] as number[], exp: [] as number[], restore: [] as number[], imp: [] as number[] };
    const file = join(work, 'big.cgk');
    const dump = join(work, 'big.dump');
    for (let round = 0; round < rounds; round++) {
      await alternate(round, [
        () => timed(s.dump, () => run('pg_dump', ['-Fc', '-n', 'tenant_big', '-f', dump, source.url])),
        () => timed(s.exp, () => exportTenant('big', { db, out: file })),
      ]);
      const [forRestore, forImport] = [await target(), await target()];
      const into = new Database({ url: forImport.url });
      await setupDatabase({ db: into });
      await alternate(round, [
        () => timed(s.restore, () => run('pg_restore', ['-d', forRestore.url, dump])),
        () => timed(s.imp, () => importTenant(file, { db: into })),
      ]);
      await into.end();
    }
    const rssTarget = await target();
    const exported = await cliRss(['tenant:export', 'big', '--out', join(work, 'rss.cgk')], source.url, work);
    await timeNode([BIN, 'setup:database'], { env: { ...process.env, DATABASE_URL: rssTarget.url }, cwd: work });
    const imported = await cliRss(['tenant:import', join(work, 'rss.cgk')], rssTarget.url, work);
    const n = rows.toLocaleString('en-US');
    const measured = [
      row(`export, ${n} orders, vs pg_dump -Fc -n`, 'ms', median(s.dump), median(s.exp), { goal: '≤ 1.2x' }),
      row(`import, ${n} orders, vs pg_restore`, 'ms', median(s.restore), median(s.imp), { goal: '≤ 1.2x' }),
      row(`peak RSS, cgk tenant:export, ${n} orders`, 'MB', 200, exported.rssMB, {
        goal: '≤ 1.0x',
        note: 'baseline: the 200 MB goal',
      }),
      row(`peak RSS, cgk tenant:import, ${n} orders`, 'MB', 200, imported.rssMB, {
        goal: '≤ 1.0x',
        note: 'baseline: the 200 MB goal',
      }),
    ];
    show(measured);
    return measured;
  } finally {
    await db.end();
    // The restored dumps grant on the source's tenant role: their databases go first.
    for (const t of targets) await t.drop();
    await source.drop();
  }
}

/** Export of one small tenant among `tenants` vs `pg_dump -n` of its schema. */
async function smallAmongMany(tenants: number, rounds: number, work: string): Promise<BenchRow[]> {
  const scratch = await createScratchDatabase('cgk_bench_xfer_many');
  const db = new Database({ url: scratch.url });
  try {
    await setupDatabase({ db });
    const slugs = Array.from({ length: tenants }, (_, i) => `t${String(i).padStart(5, '0')}`);
    await createFleet(db, slugs, { label: 'bench', concurrency: 4, log: (line) => console.error(`transfer: ${line}`) });
    await db.sql.query(
      `insert into tenant_t00000.orders (currency, total_cents) select 'EUR', g from generate_series(1, 1000) g`,
    );
    const s = { dump: [] as number[], exp: [] as number[] };
    for (let round = 0; round < rounds * 2; round++) {
      await alternate(round, [
        () => timed(s.dump, () => run('pg_dump', ['-n', 'tenant_t00000', '-f', join(work, 'small.sql'), scratch.url])),
        () => timed(s.exp, () => exportTenant('t00000', { db, out: join(work, 'small.cgk') })),
      ]);
    }
    const n = tenants.toLocaleString('en-US');
    return [row(`export of 1 small tenant among ${n} vs pg_dump -n`, 'ms', median(s.dump), median(s.exp), { goal: '≤ 0.5x' })];
  } finally {
    await db.end();
    await scratch.drop();
  }
}

export async function runTransferBench(options: { rows?: number; tenants?: number; rounds?: number } = {}): Promise<BenchRow[]> {
  const work = await mkdtemp(join(tmpdir(), 'cgk-bench-transfer-'));
  try {
    const rounds = options.rounds ?? 2;
    // Each part's rows are printed as soon as they are measured: dropping the scratch databases afterwards can take
    // minutes on a busy server.
    const big = await bigTenant(options.rows ?? 1_000_000, rounds, work, (rows) => printTable('transfer (big tenant)', rows));
    const many = await smallAmongMany(options.tenants ?? 2000, rounds, work);
    return [...big, ...many];
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  const argv = process.argv.slice(2);
  const options: { rows?: number; tenants?: number; rounds?: number } = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--rows') options.rows = positiveInt(argv, i++);
    else if (argv[i] === '--tenants') options.tenants = positiveInt(argv, i++);
    else if (argv[i] === '--rounds') options.rounds = positiveInt(argv, i++);
    else throw new Error(`unknown option ${argv[i]}`);
  }
  printTable('transfer', await runTransferBench(options));
}
