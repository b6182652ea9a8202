import { Option } from 'commander';
import type { TenantLimitsReport, TenantStats, TenantStatsOrder } from '@cgk/db';
import { lib } from '../lib.js';
import type { Register } from './register.js';
import { EXIT_OK, plural, table } from '../output.js';

const ORDERS: TenantStatsOrder[] = ['calls', 'time', 'activity', 'size', 'dead', 'scopes'];

/** `tenant:stats` (who is using the database) and `tenant:limits` (per-tenant limits). */
export const registerTenantStats: Register = (program, ctx, done) => {
  const { out } = ctx;

  program
    .command('tenant:stats')
    .option('--top <n>', 'how many tenants to show, busiest first', '20')
    .addOption(new Option('--by <order>', 'rank by (default: calls with pg_stat_statements, else activity)').choices(ORDERS))
    .summary('show the busiest tenants: statements, time, scans, rows, size')
    .description(
      "Ranks the tenants by their use of the database, from the server's statistics: statements, their time and " +
        "rows (pg_stat_statements, grouped by the tenant's role, where the extension is enabled: see doctor), " +
        'scans and rows written, live and dead rows, size on disk. One query per source for all tenants. Read-only.',
    )
    .addHelpText('after', '\nExamples:\n  $ npx @cgk/cli tenant:stats --top 20\n  $ npx @cgk/cli tenant:stats --by size --json')
    .action(async (opts: { top: string; by?: TenantStatsOrder }) => {
      const top = Number(opts.top);
      if (!Number.isInteger(top) || top < 1) {
        return done(out.usage(`--top must be a whole number from 1, not ${opts.top}`));
      }
      const report = await lib().tenantStats({ db: ctx.database({ setUp: true }), top, ...(opts.by ? { by: opts.by } : {}) });
      out.result({ ...report }, () => [
        ...table(
          ['SLUG', 'CALLS', 'TIME', 'MEAN', 'ROWS', 'SCANS', 'WRITTEN', 'LIVE', 'DEAD', 'SIZE', 'LAST ACTIVITY'],
          report.rows.map(statsRow),
        ),
        `${plural(report.rows.length, 'tenant')} of ${report.tenants}, by ${report.by}` +
          (report.capabilities.statements ? '' : ` (no statement statistics: ${report.capabilities.statementsHint})`),
      ]);
      done(EXIT_OK);
    });

  program
    .command('tenant:limits')
    .argument('<slug>', 'the tenant')
    .option('--statement-timeout <duration>', 'longest statement, e.g. 250ms, 5s, 1min ("default" clears it)')
    .option('--work-mem <size>', 'memory per sort or hash, e.g. 16MB ("default" clears it)')
    .option('--max-scopes <n>', 'connections the tenant holds at once per process ("default" clears it)')
    .summary("show or set a tenant's limits")
    .description(
      "Sets the tenant's limits in the registry (public.tenant_limits); every scope of the tenant applies them, in " +
        'every isolation mode (running processes within CGK_TENANT_LIMITS_REFRESH, 10 s by default). In login mode ' +
        "--max-scopes is also the role's CONNECTION LIMIT. Without options, shows them. Bad values change nothing.",
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ npx @cgk/cli tenant:limits acme --statement-timeout 5s --max-scopes 3\n' +
        '  $ npx @cgk/cli tenant:limits acme',
    )
    .action(async (slug: string, opts: { statementTimeout?: string; workMem?: string; maxScopes?: string }) => {
      const { assertValidSlug, getTenantLimits, setTenantLimits } = lib();
      assertValidSlug(slug);
      const input = {
        ...(opts.statementTimeout === undefined ? {} : { statementTimeout: opts.statementTimeout }),
        ...(opts.workMem === undefined ? {} : { workMem: opts.workMem }),
        ...(opts.maxScopes === undefined
          ? {}
          : { maxScopes: /^\d+$/.test(opts.maxScopes) ? Number(opts.maxScopes) : opts.maxScopes }),
      };
      const db = ctx.database({ setUp: true });
      const report =
        Object.keys(input).length === 0 ? await getTenantLimits(slug, { db }) : await setTenantLimits(slug, input, { db });
      out.result({ ...report }, () => limitsLines(report));
      done(EXIT_OK);
    });
};

function statsRow(r: TenantStats): string[] {
  const n = (v: number | null) => (v === null ? '-' : Math.round(v).toLocaleString('en-US'));
  const ms = (v: number | null) => (v === null ? '-' : v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${v.toFixed(1)} ms`);
  return [
    r.slug,
    n(r.calls),
    ms(r.totalTimeMs),
    ms(r.meanTimeMs),
    n(r.rows),
    n(r.scans),
    n(r.rowsWritten),
    n(r.liveRows),
    n(r.deadRows),
    bytes(r.sizeBytes),
    r.lastActivity ? r.lastActivity.toISOString().slice(0, 19).replace('T', ' ') : '-',
  ];
}

function bytes(b: number): string {
  if (b >= 1024 ** 3) return `${(b / 1024 ** 3).toFixed(1)} GB`;
  if (b >= 1024 ** 2) return `${(b / 1024 ** 2).toFixed(1)} MB`;
  return `${Math.round(b / 1024)} kB`;
}

function limitsLines(r: TenantLimitsReport): string[] {
  const own = (v: number | null, unit: string) => (v === null ? 'default' : `${v}${unit ? ` ${unit}` : ''}`);
  const eff = (v: number | undefined, unit: string) => (v === undefined ? "the server's" : `${v} ${unit}`);
  const e = r.effective;
  const scopes = Number.isFinite(e.maxScopes) ? String(e.maxScopes) : 'no bound but the pool';
  return [
    `Tenant ${r.slug}:`,
    `  statement timeout  ${own(r.own.statementTimeoutMs, 'ms')} (in force: ${eff(e.statementTimeoutMs, 'ms')})`,
    `  work_mem           ${own(r.own.workMemKb, 'kB')} (in force: ${eff(e.workMemKb, 'kB')})`,
    `  max scopes         ${own(r.own.maxScopes, '')} (in force: ${scopes}, ${e.maxScopesSource})`,
  ];
}
