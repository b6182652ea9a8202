/**
 * `cgk tenant:exec` (issue 27), end to end through the command line, on fleets of real tenants (createTenant,
 * the 13-file template). Rows:
 *
 * - `tenant:exec --all --sql "update orders set note = note where false"` over N tenants (default 1,000),
 *   minus the CLI's start-up with `@cgk/db` loaded, against the same statement sent to every tenant by ONE psql
 *   session (`set search_path = tenant_x; update ...;` per tenant, autocommit: the fastest thing an operator
 *   can type; it sets no role and records nothing). Goal ≤ 1.2x. Rounds alternate which side goes first;
 *   medians.
 * - `tenant:exec --all --dry-run` over a big fleet (default 10,000 tenants), the whole command. Goal < 1 s.
 *   Baseline: psql printing the same slugs (one query).
 * - Peak RSS of `tenant:exec --json --sql ...` over the big fleet against the same command over 100 of its
 *   tenants (`--status suspended`, 100 tenants set suspended). Goal ≤ 1.2x.
 * The big fleet is made of light tenants (see withLightFleet); the time row's fleet of real ones.
 *
 * Through the compiled CLI (bench/cgk-dist.mjs, `npm run build`) when it is built, else the repository's bin
 * (TypeScript through tsx). Run alone: `npx tsx bench/exec.bench.ts [--tenants N] [--big N]`.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Database, setupDatabase } from '../packages/db/src/index.js';
import { grantTenantRoleSql } from '../packages/db/src/roles/tenant-role.js';
import {
  alternate,
  createFleet,
  createScratchDatabase,
  isMain,
  median,
  positiveInt,
  printTable,
  rawPool,
  row,
  timeNode,
  type BenchRow,
} from './lib.js';
import { psqlScript } from './psql.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'packages', 'cli', 'dist', 'main.js');
const BIN = existsSync(DIST) ? join(ROOT, 'bench', 'cgk-dist.mjs') : join(ROOT, 'packages', 'cli', 'bin', 'cgk.mjs');
const PEAK = join(ROOT, 'bench', 'peak-rss.mjs');
const LIVE_HEAP = join(ROOT, 'bench', 'live-heap.mjs');
const NOOP = 'update orders set note = note where false';

export interface ExecBenchOptions {
  /** Fleet of the time row; default 1000. */
  tenants?: number;
  /** Fleet of the dry-run and memory rows; default 10000. */
  big?: number;
  /** Rounds of the time row (each side once per round); default 3. */
  rounds?: number;
  log?: (line: string) => void;
}

const slugsOf = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${String(i + 1).padStart(5, '0')}`);

/** What a measured run writes at its exit: peak RSS (bench/peak-rss.mjs) or largest live heap (bench/live-heap.mjs). */
type Probe = { kind: 'rss' | 'heap'; file: string };

/** `cgk <args>` as a process in `cwd` on `url`; wall time and stdout; with a probe, its figure written to the probe's file. */
function cgk(args: string[], url: string, cwd: string, probe?: Probe) {
  const env = {
    ...process.env,
    DATABASE_URL: url,
    ...(probe?.kind === 'rss' ? { CGK_BENCH_RSS_FILE: probe.file } : {}),
    ...(probe?.kind === 'heap' ? { CGK_BENCH_HEAP_FILE: probe.file } : {}),
  };
  const flags = !probe ? [] : probe.kind === 'rss' ? ['--import', PEAK] : ['--expose-gc', '--import', LIVE_HEAP];
  return timeNode([...flags, BIN, ...args], { cwd, env });
}

/** Every row; each fleet in a scratch database of its own, dropped at the end. */
export async function runExecBench(options: ExecBenchOptions = {}): Promise<BenchRow[]> {
  const log = options.log ?? ((line: string) => console.error(`exec bench: ${line}`));
  const cwd = await mkdtemp(join(tmpdir(), 'cgk-bench-exec-'));
  try {
    const rows = await withFleet(options.tenants ?? 1000, 'x', log, (url, slugs) =>
      timeRows(url, slugs, cwd, options.rounds ?? 3),
    );
    rows.push(...(await withLightFleet(options.big ?? 10000, 'y', log, (url, slugs) => bigRows(url, slugs, cwd))));
    return rows;
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
}

/** A scratch database with `n` real tenants (setupDatabase, createTenant 4 at a time), for `work`. */
async function withFleet(
  n: number,
  prefix: string,
  log: (line: string) => void,
  work: (url: string, slugs: string[]) => Promise<BenchRow[]>,
): Promise<BenchRow[]> {
  const scratch = await createScratchDatabase('cgk_bench_exec');
  const db = new Database({ url: scratch.url });
  try {
    await setupDatabase({ db });
    const slugs = slugsOf(n, prefix);
    const made = await createFleet(db, slugs, { label: 'Exec', concurrency: 4, log });
    log(`${n} tenants created in ${(made.ms / 1000).toFixed(0)} s`);
    await db.end();
    return await work(scratch.url, slugs);
  } finally {
    await db.end();
    await scratch.drop();
  }
}

/** Tenants per transaction of the light fleet. */
const LIGHT_BATCH = 250;

/**
 * A scratch database with `n` light tenants: each a registry row, a schema holding only `orders (id, note)`,
 * and its role with the grants createTenant gives (roles/tenant-role.ts), made in batches of SQL. What the
 * dry run and the memory rows need (listing, a scope, the no-op update), without the 13-file template:
 * creating 10,000 real tenants takes over an hour on a shared 2-core machine, and the command's own memory
 * does not depend on what a tenant's tables hold.
 */
async function withLightFleet(
  n: number,
  prefix: string,
  log: (line: string) => void,
  work: (url: string, slugs: string[]) => Promise<BenchRow[]>,
): Promise<BenchRow[]> {
  const scratch = await createScratchDatabase('cgk_bench_exec');
  try {
    const slugs = slugsOf(n, prefix);
    await createLightFleet(scratch.url, slugs, log);
    return await work(scratch.url, slugs);
  } finally {
    await scratch.drop();
  }
}

/** Sets the database up and makes the light tenants `slugs` in it (see withLightFleet), 4 batches at a time. */
export async function createLightFleet(url: string, slugs: string[], log: (line: string) => void): Promise<void> {
  const db = new Database({ url });
  try {
    await setupDatabase({ db });
  } finally {
    await db.end();
  }
  const started = performance.now();
  const pool = rawPool({ connectionString: url, max: 4 });
  try {
    let next = 0;
    const worker = async () => {
      while (next < slugs.length) {
        const batch = slugs.slice(next, next + LIGHT_BATCH);
        next += LIGHT_BATCH;
        await pool.query(`begin;\n${batch.map(lightTenantSql).join('\n')}\ncommit;`);
        if (next % 2000 === 0 && next <= slugs.length) log(`${next}/${slugs.length} light tenants`);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
  } finally {
    await pool.end();
  }
  log(`${slugs.length} light tenants created in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

/** One light tenant (see withLightFleet); the role's default privileges are set before the table exists. */
function lightTenantSql(slug: string): string {
  return `insert into public.organizations (slug, name, status) values ('${slug}', 'Exec ${slug}', 'active');
create schema tenant_${slug};
${grantTenantRoleSql(slug)};
create table tenant_${slug}.orders (id bigint generated always as identity primary key, note text);`;
}

/** The no-op update over every tenant: tenant:exec minus start-up against one psql session. */
async function timeRows(url: string, slugs: string[], cwd: string, rounds: number): Promise<BenchRow[]> {
  const s = { psql: [] as number[], cli: [] as number[], startup: [] as number[] };
  const script = slugs.map((slug) => `set search_path = tenant_${slug};\n${NOOP};\n`).join('');
  for (let round = 0; round < rounds; round++) {
    await alternate(round, [
      async () => s.psql.push(await psqlScript(url, script)),
      async () => {
        const { ms, stdout } = await cgk(['--json', 'tenant:exec', '--all', '--sql', NOOP], url, cwd);
        const doc = JSON.parse(stdout) as { succeeded: number };
        if (doc.succeeded !== slugs.length) throw new Error(`tenant:exec succeeded on ${doc.succeeded} of ${slugs.length}`);
        s.cli.push(ms);
      },
      // Start-up with @cgk/db loaded: a command that loads it and stops before opening a database.
      async () => s.startup.push((await timeNode([BIN, 'tenant:create', 'Not_A_Slug'], { cwd, exitCode: 1 })).ms),
    ]);
  }
  const [psql, cli, startup] = [median(s.psql), median(s.cli), median(s.startup)];
  const each = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');
  return [
    row(
      `cgk tenant:exec --sql "${NOOP}"${BIN.endsWith('cgk-dist.mjs') ? ' compiled' : ''}, ${slugs.length} tenants, ` +
        'minus start-up with @cgk/db loaded, vs one psql session',
      'ms',
      psql,
      cli - startup,
      {
        goal: '≤ 1.2x',
        note:
          `tenant:exec ${cli.toFixed(0)} ms whole, start-up ${startup.toFixed(0)} ms; ` +
          `psql: ${each(s.psql)}; cgk: ${each(s.cli)}`,
      },
    ),
  ];
}

/** On the big fleet: the dry run's time, and peak RSS at the whole fleet against 100 of its tenants. */
async function bigRows(url: string, slugs: string[], cwd: string): Promise<BenchRow[]> {
  const small = slugs.slice(0, 100);
  await psqlScript(
    url,
    `update public.organizations set status = 'suspended' where slug in (${small.map((s) => `'${s}'`).join(', ')});\n`,
  );
  const dry = { psql: [] as number[], cli: [] as number[], startup: [] as number[] };
  for (let round = 0; round < 3; round++) {
    await alternate(round, [
      async () => dry.psql.push(await psqlScript(url, 'select slug from public.organizations order by slug;\n')),
      async () => {
        const { ms, stdout } = await cgk(['tenant:exec', '--all', '--dry-run', '--sql', NOOP], url, cwd);
        if (!stdout.includes(`${slugs.length} tenants would run`)) throw new Error(`dry run: ${stdout.slice(-200)}`);
        dry.cli.push(ms);
      },
      async () => dry.startup.push((await timeNode([BIN, 'tenant:create', 'Not_A_Slug'], { cwd, exitCode: 1 })).ms),
    ]);
  }
  return [
    row(
      `cgk tenant:exec --all --dry-run, ${slugs.length} light tenants (whole command) vs psql listing the slugs`,
      'ms',
      median(dry.psql),
      median(dry.cli),
      {
        goal: '< 1 s',
        note:
          `cgk per round: ${dry.cli.map((x) => x.toFixed(0)).join(' ')}; ` +
          `start-up with @cgk/db loaded ${median(dry.startup).toFixed(0)} ms`,
      },
    ),
    ...(await memoryRows(url, slugs, small.length, cwd)),
  ];
}

const mbs = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');

/** Peak RSS or largest live heap (MB) of one `tenant:exec --json` run over the selection; every tenant must succeed. */
async function measure(kind: Probe['kind'], selection: string[], url: string, cwd: string, expected: number): Promise<number> {
  const file = join(cwd, `.${kind}-${Math.random().toString(36).slice(2)}`);
  const { stdout } = await cgk(['--json', 'tenant:exec', ...selection, '--sql', NOOP], url, cwd, { kind, file });
  const doc = JSON.parse(stdout) as { succeeded: number };
  if (doc.succeeded !== expected) throw new Error(`tenant:exec succeeded on ${doc.succeeded} of ${expected}`);
  const kb = Number(await readFile(file, 'utf8'));
  await rm(file, { force: true });
  return kb / 1024;
}

/** Memory at the whole fleet against 100 of its tenants (`--status suspended`): peak RSS, and the live heap. */
async function memoryRows(url: string, slugs: string[], small: number, cwd: string): Promise<BenchRow[]> {
  const m = { rssSmall: [] as number[], rssAll: [] as number[], heapSmall: [] as number[], heapAll: [] as number[] };
  for (let round = 0; round < 2; round++) {
    await alternate(round, [
      async () => m.rssSmall.push(await measure('rss', ['--status', 'suspended'], url, cwd, small)),
      async () => m.rssAll.push(await measure('rss', ['--all'], url, cwd, slugs.length)),
    ]);
  }
  m.heapSmall.push(await measure('heap', ['--status', 'suspended'], url, cwd, small));
  m.heapAll.push(await measure('heap', ['--all'], url, cwd, slugs.length));
  const name = (what: string) => `cgk tenant:exec --json ${what}, ${slugs.length} light tenants vs ${small} of them`;
  return [
    row(name('peak RSS'), 'MB', median(m.rssSmall), median(m.rssAll), {
      goal: '≤ 1.2x',
      note: `${small}: ${mbs(m.rssSmall)} MB; ${slugs.length}: ${mbs(m.rssAll)} MB`,
    }),
    row(name('largest live heap (after a full GC, every 200 ms)'), 'MB', median(m.heapSmall), median(m.heapAll), {
      note: 'what the process holds; the peak RSS above adds the garbage V8 lets accumulate between collections',
    }),
  ];
}

if (isMain(import.meta.url)) {
  const argv = process.argv.slice(2);
  const at = (flag: string) => (argv.includes(flag) ? positiveInt(argv, argv.indexOf(flag)) : undefined);
  const tenants = at('--tenants') ?? 1000;
  const big = at('--big') ?? 10000;
  printTable(`tenant:exec (pg, local PostgreSQL; ${tenants} and ${big} tenants)`, await runExecBench({ tenants, big }));
}
