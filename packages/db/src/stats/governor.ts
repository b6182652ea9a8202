import { QueryError } from '../errors/index.js';
import type { ScopeOwner } from '../scope/owner.js';
import { DurationHistogram } from './histogram.js';
import { limitDefaultsFromEnv, type TenantLimitDefaults } from './units.js';

/**
 * What the library keeps per database and tenant in the process: the defaults, the tenants' limits read from the
 * registry (cached, re-read in the background), and the statistics of their scopes. Below the scope layer:
 * the scope asks it for a tenant's limits without a query of its own (the cache), and reports each scope to it.
 */

/** A tenant's own limits as the registry holds them (`public.tenant_limits`); null = the default. */
export interface StoredLimits {
  statementTimeoutMs: number | null;
  workMemKb: number | null;
  maxScopes: number | null;
}

/** The limits a scope of one tenant runs under: its own where set, else the defaults. */
export interface EffectiveLimits {
  statementTimeoutMs: number | undefined;
  workMemKb: number | undefined;
  /** Scopes the tenant may hold at once in this process (Infinity: no bound known). */
  maxScopes: number;
  maxScopesSource: 'tenant' | 'default';
}

/** One tenant's scopes as the library saw them in this process. */
export interface TenantCounters {
  scopes: number;
  /** Scopes running now (holding or waiting for a connection). */
  active: number;
  errors: Map<string, number>;
  duration: DurationHistogram;
  /** Time from a scope's first statement to its transaction open: the fair-share wait, the pool and BEGIN. */
  connectionWait: DurationHistogram;
  /** Of which waiting behind the tenant's own fair share (scope/fair-share.ts). */
  shareWaitMs: number;
  lastScopeAt: number;
}

/** The undefined_table / undefined_schema answers of a database set up before the limits existed. */
const NO_TABLE = new Set(['42P01', '3F000']);

const PRESENT = "select to_regclass('public.tenant_limits') is not null as present";

const LOAD_LIMITS = `select o.slug, l.statement_timeout_ms, l.work_mem_kb, l.max_scopes
  from public.tenant_limits l join public.organizations o on o.id = l.organization_id`;

/** The per-database state; one per `ScopeOwner` (a `Database`), made on its first scope. */
export class Governor {
  defaults: TenantLimitDefaults;
  readonly counters = new Map<string, TenantCounters>();
  #limits = new Map<string, StoredLimits>();
  #loadedAt = -Infinity;
  #loading: Promise<void> | undefined;
  #present = false;

  constructor(readonly owner: ScopeOwner) {
    this.defaults = limitDefaultsFromEnv();
  }

  /**
   * The limits of `slug`'s next scope. The registry is read once on the first scope (one query, the only wait),
   * then again in the background when the copy is older than `refreshMs`: scopes never wait for it.
   */
  limitsFor(slug: string, poolSize: number | undefined): EffectiveLimits | Promise<EffectiveLimits> {
    if (this.#loadedAt === -Infinity) return this.#load().then(() => this.#effective(slug, poolSize));
    if (performance.now() - this.#loadedAt > this.defaults.refreshMs && !this.#loading) {
      this.#load().catch(() => undefined);
    }
    return this.#effective(slug, poolSize);
  }

  /** Takes a tenant's limits as just written by this process (setTenantLimits), before the next re-read. */
  remember(slug: string, limits: StoredLimits | undefined): void {
    if (limits) this.#limits.set(slug, limits);
    else this.#limits.delete(slug);
  }

  /** Forgets the cached copy: the next scope reads the registry again. */
  invalidate(): void {
    this.#loadedAt = -Infinity;
  }

  /** One tenant's counters, made on first use. */
  countersOf(slug: string): TenantCounters {
    let counters = this.counters.get(slug);
    if (!counters) {
      counters = {
        scopes: 0,
        active: 0,
        errors: new Map(),
        duration: new DurationHistogram(),
        connectionWait: new DurationHistogram(),
        shareWaitMs: 0,
        lastScopeAt: 0,
      };
      this.counters.set(slug, counters);
    }
    return counters;
  }

  #effective(slug: string, poolSize: number | undefined): EffectiveLimits {
    const own = this.#limits.get(slug);
    const d = this.defaults;
    const share = poolSize === undefined ? Number.POSITIVE_INFINITY : Math.max(2, Math.floor(poolSize * d.share));
    const bound = own?.maxScopes ?? d.maxScopes ?? share;
    return {
      statementTimeoutMs: own?.statementTimeoutMs ?? d.statementTimeoutMs,
      workMemKb: own?.workMemKb ?? d.workMemKb,
      // A bound of the whole pool or more bounds nothing the pool does not: the pool's own wait and error apply.
      maxScopes: poolSize !== undefined && bound >= poolSize ? Number.POSITIVE_INFINITY : bound,
      maxScopesSource: own?.maxScopes == null ? 'default' : 'tenant',
    };
  }

  /** Reads every tenant's limits (only tenants with a row: most have none); a database without the table has none. */
  #load(): Promise<void> {
    this.#loading ??= (async () => {
      try {
        // Asked first rather than caught: a failed query costs pg-pool its connection (it destroys a client
        // released with an error), and a database set up before the limits existed would pay that on every read.
        this.#present ||= (await this.owner.query({ text: PRESENT })).rows[0]?.present === true;
        const { rows } = this.#present ? await this.owner.query({ text: LOAD_LIMITS }) : { rows: [] };
        const limits = new Map<string, StoredLimits>();
        for (const r of rows) {
          limits.set(String(r.slug), {
            statementTimeoutMs: r.statement_timeout_ms as number | null,
            workMemKb: r.work_mem_kb as number | null,
            maxScopes: r.max_scopes as number | null,
          });
        }
        this.#limits = limits;
      } catch (error) {
        // The server could not answer: the scope that asked fails the same way, and the next one asks again.
        if (!(error instanceof QueryError) || !NO_TABLE.has(error.sqlState ?? '')) throw error;
        this.#limits = new Map();
      } finally {
        this.#loading = undefined;
      }
      this.#loadedAt = performance.now();
    })();
    return this.#loading;
  }
}

const governors = new WeakMap<ScopeOwner, Governor>();

/** The state of `owner`, made on first use (its defaults read from the environment then). */
export function governorOf(owner: ScopeOwner): Governor {
  let governor = governors.get(owner);
  if (!governor) {
    governor = new Governor(owner);
    governors.set(owner, governor);
  }
  return governor;
}

/** The governor of `owner` if it ever ran a scope (statistics readers must not create one). */
export function existingGovernor(owner: ScopeOwner): Governor | undefined {
  return governors.get(owner);
}
