/**
 * The packages as installed from npm: `npm pack` of both workspaces, installed into apps outside the
 * repository (one with @cgk/db alone, as a plain-PostgreSQL service; one with @cgk/cli too). Measures
 *   - `cgk --help` start-up (the installed, compiled bin) against `node -e 0`;
 *   - the time to import @cgk/db against importing `pg` alone, in a fresh process each time;
 *   - the install size of @cgk/db for a plain-PostgreSQL user against `pg` alone, and of @cgk/cli.
 * Runs alone with `npx tsx bench/packaging.bench.ts`, or in `npm run bench`.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { npmInstall, packWorkspaces, scratchApp } from '../tests/helpers/pack.js';
import { runOk } from '../tests/helpers/run.js';
import { isMain, median, printTable, row, type BenchRow } from './lib.js';

export interface PackagingBenchOptions {
  /** Processes started per variant (interleaved). */
  runs?: number;
}

/** Wall time of `node <args>` in `cwd`, in ms, and what it printed. */
function timeNode(args: string[], cwd: string): Promise<{ ms: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NO_COLOR: '1' };
    execFile(process.execPath, args, { cwd, env }, (error, stdout) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (error) reject(new Error(`node ${args.join(' ')} failed in ${cwd}: ${error.message}`));
      else resolve({ ms, stdout: String(stdout) });
    });
  });
}

/** Medians of two variants run alternately (the order swapping every run), after one warm-up run of each. */
async function alternate(runs: number, base: () => Promise<number>, ours: () => Promise<number>): Promise<[number, number]> {
  await base();
  await ours();
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      a.push(await base());
      b.push(await ours());
    } else {
      b.push(await ours());
      a.push(await base());
    }
  }
  return [median(a), median(b)];
}

/** Bytes under `dir/node_modules` (apparent size, as `du -sb`). */
async function installBytes(dir: string): Promise<number> {
  const { stdout } = await runOk('du', ['-sb', join(dir, 'node_modules')], { cwd: dir });
  return Number(stdout.split(/\s/)[0]);
}

/** An import of `name` timed inside a fresh process (start-up excluded), in ms. */
function importTime(name: string, cwd: string): () => Promise<number> {
  const script = `const t = performance.now(); await import(${JSON.stringify(name)}); console.log(performance.now() - t);`;
  return async () => Number((await timeNode(['--input-type=module', '-e', script], cwd)).stdout.trim());
}

export async function runPackagingBench(options: PackagingBenchOptions = {}): Promise<BenchRow[]> {
  const runs = options.runs ?? 20;
  const packed = await packWorkspaces();
  const plainPg = scratchApp('bench-pg');
  const plain = scratchApp('bench-db');
  const full = scratchApp('bench-cli');
  try {
    await npmInstall(plainPg.dir, ['pg@8']);
    await npmInstall(plain.dir, [packed.db]);
    await npmInstall(full.dir, [packed.db, packed.cli]);
    const bin = join(full.dir, 'node_modules/@cgk/cli/bin/cgk.mjs');
    const [bare, help] = await alternate(
      runs,
      async () => (await timeNode(['-e', '0'], full.dir)).ms,
      async () => (await timeNode([bin, '--help'], full.dir)).ms,
    );
    const [pgImport, dbImport] = await alternate(runs, importTime('pg', plain.dir), importTime('@cgk/db', plain.dir));
    const mb = (bytes: number) => bytes / 1e6;
    const sizes = await Promise.all([plainPg, plain, full].map((app) => installBytes(app.dir)));
    const [pgSize, dbSize, cliSize] = sizes as [number, number, number];
    return [
      row(`cgk --help (installed, compiled) vs node -e 0 (median of ${runs})`, 'ms', bare, help, {
        goal: '≤ 2x',
        note: `CLI's own share: ${(help - bare).toFixed(0)} ms`,
      }),
      row(`import @cgk/db vs import pg alone (fresh process, median of ${runs})`, 'ms', pgImport, dbImport, {
        note: 'pg, PGlite, Neon, ws and ioredis load on first use, not on import',
      }),
      row('install size: @cgk/db vs pg alone (node_modules)', 'MB', mb(pgSize), mb(dbSize), {
        note: `@cgk/db + @cgk/cli (with PGlite): ${mb(cliSize).toFixed(1)} MB`,
      }),
    ];
  } finally {
    for (const dir of [plainPg, plain, full]) dir.remove();
    packed.remove();
  }
}

if (isMain(import.meta.url)) {
  printTable('packaging', await runPackagingBench());
}
