/**
 * The operator's path: the `cgk` command line, end to end, as a process. Rows:
 *
 * - start-up: `cgk --help` against `node -e 0` (the cost of starting Node at all);
 * - `cgk migrate` of a one-line tenant migration (`alter table orders add column ...`) over a fleet of real
 *   tenants (createTenant, the 13-file template), minus the CLI's start-up with `@cgk/db` loaded, against the
 *   same statements sent raw by ONE psql session (`set search_path = tenant_x; alter table ...;` per tenant,
 *   autocommit): the fastest thing an operator can type. The compiled CLI embeds its migrations, so each round
 *   rebuilds `@cgk/db` (untimed) after writing the new file, as a release that ships a migration would;
 * - `cgk tenant:create` minus start-up, against createTenant() in-process on a warm `Database`.
 *
 * The CLI runs the tenant migrations shipped with @cgk/db, so each migrate round writes one file
 * `NNN_bench_cli_noteK.sql` into that directory; the bench removes them all at the end (also on failure) and
 * rebuilds `@cgk/db` without them.
 * Rounds alternate which side goes first; medians are reported. Run alone: `npx tsx bench/cli.bench.ts`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Database, createTenant, setupDatabase } from '../packages/db/src/index.js';
import { DEFAULT_TENANT_DIR } from '../packages/db/src/migrations/runner.js';
import {
  alternate,
  createFleet,
  createScratchDatabase,
  isMain,
  median,
  printTable,
  row,
  timeNode,
  timed,
  type BenchRow,
} from './lib.js';
import { psqlScript } from './psql.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'packages', 'cli', 'bin', 'cgk.mjs');
const BENCH_FILE = /_bench_cli_note\d+\.sql$/;
/** The compiled CLI (`npm run build`), run as installed; its rows are left out when it has not been built. */
const DIST = join(ROOT, 'packages', 'cli', 'dist', 'main.js');
const DIST_BIN = join(ROOT, 'bench', 'cgk-dist.mjs');

/** Runs `cgk` (the repository's bin, or the compiled one) in `cwd` with `env` added to this environment. */
function cgk(bin: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd = ROOT, exitCode = 0) {
  return timeNode([bin, ...args], { cwd, env: { ...process.env, ...env }, exitCode });
}

/**
 * Start-up with the library loaded: `cgk tenant:create` of a slug it refuses (exit 1) after loading
 * `@cgk/db`, before opening a database. `cgk --help` no longer loads the library; through tsx (the
 * repository's bin) loading it means compiling its TypeScript sources, which the installed CLI never does.
 */
function libraryStartup(bin: string, env: NodeJS.ProcessEnv, cwd: string) {
  return cgk(bin, ['tenant:create', 'Not_A_Slug'], env, cwd, 1);
}

/**
 * CLI start-up: `cgk --help` against `node -e 0`, alternated, medians; the repository's bin (TypeScript through
 * tsx) and, when built, the compiled one as installed (issue 11's goal: ≤ 2x).
 */
export async function startupRows(runs: number): Promise<BenchRow[]> {
  const built = existsSync(DIST);
  const s = { base: [] as number[], ours: [] as number[], dist: [] as number[] };
  await timeNode(['-e', '0']);
  await cgk(BIN, ['--help']); // warm-up: file cache, tsx's transform cache
  for (let i = 0; i < runs; i++) {
    await alternate(i, [
      async () => s.base.push((await timeNode(['-e', '0'])).ms),
      async () => s.ours.push((await cgk(BIN, ['--help'])).ms),
      ...(built ? [async () => s.dist.push((await cgk(DIST_BIN, ['--help'])).ms)] : []),
    ]);
  }
  const share = (xs: number[]) => ({ note: `CLI's own share: ${(median(xs) - median(s.base)).toFixed(0)} ms` });
  return [
    row(`cgk --help start-up vs node -e 0 (median of ${runs})`, 'ms', median(s.base), median(s.ours), share(s.ours)),
    ...(built
      ? [
          row(`cgk --help compiled (as installed) vs node -e 0 (median of ${runs})`, 'ms', median(s.base), median(s.dist), {
            goal: '≤ 2x',
            ...share(s.dist),
          }),
        ]
      : []),
  ];
}

export interface CliBenchOptions {
  /** Fleet size for the migrate rows; default 1000. */
  tenants?: number;
  /** Migrate rounds (each side once per round); default 3. */
  rounds?: number;
  /** tenant:create calls per side; default 10. */
  creates?: number;
  /** `cgk --help` runs for the start-up row; default 10. */
  startupRuns?: number;
}

/** Every row of this module; the fleet is built in a scratch database and dropped. */
export async function runCliBench(options: CliBenchOptions = {}): Promise<BenchRow[]> {
  if (!existsSync(BIN)) throw new Error(`${BIN} is not there`);
  const tenants = options.tenants ?? 1000;
  const scratch = await createScratchDatabase('cgk_bench_cli');
  const db = new Database({ url: scratch.url });
  const cwd = await mkdtemp(join(tmpdir(), 'cgk-bench-cli-')); // no .env of ours in the CLI's way
  const env = { DATABASE_URL: scratch.url };
  try {
    const rows = await startupRows(options.startupRuns ?? 10);
    await setupDatabase({ db });
    rows.push(...(await createRows(db, scratch.url, env, cwd, options.creates ?? 10)));
    const slugs = Array.from({ length: tenants }, (_, i) => `f${String(i + 1).padStart(5, '0')}`);
    await createFleet(db, slugs, { label: 'Fleet', concurrency: 4, log: () => {} });
    rows.push(...(await migrateRows(scratch.url, slugs, env, cwd, options.rounds ?? 3)));
    return rows;
  } finally {
    removeBenchFiles();
    await db.end();
    await scratch.drop();
    await rm(cwd, { recursive: true, force: true });
  }
}

/** Removes the rounds' migration files; rebuilds `@cgk/db` if its dist/ embedded any of them. */
function removeBenchFiles(): void {
  let removed = false;
  for (const f of readdirSync(DEFAULT_TENANT_DIR)) {
    if (!BENCH_FILE.test(f)) continue;
    rmSync(join(DEFAULT_TENANT_DIR, f));
    removed = true;
  }
  if (removed && existsSync(DIST)) buildLibrary();
}

/** `npm run build` of `@cgk/db`: the compiled CLI's migrations are the ones embedded there. */
function buildLibrary(): void {
  execFileSync('npm', ['run', 'build', '--workspace', 'packages/db'], { cwd: ROOT, stdio: 'ignore' });
}

/**
 * `cgk tenant:create` minus start-up against createTenant() in-process, two ways: on a new `Database` (its
 * first call, as a script or a cold process makes it: a new server connection, whose catalog caches are cold)
 * and on a warm `Database` that has created tenants before. Every side creates a tenant from the same
 * template (the built-in tenant migrations; the compiled CLI carries the same files embedded). The in-process
 * side runs in this process, where `pg` is loaded and the migration files are read: the CLI pays both.
 * Alternated, medians.
 */
async function createRows(db: Database, url: string, env: NodeJS.ProcessEnv, cwd: string, count: number): Promise<BenchRow[]> {
  const s = {
    help: [] as number[],
    cli: [] as number[],
    cold: [] as number[],
    warm: [] as number[],
    distHelp: [] as number[],
    dist: [] as number[],
    distLib: [] as number[],
  };
  const built = existsSync(DIST);
  await createTenant({ slug: 'warm' }, { db });
  const run = async (samples: number[], bin: string, args: string[]) => samples.push((await cgk(bin, args, env, cwd)).ms);
  for (let i = 0; i < count; i++) {
    await alternate(i, [
      () => run(s.help, BIN, ['--help']),
      () => run(s.cli, BIN, ['tenant:create', `cli${i}`]),
      () => timed(s.warm, () => createTenant({ slug: `lib${i}` }, { db })),
      () =>
        timed(s.cold, async () => {
          const fresh = new Database({ url });
          try {
            await createTenant({ slug: `new${i}` }, { db: fresh });
          } finally {
            await fresh.end();
          }
        }),
      ...(built
        ? [
            () => run(s.distHelp, DIST_BIN, ['--help']),
            () => run(s.dist, DIST_BIN, ['tenant:create', `dist${i}`]),
            async () => s.distLib.push((await libraryStartup(DIST_BIN, env, cwd)).ms),
          ]
        : []),
    ]);
  }
  const startup = median(s.help);
  const each = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');
  const against = (baseline: string, samples: number[], extra: Partial<BenchRow>) =>
    row(
      `cgk tenant:create minus start-up vs createTenant in-process, ${baseline} Database (median of ${count})`,
      'ms',
      median(samples),
      median(s.cli) - startup,
      extra,
    );
  return [
    against('new', s.cold, {
      goal: '≤ 1.0x',
      note:
        `cgk tenant:create ${median(s.cli).toFixed(0)} ms whole, cgk --help ${startup.toFixed(0)} ms; ` +
        `new Database per run: ${each(s.cold)}`,
    }),
    against('warm', s.warm, {
      note: 'the warm baseline reuses server connections that created tenants before: their catalog caches are warm',
    }),
    ...(built ? [distRow(s, count)] : []),
  ];
}

/** The compiled CLI (as installed from npm: no tsx) minus its own start-up, against createTenant on a new Database. */
function distRow(s: Record<'dist' | 'distHelp' | 'distLib' | 'cold', number[]>, count: number): BenchRow {
  const name = `cgk tenant:create compiled (as installed) minus start-up vs createTenant, new Database (median of ${count})`;
  const [whole, help, lib, cold] = [median(s.dist), median(s.distHelp), median(s.distLib), median(s.cold)];
  return row(name, 'ms', cold, whole - help, {
    goal: '≤ 1.0x',
    note:
      `compiled cgk tenant:create ${whole.toFixed(0)} ms whole, compiled cgk --help ${help.toFixed(0)} ms, ` +
      `start-up with @cgk/db loaded ${lib.toFixed(0)} ms (minus that: ${((whole - lib) / cold).toFixed(2)}x); ` +
      `per run: ${s.dist.map((x) => x.toFixed(0)).join(' ')}`,
  });
}

/**
 * One migrate round per side per round, alternated; a new column each time. Through the compiled CLI (as
 * installed) when it is built, else the repository's bin (TypeScript through tsx, which also compiles the
 * modules the job loads: a slower path than any user's).
 */
async function migrateRows(
  url: string,
  slugs: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  rounds: number,
): Promise<BenchRow[]> {
  const samples = { psql: [] as number[], cli: [] as number[], help: [] as number[], lib: [] as number[] };
  const compiled = existsSync(DIST);
  const bin = compiled ? DIST_BIN : BIN;
  let version = readdirSync(DEFAULT_TENANT_DIR).filter((f) => f.endsWith('.sql')).length;
  for (let round = 1; round <= rounds; round++) {
    await alternate(round + 1, [
      async () =>
        samples.psql.push(
          await psqlScript(
            url,
            slugs.map((s) => `set search_path = tenant_${s};\nalter table orders add column psql_note${round} text;\n`).join(''),
          ),
        ),
      async () => {
        version++;
        writeFileSync(
          join(DEFAULT_TENANT_DIR, `${String(version).padStart(3, '0')}_bench_cli_note${round}.sql`),
          `alter table orders add column cli_note${round} text;\n`,
        );
        if (compiled) buildLibrary();
        const { ms, stdout } = await cgk(bin, ['migrate', '--json'], env, cwd);
        const migrated = (JSON.parse(stdout) as { tenants: { migrated: unknown[] } }).tenants.migrated.length;
        if (migrated < slugs.length)
          throw new Error(`cgk migrate migrated ${migrated} tenants, expected at least ${slugs.length}`);
        samples.cli.push(ms);
      },
      async () => samples.help.push((await cgk(bin, ['--help'], env, cwd)).ms),
      async () => samples.lib.push((await libraryStartup(bin, env, cwd)).ms),
    ]);
  }
  const startup = median(samples.lib);
  const help = median(samples.help);
  const cli = median(samples.cli);
  const each = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');
  const strict = ((cli - help) / median(samples.psql)).toFixed(2);
  return [
    row(
      `cgk migrate${compiled ? ' compiled (as installed)' : ''} minus start-up with @cgk/db loaded, ` +
        `one-line migration, ${slugs.length} tenants, vs one psql session`,
      'ms',
      median(samples.psql),
      cli - startup,
      {
        goal: '≤ 1.0x',
        note:
          `cgk migrate ${cli.toFixed(0)} ms whole, start-up with @cgk/db loaded ${startup.toFixed(0)} ms, ` +
          `cgk --help ${help.toFixed(0)} ms (minus that: ${strict}x); ` +
          `psql per round: ${each(samples.psql)}; cgk: ${each(samples.cli)}`,
      },
    ),
  ];
}

if (isMain(import.meta.url)) {
  const tenants = Number(process.env.CGK_BENCH_TENANTS ?? 1000);
  printTable(`CLI (pg, local PostgreSQL, ${tenants} tenants)`, await runCliBench({ tenants }));
}
