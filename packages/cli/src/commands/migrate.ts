import { InvalidArgumentError } from 'commander';
import type { TenantProgress } from '@cgk/db';
import { type Lib, lib } from '../lib.js';
import type { Register } from './register.js';
import { EXIT_OK, type Output, duration, errorJson, oneLine, plural } from '../output.js';

const MAX_CONCURRENCY = 64;

/** `migrate` (public schema, then every tenant) and `migrate:status`. */
export const registerMigrate: Register = (program, ctx, done) => {
  const { out } = ctx;

  program
    .command('migrate')
    .option('--concurrency <n>', `tenants migrated at once, 1-${MAX_CONCURRENCY}`, parseConcurrency, 4)
    .option('--verify', "check every tenant's own schema_migrations instead of trusting the summary table (slower)")
    .option('--tenants <slugs>', 'only these tenants (comma-separated slugs)', parseSlugs)
    .option('--canary <n>', 'migrate n tenants first; if any of them fails, stop (the rest stay untouched)', parseCount)
    .option('--max-failures <n>', 'start no other tenant after n have failed', parseCount)
    .option('--lock-timeout <duration>', 'a tenant whose tables stay locked longer (e.g. 5s, 500ms) fails fast', parseDuration)
    .summary('apply pending migrations: public schema, then every tenant')
    .description(
      'Applies the pending public-schema migrations, then the pending tenant migrations of every tenant, ' +
        "several tenants at a time: the platform's, then the application's own sets (cgk.config.json, " +
        'CGK_PUBLIC_MIGRATIONS, CGK_TENANT_MIGRATIONS). A failing tenant does not stop the others (unless ' +
        '--canary or --max-failures say so); the exit code is 1 if any failed. Finding nothing to do costs a ' +
        'couple of queries, whatever the number of tenants.',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ npx @cgk/cli migrate\n  $ npx @cgk/cli migrate --concurrency 8 --json\n' +
        '  $ npx @cgk/cli migrate --canary 5 --max-failures 10 --lock-timeout 5s\n  $ npx @cgk/cli migrate --tenants acme,globex',
    )
    .action(async (opts: MigrateFlags) => {
      const { migratePublic, migrateTenants } = lib();
      const db = ctx.database();
      const pub = await migratePublic(db);
      const publicApplied = pub.results
        .filter((r) => r.status === 'Success')
        .map((r) => (r.set ? `${r.set}/${r.filename}` : r.filename));
      const publicDoc = { applied: publicApplied, upToDate: pub.results.filter((r) => r.status === 'Skipped').length };
      if (pub.error) {
        done(out.error(pub.error, { public: publicDoc }));
        return;
      }
      const progress = new Progress(out);
      let fleet: Awaited<ReturnType<typeof migrateTenants>>;
      try {
        fleet = await migrateTenants(db, {
          concurrency: opts.concurrency,
          verify: opts.verify === true,
          onProgress: (p) => progress.update(p),
          ...waveOptions(opts),
        });
      } finally {
        progress.finish();
      }
      if (fleet.concurrency !== undefined && fleet.concurrency < opts.concurrency) {
        out.note(
          `--concurrency ${opts.concurrency} is above the connection pool's size: ` +
            `migrated ${fleet.concurrency} tenants at a time (pool_max in DATABASE_URL sets it)`,
        );
      }
      const tenantsDoc = {
        total: fleet.total,
        pending: fleet.pending,
        migrated: fleet.tenants.filter((t) => t.status === 'Success').map((t) => ({ slug: t.slug, applied: t.applied })),
        failed: fleet.failed.map((t) => ({ slug: t.slug, applied: t.applied, error: t.error ? errorJson(t.error) : undefined })),
        ...(opts.verify ? { disagreements: fleet.disagreements } : {}),
        ...(fleet.stopped ? { stopped: fleet.stopped, notStarted: fleet.notStarted } : {}),
        durationMs: Math.round(fleet.durationMs),
      };
      const failed = tenantsDoc.failed.length;
      const summary = fleetSummary(publicApplied, fleet, tenantsDoc, opts.verify === true);
      if (fleet.error) {
        if (failed > 0) out.text(summary);
        done(out.error(fleet.error, { public: publicDoc, tenants: tenantsDoc }));
        return;
      }
      out.result({ public: publicDoc, tenants: tenantsDoc }, () => summary);
      done(EXIT_OK);
    });

  program
    .command('migrate:status')
    .summary('show applied and pending migrations')
    .description(
      "Shows the public schema's applied and pending migrations, and how many tenants are up to date or " +
        'have pending migrations (listing those). Read-only.',
    )
    .addHelpText('after', '\nExamples:\n  $ npx @cgk/cli migrate:status\n  $ npx @cgk/cli migrate:status --json')
    .action(async () => {
      const status = await lib().migrationStatus(ctx.database({ setUp: true }));
      const p = status.public;
      const t = status.tenants;
      out.result({ public: p, tenants: t }, () => {
        const lines = [
          !p.initialized
            ? `public: not set up (${plural(p.pending.length, 'migration')} pending): run npx @cgk/cli setup:database`
            : `public: ${p.applied.length} applied, ${p.pending.length} pending` +
              (p.pending.length ? ` (${p.pending.map((m) => m.filename).join(', ')})` : ''),
        ];
        const changed = p.applied.filter((a) => a.changed || a.missingFile);
        for (const a of changed)
          lines.push(
            `  ${String(a.version).padStart(3, '0')}_${a.name}: ` +
              (a.changed ? 'file changed after it was applied' : 'no such file (applied by a newer release?)'),
          );
        for (const set of status.publicSets ?? [])
          lines.push(
            `public (${set.set}): ${set.applied.length} applied, ${set.pending.length} pending` +
              (set.pending.length ? ` (${set.pending.map((m) => m.filename).join(', ')})` : ''),
          );
        if (!t.registry) lines.push('tenants: no tenant registry yet (public.organizations)');
        else {
          lines.push(...fleetLines(t));
        }
        const publicDone = [p, ...(status.publicSets ?? [])].every((x) => x.initialized && x.upToDate);
        if (publicDone && t.registry && t.upToDate === t.total) lines.push('Everything is up to date.');
        return lines;
      });
      done(EXIT_OK);
    });
};

/** The tenants part of migrate:status: counts, the tenants that are not up to date, and what to do about them. */
function fleetLines(t: Awaited<ReturnType<Lib['migrationStatus']>>['tenants']): string[] {
  const odd = [t.ahead > 0 ? `${t.ahead} ahead of the files` : '', t.changed > 0 ? `${t.changed} with changed files` : ''].filter(
    Boolean,
  );
  const lines = [
    `tenants: ${plural(t.total, 'tenant')}, ${t.upToDate} up to date, ${t.pending} with pending migrations` +
      `${odd.map((o) => `, ${o}`).join('')} (latest tenant migration: ${latestLabel(t)})`,
  ];
  const shown = t.tenants.slice(0, 50);
  for (const x of shown) {
    const what =
      x.reason === 'ahead'
        ? `at version ${x.version}, newer than the files`
        : x.reason === 'changed'
          ? 'applied files changed since'
          : plural(x.pending.length, 'pending migration');
    lines.push(`  ${x.slug}: ${x.reason}, ${what}`);
  }
  if (t.tenants.length > shown.length) lines.push(`  ... and ${t.tenants.length - shown.length} more (--json lists them all)`);
  if (t.ahead > 0)
    lines.push(
      'Tenants ahead were migrated by a newer release (or a migration file was removed): deploy the release ' +
        'that has their files; migrate refuses them.',
    );
  if (t.changed > 0)
    lines.push(
      'Applied migration files were edited: restore them (git checkout) and put changes in a new file; ' +
        'migrate refuses those tenants.',
    );
  if (t.pending > 0) lines.push('Run: npx @cgk/cli migrate');
  return lines;
}

interface MigrateFlags {
  concurrency: number;
  verify?: boolean;
  tenants?: string[];
  canary?: number;
  maxFailures?: number;
  lockTimeout?: number;
}

/** The waves options of `migrateTenants`, from the flags given. */
function waveOptions(opts: MigrateFlags) {
  return {
    ...(opts.tenants ? { slugs: opts.tenants } : {}),
    ...(opts.canary !== undefined ? { canary: opts.canary } : {}),
    ...(opts.maxFailures !== undefined ? { maxFailures: opts.maxFailures } : {}),
    ...(opts.lockTimeout !== undefined ? { lockTimeout: opts.lockTimeout } : {}),
  };
}

function parseSlugs(value: string): string[] {
  const slugs = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (slugs.length === 0) throw new InvalidArgumentError('expected one or more slugs, comma-separated');
  return slugs;
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1) throw new InvalidArgumentError('expected a whole number of 1 or more');
  return n;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** `500ms`, `5s`, `2m`, or a number of milliseconds. */
function parseDuration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  const ms = match ? Number(match[1]) * UNITS[match[2] ?? 'ms']! : Number.NaN;
  if (!Number.isFinite(ms) || ms < 1) throw new InvalidArgumentError('expected a duration such as 500ms, 5s or 2m');
  return Math.round(ms);
}

/** `013`, or with the application's sets `013, app 002`. */
function latestLabel(t: Awaited<ReturnType<Lib['migrationStatus']>>['tenants']): string {
  const pad = (n: number) => String(n).padStart(3, '0');
  return [pad(t.latest), ...(t.sets ?? []).slice(1).map((s) => `${s.set} ${pad(s.latest)}`)].join(', ');
}

function parseConcurrency(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > MAX_CONCURRENCY)
    throw new InvalidArgumentError(`expected a whole number from 1 to ${MAX_CONCURRENCY}`);
  return n;
}

/**
 * Fleet progress on stderr: on a terminal, one bar redrawn in place (failures printed above it); otherwise
 * one plain line per tenant, so CI logs stay readable.
 */
class Progress {
  #drawn = false;
  #last = 0;

  constructor(private readonly out: Output) {}

  update(p: TenantProgress): void {
    const failure =
      p.status === 'Error'
        ? `${p.slug}: failed: ${p.error ? `${p.error.code}: ${p.error.message}` : 'unknown error'}`
        : undefined;
    if (!this.out.interactive) {
      const outcome = p.status === 'Success' ? `applied ${plural(p.applied.length, 'migration')}` : 'up to date';
      this.out.note(`migrate [${p.done}/${p.total}] ${failure ?? `${p.slug}: ${outcome}`}`);
      return;
    }
    if (failure) this.out.progress(`\r\x1b[2Kcgk: ${oneLine(failure)}\n`);
    const now = Date.now();
    // Redraw at most every 50 ms (and always for the last tenant): thousands of tenants must not flood the terminal.
    if (!failure && p.done < p.total && now - this.#last < 50) return;
    this.#last = now;
    // A terminal that reports no size (0 columns: a pty nobody sized, as under `script` or some CI runners) gets 80.
    const columns = this.out.streams.stderr.columns || 80;
    const width = Math.max(10, Math.min(40, columns - 40));
    const filled = Math.round((p.done / Math.max(1, p.total)) * width);
    const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
    const label = `migrating tenants [${bar}] ${p.done}/${p.total} ${p.slug}`;
    this.out.progress(`\r\x1b[2K${label.slice(0, columns - 1)}`);
    this.#drawn = true;
  }

  finish(): void {
    if (this.#drawn) this.out.progress('\r\x1b[2K');
  }
}

interface TenantsDoc {
  migrated: { slug: string; applied: string[] }[];
  failed: { slug: string; error?: { code: string; message: string } }[];
}

/** The human-readable lines of a `migrate` run: the public schema, the fleet's counts, then (some) tenants. */
function fleetSummary(
  publicApplied: string[],
  fleet: Awaited<ReturnType<Lib['migrateTenants']>>,
  tenantsDoc: TenantsDoc,
  verify: boolean,
): string[] {
  const failed = tenantsDoc.failed.length;
  const upToDate = fleet.tenants.length - tenantsDoc.migrated.length - failed;
  const took = duration(fleet.durationMs);
  const repaired = fleet.disagreements.map((d) => d.slug).join(', ');
  return [
    publicApplied.length === 0 ? 'public: up to date' : `public: applied ${publicApplied.join(', ')}`,
    fleet.pending === 0 && failed === 0
      ? `tenants: ${plural(fleet.total, 'tenant')}, all up to date (${took})`
      : `tenants: ${tenantsDoc.migrated.length} migrated, ${upToDate} already up to date, ${failed} failed, ` +
        `of ${plural(fleet.total, 'tenant')} (${took})`,
    ...tenantsDoc.migrated.slice(0, 20).map((t) => `  ${t.slug}: applied ${t.applied.join(', ')}`),
    ...(tenantsDoc.migrated.length > 20 ? [`  ... and ${tenantsDoc.migrated.length - 20} more (--json lists them all)`] : []),
    ...tenantsDoc.failed
      .slice(0, 20)
      .map((t) => `  ${t.slug}: FAILED: ${t.error ? `${t.error.code}: ${t.error.message}` : 'unknown error'}`),
    ...(failed > 20 ? [`  ... and ${failed - 20} more failures (--json lists them all)`] : []),
    ...(verify && fleet.disagreements.length > 0
      ? [`repaired ${plural(fleet.disagreements.length, 'summary row')}: ${repaired}`]
      : []),
    ...(fleet.stopped
      ? [
          `stopped: ${fleet.stopped === 'canary' ? 'a canary tenant failed' : 'too many tenants failed (--max-failures)'}; ` +
            `${plural(fleet.notStarted, 'pending tenant')} not started (untouched)`,
        ]
      : []),
  ];
}
