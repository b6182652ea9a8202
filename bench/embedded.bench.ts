/**
 * The newcomer's first run: `cgk` with no DATABASE_URL, on the embedded PostgreSQL (PGlite), as processes.
 *
 * - `cgk setup:database` in an empty folder against PGlite's own first open of a new data directory
 *   (`node bench/pglite-open.mjs <dir>`: Node's start, PGlite's import, initdb, `select 1`, close);
 * - `cgk tenant:list` in that folder afterwards against PGlite's own reopen of an existing directory.
 *
 * Both sides are whole processes started the same way; ours includes the CLI's start-up and the public
 * migrations. Peak RSS of each process is read at its exit (bench/peak-rss.mjs). Rounds alternate which side
 * goes first, each in new folders; medians. The prepared data directory (`npm run build`) is made first if
 * it is missing. Run alone: `npx tsx bench/embedded.bench.ts`.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPgliteSeed, pgliteSeedPath } from '../packages/db/src/drivers/pglite/seed.js';
import { alternate, isMain, median, printTable, row, timeNode, type BenchRow } from './lib.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'packages', 'cli', 'bin', 'cgk.mjs');
const OPEN = join(ROOT, 'bench', 'pglite-open.mjs');
const PEAK = join(ROOT, 'bench', 'peak-rss.mjs');

/** Runs `node <args>` in `cwd` without DATABASE_URL; resolves to wall ms and peak RSS in MB. */
async function measured(args: string[], cwd: string): Promise<{ ms: number; rssMB: number }> {
  const rssFile = join(cwd, `.rss-${Math.random().toString(36).slice(2)}`);
  const env: NodeJS.ProcessEnv = { ...process.env, CGK_BENCH_RSS_FILE: rssFile };
  delete env.DATABASE_URL;
  delete env.CGK_DB_DRIVER;
  const { ms } = await timeNode(['--import', PEAK, ...args], { cwd, env });
  const rssMB = Number(await readFile(rssFile, 'utf8')) / 1024;
  await rm(rssFile, { force: true });
  return { ms, rssMB };
}

export async function runEmbeddedBench(options: { rounds?: number } = {}): Promise<BenchRow[]> {
  const rounds = options.rounds ?? 3;
  let built = '';
  const seed = pgliteSeedPath();
  if (seed !== undefined && !existsSync(seed)) {
    const started = performance.now();
    await buildPgliteSeed(seed);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    built = `; the prepared data directory was built first (${seconds} s, as npm run build does)`;
  }
  const s = {
    fresh: [] as number[],
    setup: [] as number[],
    reopen: [] as number[],
    list: [] as number[],
    setupRss: [] as number[],
    listRss: [] as number[],
    freshRss: [] as number[],
  };
  const work = await mkdtemp(join(tmpdir(), 'cgk-bench-embedded-'));
  try {
    for (let round = 0; round < rounds; round++) {
      const theirs = join(work, `pglite-${round}`);
      const ours = join(work, `app-${round}`);
      await Promise.all([mkdir(theirs), mkdir(ours)]);
      const first = [
        async () => {
          const r = await measured([OPEN, join(theirs, 'data')], theirs);
          s.fresh.push(r.ms);
          s.freshRss.push(r.rssMB);
        },
        async () => {
          const r = await measured([BIN, 'setup:database'], ours);
          s.setup.push(r.ms);
          s.setupRss.push(r.rssMB);
        },
      ];
      const later = [
        async () => s.reopen.push((await measured([OPEN, join(theirs, 'data')], theirs)).ms),
        async () => {
          const r = await measured([BIN, 'tenant:list'], ours);
          s.list.push(r.ms);
          s.listRss.push(r.rssMB);
        },
      ];
      await alternate(round, first);
      await alternate(round, later);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const mb = (xs: number[]) => `${median(xs).toFixed(0)} MB (max ${Math.max(...xs).toFixed(0)})`;
  const each = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');
  return [
    row('embedded: cgk setup:database, empty folder, vs PGlite fresh open', 'ms', median(s.fresh), median(s.setup), {
      goal: '≤ 0.5x',
      note:
        `peak RSS: ours ${mb(s.setupRss)}, PGlite's fresh open ${mb(s.freshRss)} (goal ≤ 400 MB); ` +
        `per round: ours ${each(s.setup)}, PGlite ${each(s.fresh)}${built}`,
    }),
    row('embedded: cgk tenant:list afterwards vs PGlite reopen', 'ms', median(s.reopen), median(s.list), {
      goal: '≤ 1.5x',
      note: `peak RSS: ours ${mb(s.listRss)}; per round: ours ${each(s.list)}, PGlite ${each(s.reopen)}`,
    }),
    row('embedded: peak RSS of cgk setup:database vs PGlite fresh open', 'MB', median(s.freshRss), median(s.setupRss)),
  ];
}

if (isMain(import.meta.url)) {
  printTable('Embedded PostgreSQL (PGlite), first run through the CLI', await runEmbeddedBench());
}
