import { getDatabase, type Database } from '../database/database.js';
import { TenantNotFoundError } from '../errors/index.js';
import { assertValidSlug, quoteIdentifier } from '../sql/identifier.js';
import { InvalidLimitError } from '../stats/errors.js';
import { governorOf, type EffectiveLimits, type StoredLimits } from '../stats/governor.js';
import {
  limitDefaultsFromEnv,
  parseCount,
  parseDurationMs,
  parseSizeKb,
  type LimitInput,
  type TenantLimitDefaults,
} from '../stats/units.js';
import type { LifecycleOptions } from './tenants.js';

/**
 * The limits of one tenant, kept in the registry (`public.tenant_limits`) and applied by every scope of that
 * tenant in every isolation mode: `statement_timeout` and `work_mem` set transaction-locally in the scope's
 * prelude (no round trip of their own), `max_scopes` as the tenant's bound on the pool (scope/fair-share.ts)
 * and, in login mode, as its role's CONNECTION LIMIT.
 */

/** Limits to change: a value sets it, `null` (or "default") clears it back to the default, absent leaves it. */
export interface TenantLimitsInput {
  /** `250ms`, `5s`, `1min` or milliseconds. */
  statementTimeout?: LimitInput;
  /** `64kB`, `16MB`, `1GB` or kB. */
  workMem?: LimitInput;
  /** Scopes (pooled connections) the tenant holds at once, per process. */
  maxScopes?: LimitInput;
}

/** A tenant's limits: its own (null where it has none) and what its scopes run under in this process. */
export interface TenantLimitsReport {
  slug: string;
  own: StoredLimits;
  effective: EffectiveLimits;
}

const NONE: StoredLimits = { statementTimeoutMs: null, workMemKb: null, maxScopes: null };

/** Each column with whether it changes and its new value (null clears it), parsed and range-checked. */
function parseInput(input: TenantLimitsInput): Array<{ column: string; set: boolean; value: number | null }> {
  const one = (value: LimitInput | undefined, parse: (v: string | number) => number) => {
    if (value === undefined) return { set: false, value: null };
    if (value === null || value === 'default') return { set: true, value: null };
    return { set: true, value: parse(value) };
  };
  return [
    { column: 'statement_timeout_ms', ...one(input.statementTimeout, (v) => parseDurationMs('statement timeout', v)) },
    { column: 'work_mem_kb', ...one(input.workMem, (v) => parseSizeKb('work_mem', v)) },
    { column: 'max_scopes', ...one(input.maxScopes, (v) => parseCount('max scopes', v)) },
  ];
}

/**
 * Sets (or clears) limits of `slug`. Bad input throws `InvalidLimitError` and changes nothing; a tenant that is
 * not in the registry throws `TenantNotFoundError`. In login mode the tenant role's CONNECTION LIMIT follows
 * `max_scopes`. This process applies the new limits from its next scope; other processes within their refresh
 * interval (`CGK_TENANT_LIMITS_REFRESH`, 10 s by default).
 */
export async function setTenantLimits(
  slug: string,
  input: TenantLimitsInput,
  options: LifecycleOptions = {},
): Promise<TenantLimitsReport> {
  assertValidSlug(slug);
  const changes = parseInput(input);
  const db = options.db ?? getDatabase();
  const flags = changes.map((c) => c.set);
  const values = changes.map((c) => c.value);
  const { rows } = await db.sql.query(
    `insert into public.tenant_limits (organization_id, statement_timeout_ms, work_mem_kb, max_scopes)
       select id, $2, $3, $4 from public.organizations where slug = $1
     on conflict (organization_id) do update set
       statement_timeout_ms = case when $5 then excluded.statement_timeout_ms else tenant_limits.statement_timeout_ms end,
       work_mem_kb = case when $6 then excluded.work_mem_kb else tenant_limits.work_mem_kb end,
       max_scopes = case when $7 then excluded.max_scopes else tenant_limits.max_scopes end
     returning statement_timeout_ms, work_mem_kb, max_scopes`,
    [slug, ...values, ...flags],
  );
  const row = rows[0];
  if (!row) throw new TenantNotFoundError(slug);
  const own = storedOf(row);
  if (db.tenantRoleMode === 'login') await applyToRole(db, slug, own);
  governorOf(db).remember(slug, own);
  return { slug, own, effective: await effectiveOf(db, slug) };
}

/** The limits of `slug`: its own (from the registry) and the effective ones in this process. */
export async function getTenantLimits(slug: string, options: LifecycleOptions = {}): Promise<TenantLimitsReport> {
  assertValidSlug(slug);
  const db = options.db ?? getDatabase();
  const { rows } = await db.sql.query(
    `select o.id, l.statement_timeout_ms, l.work_mem_kb, l.max_scopes
       from public.organizations o left join public.tenant_limits l on l.organization_id = o.id where o.slug = $1`,
    [slug],
  );
  if (!rows[0]) throw new TenantNotFoundError(slug);
  return { slug, own: storedOf(rows[0]), effective: await effectiveOf(db, slug) };
}

/**
 * Overrides the configured defaults (`CGK_TENANT_*`, read when the database ran its first scope) for every tenant
 * of `db` in this process: the default statement timeout, work_mem, max scopes, share of the pool, whether the
 * library keeps statistics. Invalid values throw `InvalidLimitError` and change nothing.
 */
export function configureTenantLimits(
  db: Database,
  defaults: Partial<Pick<TenantLimitDefaults, 'share' | 'stats' | 'refreshMs'>> & TenantLimitsInput,
): void {
  const governor = governorOf(db);
  const next: TenantLimitDefaults = { ...governor.defaults };
  const [timeout, workMem, maxScopes] = parseInput(defaults);
  if (timeout!.set) next.statementTimeoutMs = timeout!.value ?? undefined;
  if (workMem!.set) next.workMemKb = workMem!.value ?? undefined;
  if (maxScopes!.set) next.maxScopes = maxScopes!.value ?? undefined;
  if (defaults.share !== undefined) {
    if (!(defaults.share > 0 && defaults.share <= 1)) {
      throw new InvalidLimitError('share', defaults.share, 'expected a fraction of the pool, above 0 and at most 1');
    }
    next.share = defaults.share;
  }
  if (defaults.stats !== undefined) next.stats = defaults.stats;
  if (defaults.refreshMs !== undefined) {
    if (!Number.isInteger(defaults.refreshMs) || defaults.refreshMs < 1) {
      throw new InvalidLimitError('refresh interval (ms)', defaults.refreshMs, 'expected a whole number of milliseconds from 1');
    }
    next.refreshMs = defaults.refreshMs;
  }
  governor.defaults = next;
}

/** The defaults a process gets from its environment (`CGK_TENANT_*`), for `doctor` and the CLI. */
export function tenantLimitDefaults(env: NodeJS.ProcessEnv = process.env): TenantLimitDefaults {
  return limitDefaultsFromEnv(env);
}

async function effectiveOf(db: Database, slug: string): Promise<EffectiveLimits> {
  const driver = await db.driver();
  return governorOf(db).limitsFor(slug, driver.maxConnections);
}

function storedOf(row: Record<string, unknown>): StoredLimits {
  const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    ...NONE,
    statementTimeoutMs: n(row.statement_timeout_ms),
    workMemKb: n(row.work_mem_kb),
    maxScopes: n(row.max_scopes),
  };
}

/**
 * Login mode: the tenant's role carries the limits itself, so that every session logged in as the tenant (a
 * pooled connection of this library or anyone else's) is bounded: CONNECTION LIMIT, and the role's own
 * statement_timeout and work_mem for the sessions it opens.
 */
async function applyToRole(db: Database, slug: string, own: StoredLimits): Promise<void> {
  const role = quoteIdentifier(await db.tenantRoleName(slug));
  const script = [
    `alter role ${role} connection limit ${own.maxScopes ?? -1}`,
    own.statementTimeoutMs === null
      ? `alter role ${role} reset statement_timeout`
      : `alter role ${role} set statement_timeout = ${own.statementTimeoutMs}`,
    own.workMemKb === null ? `alter role ${role} reset work_mem` : `alter role ${role} set work_mem = ${own.workMemKb}`,
  ];
  await (await db.driver()).exec(`${script.join('; ')};`);
}
