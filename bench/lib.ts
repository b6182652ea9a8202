/**
 * Shared pieces of the benchmarks. Every figure is a ratio against a baseline measured in the same run,
 * with the variants interleaved round by round, because the machines are shared and noisy.
 */
import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { createTenant, type Database } from '../packages/db/src/index.js';
import { DEFAULT_TENANT_DIR } from '../packages/db/src/migrations/runner.js';

export {
  createTestDatabase as createScratchDatabase,
  ADMIN_URL,
  type TestDatabase as ScratchDatabase,
} from '../packages/db/test/helpers/database.js';

/** One line of a benchmark's result: what was measured, the baseline, ours, and ours / baseline. */
export interface BenchRow {
  name: string;
  unit: string;
  baseline: number;
  ours: number;
  ratio: number;
  goal?: string;
  note?: string;
}

/** The median of a list of numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Times each variant `perRound` times per round, for `rounds` rounds, and returns the median per-operation
 * time in microseconds of each. Variants take turns block by block, the order rotating every round: short
 * blocks spread a burst of load from elsewhere on a shared machine over every variant, and within a block
 * the variant's connection stays warm (alternating operation by operation instead makes every server
 * process sleep between its turns, and the wake-ups then dominate what is measured).
 */
export async function interleave(
  variants: Record<string, () => Promise<unknown>>,
  rounds: number,
  perRound: number,
): Promise<Record<string, number>> {
  const entries = Object.entries(variants);
  const samples: number[][] = entries.map(() => []);
  for (const [, run] of entries) for (let i = 0; i < 50; i++) await run(); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < entries.length; k++) {
      const index = (round + k) % entries.length;
      const run = entries[index]![1];
      for (let i = 0; i < perRound; i++) {
        const start = process.hrtime.bigint();
        await run();
        samples[index]!.push(Number(process.hrtime.bigint() - start) / 1000);
      }
    }
  }
  return Object.fromEntries(entries.map(([name], index) => [name, median(samples[index]!)]));
}

/** Operations per second of `callers` concurrent loops over `run` for about `ms` milliseconds. */
export async function throughput(run: () => Promise<unknown>, callers: number, ms: number): Promise<number> {
  let count = 0;
  const until = Date.now() + ms;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (Date.now() < until) {
        await run();
        count++;
      }
    }),
  );
  return count / (ms / 1000);
}

/** A row with its ratio computed. */
export function row(name: string, unit: string, baseline: number, ours: number, extra: Partial<BenchRow> = {}): BenchRow {
  return { name, unit, baseline, ours, ratio: ours / baseline, ...extra };
}

/** Prints rows as an aligned table. */
export function printTable(title: string, rows: BenchRow[]): void {
  console.log(`\n${title}`);
  const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
  const lines = rows.map((r) => [
    r.name,
    `${fmt(r.baseline)} ${r.unit}`,
    `${fmt(r.ours)} ${r.unit}`,
    `${r.ratio.toFixed(2)}x`,
    r.goal ?? '',
    r.note ?? '',
  ]);
  const header = ['measure', 'baseline', 'ours', 'ratio', 'goal', 'note'];
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  for (const line of [header, ...lines])
    console.log(
      line
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    );
}

/** True when the calling module is the script node was started with. */
export function isMain(metaUrl: string): boolean {
  return process.argv[1] !== undefined && metaUrl === pathToFileURL(process.argv[1]).href;
}

/** Appends the wall time of `work` (ms) to `samples`. */
export async function timed(samples: number[], work: () => Promise<unknown>): Promise<void> {
  const started = performance.now();
  await work();
  samples.push(performance.now() - started);
}

/**
 * Runs `steps` one after the other, in the given order when `round` is even and reversed when it is odd, so
 * that no side always goes first (the first of a pair meets a colder machine, the second a busier one).
 */
export async function alternate(round: number, steps: Array<() => Promise<unknown>>): Promise<void> {
  for (const step of round % 2 === 0 ? steps : [...steps].reverse()) await step();
}

/**
 * Wall time of `node <args>` as a child process, in ms, and its stdout; rejects (with the end of its stderr)
 * if it exits with another code than `exitCode` (0). `env` is the child's whole environment (NO_COLOR is added).
 */
export function timeNode(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; exitCode?: number } = {},
): Promise<{ ms: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    execFile(
      process.execPath,
      args,
      { cwd: options.cwd, env: { ...(options.env ?? process.env), NO_COLOR: '1' }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        if ((error ? Number(error.code) : 0) !== (options.exitCode ?? 0))
          reject(new Error(`node ${args.join(' ')} failed: ${error?.message ?? 'exit code 0'} ${stderr.slice(-500)}`));
        else resolve({ ms, stdout });
      },
    );
  });
}

/** The built-in tenant migration files (the real 13-file template), in order, and their text. */
export async function tenantTemplate(): Promise<{ files: string[]; texts: string[] }> {
  const files = (await readdir(DEFAULT_TENANT_DIR)).filter((f) => f.endsWith('.sql')).sort();
  return { files, texts: await Promise.all(files.map((f) => readFile(join(DEFAULT_TENANT_DIR, f), 'utf8'))) };
}

/**
 * createTenant() against the tenant template replayed raw, alternated tenant by tenant (the baseline first
 * on even tenants); per-tenant wall times of each side. `raw(i)` and `ours(i)` create tenant `i`.
 */
export async function replayAgainstCreate(
  count: number,
  raw: (i: number) => Promise<unknown>,
  ours: (i: number) => Promise<unknown>,
): Promise<{ baseline: number[]; ours: number[] }> {
  const samples = { baseline: [] as number[], ours: [] as number[] };
  for (let i = 0; i < count; i++) {
    await alternate(i, [() => timed(samples.baseline, () => raw(i)), () => timed(samples.ours, () => ours(i))]);
  }
  return samples;
}

/**
 * A raw node-postgres pool for a baseline. Its 'error' listener keeps the process alive when the server ends
 * an idle connection (a scratch database dropped with force at the end of a run): pg-pool re-emits that
 * error on the pool, and an 'error' event nobody listens to throws.
 */
export function rawPool(config: pg.PoolConfig & { pipeline?: boolean }): pg.Pool {
  const pool = new pg.Pool(config);
  pool.on('error', () => {});
  return pool;
}

/** Set by SIGINT / SIGTERM: provisioning stops taking new tenants. */
export const interruption = { stopped: false };

const TRANSIENT = /out of shared memory|too many (clients|connections)|deadlock detected|could not serialize/i;

export interface Provisioned {
  /** Per-tenant wall time in ms, in the order the tenants were started (slug order). */
  durations: number[];
  /** `doneAt[k]`: ms since the start when the (k+1)-th tenant was done (completion order). */
  doneAt: number[];
  failures: Array<{ slug: string; error: string }>;
  retries: Array<{ slug: string; error: string }>;
}

/** Creates tenants with `concurrency` parallel calls of `create`; a transient server error is retried. */
export async function provision(
  create: (slug: string) => Promise<unknown>,
  slugs: string[],
  concurrency: number,
  progress?: (done: number, ms: number[]) => void,
): Promise<Provisioned> {
  const durations: number[] = new Array(slugs.length);
  const doneAt: number[] = [];
  const failures: Array<{ slug: string; error: string }> = [];
  const retries: Array<{ slug: string; error: string }> = [];
  const begun = performance.now();
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < slugs.length && failures.length < 100 && !interruption.stopped) {
      const i = next++;
      const slug = slugs[i]!;
      for (let attempt = 1; ; attempt++) {
        const started = performance.now();
        try {
          await create(slug);
          durations[i] = performance.now() - started;
          break;
        } catch (error) {
          const message = (error as Error).message;
          // The server is shared: another process can exhaust the lock table or the connections for a
          // moment. createTenant is all-or-nothing, so such a tenant is simply created again.
          if (attempt < 5 && TRANSIENT.test(message)) {
            retries.push({ slug, error: message });
            await new Promise((r) => setTimeout(r, 250 * attempt));
            continue;
          }
          failures.push({ slug, error: message });
          break;
        }
      }
      done++;
      doneAt.push(performance.now() - begun);
      progress?.(done, durations);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { durations: durations.filter((d) => d !== undefined), doneAt, failures, retries };
}

/**
 * A fleet: createTenant() for every slug on `db` (named `${label} ${slug}`), `concurrency` at a time, each
 * followed by `after(slug)` if given (seeding); a line on `log` every `every` tenants (count, elapsed time,
 * recent rate and median). Throws when a tenant could not be made, unless `tolerate` (the caller reports).
 */
export async function createFleet(
  db: Database,
  slugs: string[],
  options: {
    label: string;
    concurrency: number;
    log: (line: string) => void;
    every?: number;
    after?: (slug: string) => Promise<unknown>;
    tolerate?: boolean;
  },
): Promise<Provisioned & { ms: number }> {
  const n = slugs.length;
  const every = options.every ?? Math.max(100, Math.round(n / 20));
  const started = performance.now();
  let mark = { at: started, done: 0 };
  const outcome = await provision(
    async (slug) => {
      await createTenant({ slug, name: `${options.label} ${slug}` }, { db });
      await options.after?.(slug);
    },
    slugs,
    options.concurrency,
    (done, ms) => {
      if (done % every !== 0 && done !== n) return;
      const now = performance.now();
      const recent = ms.slice(mark.done, done).filter((d) => d !== undefined);
      const rate = ((done - mark.done) / ((now - mark.at) / 1000)).toFixed(1);
      const elapsed = ((now - started) / 1000).toFixed(0);
      options.log(`${done}/${n} tenants, ${elapsed} s, ${rate} tenants/s lately, median ${median(recent).toFixed(1)} ms`);
      mark = { at: now, done };
    },
  );
  const { failures } = outcome;
  if (failures.length > 0 && !options.tolerate)
    throw new Error(`${failures.length} tenants failed, first: ${failures[0]!.slug}: ${failures[0]!.error}`);
  return { ...outcome, ms: performance.now() - started };
}

/** The positive integer after option `argv[i]` (`--tenants 100`); throws naming the option otherwise. */
export function positiveInt(argv: string[], i: number): number {
  const v = Number(argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${argv[i]} needs a positive integer`);
  return v;
}
