/**
 * The operator console at fleet scale: `npm run bench:console` (never run by the test suite).
 *
 *   npm run bench:console                       10,000 tenants (creating them takes ~10 minutes here)
 *   npm run bench:console -- --tenants 500      a smoke run
 *   npm run bench:console -- --reuse <db>       a database an earlier run kept (--keep), tenants already made
 *
 * The console runs as an operator starts it: the compiled CLI (`npm run build` first), `cgk console`, over a
 * database of N real tenants (the full tenant template, each with its role). Each page is requested through
 * HTTP as a browser would (with the token cookie); its time is the server's (loopback, the client adds
 * ~0.1 ms). The baseline of each page is the bare registry read behind it, sent by `pg` in the same run: what
 * one page of `select ... from public.organizations` costs. First paint: Debian's Chromium, headless.
 * Goals: every page's p95 < 100 ms at 10,000 tenants; first paint < 1 s.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import pg from 'pg';
import { chromium } from 'playwright-core';
import { Database, setupDatabase } from '../packages/db/src/index.js';
import { ADMIN_URL, createFleet, createScratchDatabase, isMain, positiveInt, printTable, row, type BenchRow } from './lib.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST_BIN = join(ROOT, 'bench/cgk-dist.mjs');

function p95(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)]!;
}

/** Starts the compiled `cgk console` on `url`; resolves with its address once it printed it. */
function startConsole(url: string): Promise<{ child: ChildProcess; base: string; token: string }> {
  const child = spawn(process.execPath, [DIST_BIN, 'console', '--port', '0'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATABASE_URL: url },
  });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const found = /Console: (http:\/\/\S+)/.exec(out);
      if (found) resolve({ child, base: found[1]!.split('/?token=')[0]!, token: found[1]!.split('token=')[1]! });
    });
    child.once('exit', (code) => reject(new Error(`cgk console exited (${code}): ${out}`)));
  });
}

async function timePages(base: string, token: string, paths: string[], rounds: number): Promise<Map<string, number[]>> {
  const samples = new Map(paths.map((p) => [p, [] as number[]]));
  const headers = { authorization: `Bearer ${token}` };
  for (const path of paths) await (await fetch(base + path, { headers })).text(); // warm each once
  for (let round = 0; round < rounds; round++) {
    for (const path of paths) {
      const started = performance.now();
      const response = await fetch(base + path, { headers });
      await response.text();
      if (response.status !== 200) throw new Error(`${path}: HTTP ${response.status}`);
      samples.get(path)!.push(performance.now() - started);
    }
  }
  return samples;
}

async function registryBaseline(url: string, tenants: number, rounds: number): Promise<number[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const samples: number[] = [];
  try {
    for (let round = 0; round < rounds + 1; round++) {
      const offset = (round * 50) % Math.max(1, tenants - 50);
      const started = performance.now();
      await client.query(
        `select slug, name, status::text, created_at, count(*) over ()
         from public.organizations order by slug limit 50 offset $1`,
        [offset],
      );
      if (round > 0) samples.push(performance.now() - started);
    }
  } finally {
    await client.end();
  }
  return samples;
}

async function firstPaint(base: string, token: string): Promise<number[]> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update'],
  });
  const paints: number[] = [];
  try {
    const page = await browser.newPage();
    await page.goto(`${base}/?token=${token}`);
    for (let i = 0; i < 5; i++) {
      await page.goto(`${base}/tenants?page=${i + 1}`);
      paints.push(
        await page.evaluate(
          () =>
            new Promise<number>((resolve) => {
              // Paint entries can arrive after the load event in headless Chromium: wait for them (buffered).
              new PerformanceObserver((list) => {
                const fcp = list.getEntries().find((e) => e.name === 'first-contentful-paint');
                if (fcp) resolve(fcp.startTime);
              }).observe({ type: 'paint', buffered: true });
              setTimeout(() => resolve(Number.NaN), 5000);
            }),
        ),
      );
    }
  } finally {
    await browser.close();
  }
  return paints;
}

/** Runs the console rows over `n` tenants (created unless `reuse` names a kept database). */
export async function consoleRows(options: { tenants?: number; rounds?: number; reuse?: string; keep?: boolean } = {}) {
  if (!existsSync(join(ROOT, 'packages/cli/dist/main.js')))
    throw new Error('run `npm run build` first: the bench runs the compiled CLI');
  const n = options.tenants ?? 10_000;
  const rounds = options.rounds ?? 40;
  const scratch = options.reuse
    ? {
        name: options.reuse,
        url: Object.assign(new URL(ADMIN_URL), { pathname: `/${options.reuse}` }).toString(),
        drop: async () => {},
      }
    : await createScratchDatabase('cgk_bench_console');
  const db = new Database({ url: scratch.url });
  let console_: Awaited<ReturnType<typeof startConsole>> | undefined;
  try {
    if (!options.reuse) {
      await setupDatabase({ db });
      const slugs = Array.from({ length: n }, (_, i) => `t${String(i).padStart(5, '0')}`);
      await createFleet(db, slugs, { label: 'Store', concurrency: 4, log: (line) => console.log(line) });
      // The registry only: a whole-database ANALYZE of 10,000 schemas takes far longer than the bench itself.
      await db.sql`analyze public.organizations`;
    }
    console_ = await startConsole(scratch.url);
    const { base, token } = console_;
    const middle = Math.floor(n / 100);
    const paths = [
      '/tenants',
      `/tenants?page=${middle}`,
      '/tenants?sort=size',
      '/tenants?sort=activity',
      '/tenants?q=t0042',
      '/tenants/t00042',
      '/',
    ];
    const pages = await timePages(base, token, paths, rounds);
    const baseline = await registryBaseline(scratch.url, n, rounds);
    const rows: BenchRow[] = paths.map((path) =>
      row(`console ${path} at ${n} tenants, p95`, 'ms', p95(baseline), p95(pages.get(path)!), { goal: 'p95 < 100 ms' }),
    );
    const paints = await firstPaint(base, token);
    rows.push(
      row(`console /tenants first contentful paint at ${n} tenants, median`, 'ms', 1000, paints.sort((a, b) => a - b)[2]!, {
        goal: '< 1,000 ms (baseline column: the goal)',
      }),
    );
    return rows;
  } finally {
    console_?.child.kill('SIGTERM');
    await db.end();
    if (!options.keep && !options.reuse) await scratch.drop();
    else console.log(`kept database ${scratch.name}: --reuse ${scratch.name}`);
  }
}

/**
 * What the console adds to the installed @cgk/cli: it has no dependency of its own, so its bytes in the compiled
 * bundle (the CLI's own build settings, with esbuild's metafile), against the bundle as a whole.
 */
export async function consoleBundleRow(): Promise<BenchRow> {
  const result = await build({
    entryPoints: [join(ROOT, 'packages/cli/src/main.ts')],
    bundle: true,
    write: false,
    outdir: join(ROOT, '.scratch/console-bundle'),
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: ['@cgk/db', '@electric-sql/pglite', 'pg'],
    metafile: true,
    logLevel: 'silent',
  });
  const output = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined)!;
  const consoleBytes = Object.entries(output.inputs)
    .filter(([path]) => /packages\/cli\/src\/(console\/|commands\/console\.ts)/.test(path))
    .reduce((sum, [, input]) => sum + input.bytesInOutput, 0);
  return row(
    'console code in the installed @cgk/cli (bundle bytes; baseline: the whole bundle)',
    'KiB',
    output.bytes / 1024,
    consoleBytes / 1024,
    {
      goal: '≤ 3 MB added',
    },
  );
}

if (isMain(import.meta.url)) {
  const argv = process.argv.slice(2);
  const tenants = argv.includes('--tenants') ? positiveInt(argv, argv.indexOf('--tenants')) : undefined;
  const reuse = argv.includes('--reuse') ? argv[argv.indexOf('--reuse') + 1] : undefined;
  const rows = await consoleRows({ ...(tenants ? { tenants } : {}), ...(reuse ? { reuse } : {}), keep: argv.includes('--keep') });
  rows.push(await consoleBundleRow());
  printTable('cgk console', rows);
}
