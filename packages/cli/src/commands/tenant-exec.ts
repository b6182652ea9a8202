import { readFile } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { CgkError, ForEachTenantOptions, TenantStatus, TenantTask } from '@cgk/db';
import { lib } from '../lib.js';
import type { Register } from './register.js';
import type { Context } from '../context.js';
import { DryRunReport, ExecReport } from './tenant-exec-report.js';

const MAX_CONCURRENCY = 64;
const STATUSES: TenantStatus[] = ['active', 'suspended', 'onboarding'];

interface ExecOptions {
  sql?: string;
  file?: string;
  module?: string;
  tenants?: string[];
  status?: TenantStatus;
  all?: boolean;
  concurrency: number;
  dryRun?: boolean;
  resume?: string;
}

/** The work to run, from --sql, --file or --module. */
interface Work {
  task: TenantTask<unknown>;
  transaction: boolean;
  digest: string;
  label: string;
  sql: boolean;
}

/** `tenant:exec`: SQL or a module in every selected tenant's scope, recorded, resumable. */
export const registerTenantExec: Register = (program, ctx, done) => {
  const command: Command = program
    .command('tenant:exec')
    .option('--sql <statement>', 'SQL to run in each tenant (several statements: separated by ;)')
    .option('--file <file.sql>', 'an SQL file to run in each tenant')
    .option('--module <file>', 'a JavaScript module whose default export async (sql, tenant) => result runs in each tenant')
    .option('--tenants <slugs>', 'only these tenants (comma-separated)', parseSlugs)
    .addOption(new Option('--status <status>', 'only tenants with this status').choices(STATUSES))
    .option('--all', 'every tenant (required when no other selection is given)')
    .option('--concurrency <n>', `tenants run at once, 1-${MAX_CONCURRENCY} (bounded by the pool)`, parseConcurrency, 4)
    .option('--dry-run', 'list the tenants it would run on; send nothing to any tenant')
    .option('--resume <run id>', 'run again what did not succeed in that run (same work; its tenant selection)')
    .summary('run SQL or a module in every selected tenant, recorded and resumable')
    .description(
      "Runs SQL (--sql, --file) or a JavaScript module (--module) in each selected tenant's scope: one " +
        "transaction per tenant, with the tenant's search_path and role (a file whose first line is " +
        '"-- cgk:no-transaction" runs statement by statement instead). A failing tenant does not stop the ' +
        'others; the exit code is 1 if any failed. The run is recorded (public.fleet_runs) and its id printed: ' +
        '--resume <id> runs only what did not succeed, even after the process was killed.',
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ npx @cgk/cli tenant:exec --all --sql "update orders set note = null where note = \'\'"\n' +
        '  $ npx @cgk/cli tenant:exec --status active --file backfill.sql --concurrency 8 --json\n' +
        '  $ npx @cgk/cli tenant:exec --tenants acme,globex --module report.mjs\n' +
        '  $ npx @cgk/cli tenant:exec --resume 5f0c...e1 --file backfill.sql',
    )
    .action(async (opts: ExecOptions) => {
      checkUsage(command, opts);
      done(await execute(ctx, opts));
    });
};

/** Usage errors (exit code 2, nothing done): one kind of work; a selection, or a resume without one. */
function checkUsage(command: Command, opts: ExecOptions): void {
  const inputs = [opts.sql, opts.file, opts.module].filter((x) => x !== undefined).length;
  if (inputs !== 1) command.error('give exactly one of --sql, --file and --module');
  const selected = opts.tenants !== undefined || opts.status !== undefined;
  if (opts.resume !== undefined) {
    if (selected || opts.all)
      command.error("--resume keeps the run's own tenant selection: leave out --tenants, --status and --all");
    return;
  }
  if (opts.all && selected) command.error('--all selects every tenant: leave out --tenants and --status');
  if (!opts.all && !selected) command.error('choose the tenants: --tenants a,b, --status <status>, or --all for every tenant');
}

async function execute(ctx: Context, opts: ExecOptions): Promise<number> {
  const { out } = ctx;
  const db = ctx.database({ setUp: true });
  const selection: ForEachTenantOptions = {
    db,
    ...(opts.tenants ? { tenants: opts.tenants.map((s) => lib().assertValidSlug(s)) } : {}),
    ...(opts.status ? { status: opts.status } : {}),
    ...(opts.resume ? { resume: opts.resume } : {}),
  };
  if (opts.dryRun) return dryRun(ctx, selection);
  const work = await loadWork(opts);
  // A run over thousands of tenants allocates fast for minutes while holding little (a few MB): V8 then grows
  // its heap with the allocation rate. This process only runs this command, so it asks V8 to favour memory
  // (docs/BENCHMARKS.md, the exec rows: peak RSS at 10,000 tenants 94 -> 76 MB, the same speed).
  setFlagsFromString('--optimize-for-size');
  const report = new ExecReport(out, work.sql);
  const started = performance.now();
  let starting: Promise<void> | undefined;
  const run = lib().forEachTenant(work.task, {
    ...selection,
    concurrency: opts.concurrency,
    transaction: work.transaction,
    digest: work.digest,
    label: work.label,
    onStart: (info) => {
      starting = report.start(info, opts.concurrency);
    },
  });
  let error: unknown;
  try {
    for await (const result of run) {
      await starting;
      await report.tenant(result);
    }
    await starting;
  } catch (caught) {
    // Before the run started (a bad run id, no records table): an ordinary error, nothing was printed yet.
    if (report.run === undefined) throw caught;
    error = caught;
  }
  if (error === undefined && report.failed.length > 0) error = failedTenants(report.failed, report.succeeded, report.run?.id);
  return report.end(performance.now() - started, error);
}

/** The run's error when tenants failed: how many, the first few, and how to run them again. */
function failedTenants(failed: string[], succeeded: number, id: string | undefined): CgkError {
  const shown = failed.slice(0, 10).join(', ') + (failed.length > 10 ? `, ... (${failed.length - 10} more)` : '');
  return new (lib().TenantExecError)(`${failed.length} of ${failed.length + succeeded} tenants failed: ${shown}`, {
    failed,
    hint:
      'Each failure is listed above (--json: under "tenants"). ' +
      `Fix the cause, then run the same command with --resume ${id ?? '<run id>'}.`,
  });
}

/** `--dry-run`: lists the selected tenants (with --resume: those left), sends nothing to any tenant. */
async function dryRun(ctx: Context, selection: ForEachTenantOptions): Promise<number> {
  const report = new DryRunReport(ctx.out);
  // Pages of 2,000: a dry run only lists, so fewer, larger pages cost less (memory stays that of one page).
  const tenants = lib().fleetTenants({ ...selection, pageSize: 2000 });
  let started = false;
  for await (const tenant of tenants) {
    if (!started) await report.start();
    started = true;
    await report.tenant(tenant);
  }
  if (!started) await report.start();
  return report.end();
}

/** The work from --sql, --file or --module (read before any database work: a typo costs nothing). */
async function loadWork(opts: ExecOptions): Promise<Work> {
  if (opts.module !== undefined) {
    const { task, digest } = await lib().loadTenantModule(opts.module);
    return { task, digest, transaction: true, label: `--module ${opts.module}`, sql: false };
  }
  const text = opts.sql ?? (await readSqlFile(opts.file!));
  const work = lib().sqlTask(text);
  const label = opts.sql !== undefined ? `--sql ${opts.sql.replace(/\s+/g, ' ').slice(0, 200)}` : `--file ${opts.file}`;
  return { task: work.task, digest: work.digest, transaction: work.transaction, label, sql: true };
}

async function readSqlFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new (lib().ConfigError)(`Cannot read ${file}: ${(error as Error).message}`, 'Give the path of an SQL file.');
  }
}

function parseSlugs(value: string): string[] {
  const slugs = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (slugs.length === 0) throw new InvalidArgumentError('expected one or more comma-separated slugs');
  return slugs;
}

function parseConcurrency(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > MAX_CONCURRENCY)
    throw new InvalidArgumentError(`expected a whole number from 1 to ${MAX_CONCURRENCY}`);
  return n;
}
