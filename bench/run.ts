/**
 * Every benchmark, one table: `npm run bench` (never run by the test suite).
 *
 *   npm run bench                          the full run (a few minutes)
 *   npm run bench -- --quick               fewer rounds: a smoke run, figures are rough
 *   npm run bench -- --only tenant,cli     only these modules (tenant, lifecycle, pending, migrations, cache, neon, embedded,
 *                                          cli, packaging, exec, tenant-stats, transfer)
 *
 * Each module measures its baselines in the same run as ours, interleaved (shared, noisy machines: only
 * ratios mean something). A module whose file is missing is reported "not available", one that throws is
 * reported "failed"; the others still run. Writes bench/results/<timestamp>.json and bench/results/latest.json
 * with the machine, the versions and every row.
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMain, type BenchRow } from './lib.js';
import { machineInfo, timestamp } from './machine.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const resultsDir = join(ROOT, 'bench', 'results');

/** Where a result was recorded; kept importable from here for the benchmarks that write their own results. */
export { machineInfo, timestamp };

// --- modules -------------------------------------------------------------------------------------------------

/** A benchmark module: its file under bench/, the function it exports, and that function's options. */
interface ModuleSpec {
  name: string;
  file: string;
  exportName: string;
  options(quick: boolean): Record<string, unknown>;
}

class NotAvailable extends Error {}

type RowsRun = (options?: Record<string, unknown>) => Promise<BenchRow[]>;

/** Imports a module's function; a missing file (or a missing export) means "not available". */
async function load(spec: ModuleSpec): Promise<RowsRun> {
  const { file, exportName } = spec;
  if (!existsSync(join(ROOT, 'bench', file))) throw new NotAvailable(`bench/${file} is not there`);
  const mod = (await import(`./${file.replace(/\.ts$/, '.js')}`)) as Record<string, unknown>;
  if (typeof mod[exportName] !== 'function') throw new NotAvailable(`bench/${file} does not export ${exportName}()`);
  return mod[exportName] as RowsRun;
}

/** Runs a module with its full or --quick options. */
async function runModule(spec: ModuleSpec, quick: boolean): Promise<BenchRow[]> {
  return (await load(spec))(spec.options(quick));
}

const MODULES: ModuleSpec[] = [
  {
    name: 'tenant',
    file: 'tenant.bench.ts',
    exportName: 'runTenantBench',
    options: (q) => (q ? { rounds: 2, perRound: 100, trials: 2 } : {}),
  },
  { name: 'lifecycle', file: 'lifecycle.bench.ts', exportName: 'runLifecycleBench', options: (q) => (q ? { tenants: 8 } : {}) },
  { name: 'pending', file: 'pending.bench.ts', exportName: 'runPendingBench', options: (q) => (q ? { tenants: 6 } : {}) },
  // The goal is stated for 1,000 tenants; --quick uses 200 (the fleet is built twice).
  {
    name: 'migrations',
    file: 'migrations.bench.ts',
    exportName: 'runMigrationsBench',
    options: (q) => ({ tenants: q ? 200 : 1000 }),
  },
  { name: 'orm', file: 'orm.bench.ts', exportName: 'runOrmBench', options: (q) => (q ? { rounds: 3, perRound: 100 } : {}) },
  { name: 'cache', file: 'cache.bench.ts', exportName: 'runCacheBench', options: (q) => (q ? { ops: 2000, rounds: 2 } : {}) },
  { name: 'neon', file: 'neon.bench.ts', exportName: 'runNeonBench', options: (q) => (q ? { rounds: 2, perRound: 40 } : {}) },
  { name: 'embedded', file: 'embedded.bench.ts', exportName: 'runEmbeddedBench', options: (q) => (q ? { rounds: 1 } : {}) },
  // The migrate goal is stated for 1,000 real tenants (creating them takes about a minute).
  {
    name: 'cli',
    file: 'cli.bench.ts',
    exportName: 'runCliBench',
    options: (q) => (q ? { tenants: 200, rounds: 2, creates: 4, startupRuns: 4 } : { tenants: 1000 }),
  },
  { name: 'packaging', file: 'packaging.bench.ts', exportName: 'runPackagingBench', options: (q) => (q ? { runs: 6 } : {}) },
  // tenant:exec (issue 27): the time goal is stated for 1,000 tenants, the dry-run and memory goals for 10,000
  // (creating them takes long: the full run only; --quick uses 200 and 1,000).
  {
    name: 'exec',
    file: 'exec.bench.ts',
    exportName: 'runExecBench',
    options: (q) => (q ? { tenants: 200, big: 1000, rounds: 2 } : { tenants: 1000, big: 10000 }),
  },
  // Noisy neighbour, statistics cost, tenantStats(): per-tenant statistics, limits and fair share (#30).
  {
    name: 'tenant-stats',
    file: 'tenant-stats.bench.ts',
    exportName: 'runTenantStatsBench',
    options: (q) => (q ? { seconds: 6, rounds: 2 } : {}),
  },
  // The goals are stated for 1,000,000 order rows and 2,000 tenants (building them takes several minutes).
  {
    name: 'transfer',
    file: 'transfer.bench.ts',
    exportName: 'runTransferBench',
    options: (q) => (q ? { rows: 100_000, tenants: 200, rounds: 1 } : {}),
  },
];

// --- goals ---------------------------------------------------------------------------------------------------

interface Goal {
  text: string;
  met(r: BenchRow): boolean;
}

/** `ours` in milliseconds, whatever the row's unit. */
function oursMs(r: BenchRow): number {
  const unit = r.unit.toLowerCase();
  if (unit === 'µs' || unit === 'us') return r.ours / 1000;
  if (unit === 's') return r.ours * 1000;
  return r.ours;
}

/** The issue's goals, matched to rows by module and name; other rows keep a plain "≤ Nx" goal they state themselves. */
function goalFor(module: string, r: BenchRow): Goal | undefined {
  const name = r.name.toLowerCase();
  if (module === 'tenant' && name.startsWith('withtenant(select 1) vs pipelined floor')) {
    return { text: '≤ 1.10x floor', met: (x) => x.ratio <= 1.1 };
  }
  if (module === 'lifecycle' && name.startsWith('createtenant')) {
    return { text: '≤ 1.50x raw DDL, < 100 ms', met: (x) => x.ratio <= 1.5 && oursMs(x) < 100 };
  }
  // migrations.bench.ts rows: "nothing pending, N tenants (ours: fast check)" / "(ours: verify)",
  // "one-line migration, N tenants, concurrency 4" / "concurrency 1" / "concurrency 4, synchronousCommit".
  // The goals are on the fast check and on the runner as it ships (concurrency 4, default commit mode); the
  // other rows are shown for context.
  if (module === 'migrations' && /nothing pending|no-?op/.test(name) && !name.includes('verify')) {
    return { text: '< 1 s (1,000 tenants)', met: (x) => oursMs(x) < 1000 };
  }
  if (module === 'migrations' && /one-line/.test(name) && !/concurrency 1\b|synchronous/.test(name)) {
    return { text: '≤ 1.00x psql', met: (x) => x.ratio <= 1.0 };
  }
  if (module === 'orm' && r.goal) {
    return r.unit === 'µs'
      ? { text: '≤ 15 µs added', met: (x) => x.ours - x.baseline <= 15 }
      : { text: '2', met: (x) => x.ours <= 2 };
  }
  if (module === 'cache' && /^cache (get|set)\b/.test(name) && !name.includes('raw string')) {
    return { text: '≤ 1.20x raw client', met: (x) => x.ratio <= 1.2 };
  }
  if (module === 'embedded' && name.includes('peak rss')) {
    return { text: '≤ 400 MB', met: (x) => x.ours <= 400 };
  }
  if (module === 'exec' && name.includes('--dry-run')) {
    return { text: '< 1 s', met: (x) => oursMs(x) < 1000 };
  }
  const stated = /^≤\s*([\d.]+)x\s*$/.exec(r.goal?.trim() ?? '');
  if (stated) return { text: `≤ ${stated[1]}x`, met: (x) => x.ratio <= Number(stated[1]) };
  return undefined;
}

// --- the run -------------------------------------------------------------------------------------------------

interface ModuleOutcome {
  name: string;
  status: 'ok' | 'not available' | 'failed' | 'skipped';
  message?: string;
  durationMs: number;
  rows: Array<BenchRow & { goalText: string | null; met: boolean | null }>;
}

export function parseRunArgs(argv: string[]): { quick: boolean; only: string[] | null } {
  let quick = false;
  let only: string[] | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (!value) throw new Error('--only needs a module name');
      only = [
        ...(only ?? []),
        ...value
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ];
    } else if (arg === '--help' || arg === '-h') {
      console.log(`usage: npm run bench -- [--quick] [--only ${MODULES.map((m) => m.name).join(',')}]`);
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (try --help)`);
  }
  const unknown = only?.filter((n) => !MODULES.some((m) => m.name === n)) ?? [];
  if (unknown.length > 0)
    throw new Error(`unknown module ${unknown.join(', ')}; modules: ${MODULES.map((m) => m.name).join(', ')}`);
  return { quick, only };
}

/** Longest a module may run before it is stopped and reported failed. */
const MODULE_TIMEOUT_MS = 30 * 60_000;

/**
 * Runs each module in a child process of its own (`run.ts --child <name>`): a module that crashes, hangs or
 * leaves a handle open cannot take the others with it or leave work running behind them, and each starts
 * from a fresh process. The child writes its rows (or why it has none) to a JSON file.
 */
export async function runAll(options: { quick: boolean; only: string[] | null }): Promise<ModuleOutcome[]> {
  const outcomes: ModuleOutcome[] = [];
  const work = await mkdtemp(join(tmpdir(), 'cgk-bench-'));
  try {
    for (const mod of MODULES) {
      if (options.only && !options.only.includes(mod.name)) continue;
      const started = performance.now();
      console.log(`bench: ${mod.name} ...`);
      const out = join(work, `${mod.name}.json`);
      const { code, stderrTail } = await runChild(mod.name, options.quick, out);
      const durationMs = performance.now() - started;
      let result: ChildResult | undefined;
      try {
        result = JSON.parse(await readFile(out, 'utf8')) as ChildResult;
      } catch {
        result = undefined;
      }
      if (result?.status === 'ok') {
        const rows = result.rows.map((r) => {
          const goal = goalFor(mod.name, r);
          return { ...r, goalText: goal?.text ?? null, met: goal ? goal.met(r) : null };
        });
        outcomes.push({ name: mod.name, status: 'ok', durationMs, rows });
        console.log(`bench: ${mod.name} done in ${(durationMs / 1000).toFixed(1)} s`);
      } else {
        const status = result?.status ?? 'failed';
        const tail = stderrTail ? `: ${stderrTail.trim().split('\n').slice(-3).join(' | ')}` : '';
        const message = result?.message ?? `the module's process exited with ${code}${tail}`;
        outcomes.push({ name: mod.name, status, message, durationMs, rows: [] });
        console.log(`bench: ${mod.name} ${status}: ${message}`);
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return outcomes;
}

interface ChildResult {
  status: 'ok' | 'not available' | 'failed';
  message?: string;
  rows: BenchRow[];
}

/** Starts this file with `--child`, passing its output through; resolves with its exit code and last stderr. */
function runChild(name: string, quick: boolean, out: string): Promise<{ code: number | string; stderrTail: string }> {
  return new Promise((resolve) => {
    const args = [
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      '--child',
      name,
      '--out',
      out,
      ...(quick ? ['--quick'] : []),
    ];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'pipe'] });
    let tail = '';
    child.stderr.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      tail = (tail + chunk.toString()).slice(-4000);
    });
    const timer = setTimeout(() => {
      tail += `\ntimed out after ${MODULE_TIMEOUT_MS / 60_000} min`;
      child.kill('SIGTERM');
    }, MODULE_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? 'unknown', stderrTail: tail });
    });
  });
}

/** The child's side: runs one module, writes a ChildResult to `out`, exits. */
async function childMain(name: string, quick: boolean, out: string): Promise<void> {
  const mod = MODULES.find((m) => m.name === name);
  const write = (result: ChildResult) => writeFileSync(out, JSON.stringify(result));
  // An idle pooled connection killed by the module's own `drop database ... with (force)` (SQLSTATE 57P01)
  // emits an 'error' nobody listens to once the work is done: noise, reported and ignored. Anything else
  // that escapes the module fails it.
  const onEscape = (error: unknown) => {
    if ((error as { code?: unknown } | null)?.code === '57P01') {
      console.warn(`bench: ${name}: ignored an idle connection closed by a database drop`);
      return;
    }
    write({
      status: 'failed',
      message: `escaped the module: ${error instanceof Error ? error.message : String(error)}`,
      rows: [],
    });
    console.error(error);
    process.exit(1);
  };
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
  try {
    if (!mod) throw new Error(`unknown module ${name}`);
    const rows = await runModule(mod, quick);
    write({ status: 'ok', rows });
    process.exitCode = 0;
  } catch (error) {
    const status = error instanceof NotAvailable ? 'not available' : 'failed';
    write({ status, message: error instanceof Error ? error.message : String(error), rows: [] });
    if (status === 'failed') console.error(error);
    process.exitCode = status === 'failed' ? 1 : 0;
  }
  // Pools a module forgot to close must not keep the child alive.
  setTimeout(() => process.exit(), 1000).unref();
}

/** The one table: module, measure, baseline, ours, ratio, goal, met?; then each row's note. */
export function printOutcomes(outcomes: ModuleOutcome[]): void {
  const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
  const lines: string[][] = [];
  const notes: string[] = [];
  for (const o of outcomes) {
    if (o.status !== 'ok') {
      lines.push([o.name, o.status, '', '', '', '', '']);
      notes.push(`${o.name}: ${o.status}: ${o.message}`);
      continue;
    }
    for (const r of o.rows) {
      lines.push([
        o.name,
        r.name,
        `${fmt(r.baseline)} ${r.unit}`,
        `${fmt(r.ours)} ${r.unit}`,
        `${r.ratio.toFixed(2)}x`,
        r.goalText ?? '—',
        r.met === null ? '—' : r.met ? 'yes' : 'NO',
      ]);
      if (r.note) notes.push(`${o.name} / ${r.name}: ${r.note}`);
    }
  }
  const header = ['bench', 'measure', 'baseline', 'ours', 'ratio', 'goal', 'met?'];
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const right = new Set([2, 3, 4]);
  const format = (cells: string[]) =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  console.log('');
  console.log(format(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(format(l));
  if (notes.length > 0) {
    console.log('\nnotes:');
    for (const n of notes) console.log(`  ${n}`);
  }
  const goals = outcomes.flatMap((o) => o.rows).filter((r) => r.met !== null);
  const missed = goals.filter((r) => r.met === false);
  const notMet = missed.length ? `; not met: ${missed.map((r) => r.name).join('; ')}` : '';
  console.log(`\ngoals: ${goals.length - missed.length}/${goals.length} met${notMet}`);
}

const childIndex = process.argv.indexOf('--child');
if (isMain(import.meta.url) && childIndex > 0) {
  const argv = process.argv;
  await childMain(argv[childIndex + 1]!, argv.includes('--quick'), argv[argv.indexOf('--out') + 1]!);
} else if (isMain(import.meta.url)) {
  const options = parseRunArgs(process.argv.slice(2));
  const started = new Date();
  const machine = await machineInfo();
  const quick = options.quick ? ' (--quick: rough figures)' : '';
  const where = `${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, load ${machine.loadAverage.join(' ')}`;
  console.log(`bench: ${where}, node ${machine.node}, ${machine.postgres?.split(' on ')[0]}${quick}`);
  const outcomes = await runAll(options);
  printOutcomes(outcomes);
  const report = {
    kind: 'bench',
    date: started.toISOString(),
    durationMs: Math.round(Date.now() - started.getTime()),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    quick: options.quick,
    only: options.only,
    machine: { ...machine, loadAverageAfter: loadavg().map((x) => Math.round(x * 100) / 100) },
    modules: outcomes,
  };
  await mkdir(resultsDir, { recursive: true });
  const json = JSON.stringify(report, null, 2);
  await writeFile(join(resultsDir, `${timestamp(started)}.json`), json);
  await writeFile(join(resultsDir, 'latest.json'), json);
  console.log(`\nwrote bench/results/${timestamp(started)}.json and bench/results/latest.json`);
  // A bench module that leaves a handle open (a pool, a socket) must not keep the process alive.
  process.exitCode = outcomes.some((o) => o.status === 'failed') ? 1 : 0;
  setTimeout(() => process.exit(), 1000).unref();
}
