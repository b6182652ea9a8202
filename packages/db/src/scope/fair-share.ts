import type { BeginOptions, Driver, QueryResult, Settled, Statement, Transaction } from '../drivers/types.js';
import { CgkError, QueryError } from '../errors/index.js';
import { inlineLiteral } from '../sql/identifier.js';
import { StatementTimeoutError, TenantBusyError } from '../stats/errors.js';
import { governorOf, type EffectiveLimits, type TenantCounters } from '../stats/governor.js';
import { reportScope } from '../stats/telemetry.js';
import type { ScopeOwner } from './owner.js';

/**
 * The fair share of the pool, the per-tenant limits and the statistics, all applied where a tenant scope takes
 * its connection: above the drivers, so they hold for every driver. The scope makes one call (`enterScope`)
 * and gets its driver back wrapped: its `begin` waits behind the tenant's own scopes when the tenant already
 * holds its share, adds the tenant's limits to the prelude (the same message: no round trip of its own), and
 * its transaction gives the slot back when it ends, commit or rollback, reporting the scope to the statistics.
 */

interface Waiter {
  grant(): void;
}

/** Per database: how many scopes each tenant holds, and who waits for one. */
class Gate {
  readonly #tenants = new Map<string, { held: number; limit: number; queue: Waiter[] }>();

  /** Takes a slot of `slug` now (undefined) or a promise of one, rejected with `TenantBusyError` after `waitMs`. */
  take(slug: string, limits: EffectiveLimits, waitMs: number): Promise<void> | undefined {
    let entry = this.#tenants.get(slug);
    if (!entry) this.#tenants.set(slug, (entry = { held: 0, limit: limits.maxScopes, queue: [] }));
    entry.limit = limits.maxScopes;
    if (entry.held < entry.limit && entry.queue.length === 0) {
      entry.held++;
      return undefined;
    }
    const queue = entry.queue;
    return new Promise<void>((resolve, reject) => {
      const started = performance.now();
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer =
        waitMs === Number.POSITIVE_INFINITY
          ? undefined
          : setTimeout(() => {
              queue.splice(queue.indexOf(waiter), 1);
              reject(new TenantBusyError(slug, limits.maxScopes, performance.now() - started, limits.maxScopesSource));
            }, waitMs);
      queue.push(waiter);
    });
  }

  /** Gives a slot back: to the next waiter of the tenant (first come, first served) while under its limit. */
  give(slug: string): void {
    const entry = this.#tenants.get(slug);
    if (!entry) return;
    entry.held--;
    while (entry.queue.length > 0 && entry.held < entry.limit) {
      entry.held++;
      entry.queue.shift()?.grant();
    }
    if (entry.held === 0 && entry.queue.length === 0) this.#tenants.delete(slug);
  }

  /** Scopes of `slug` holding a slot now (tests, statistics). */
  held(slug: string): number {
    return this.#tenants.get(slug)?.held ?? 0;
  }
}

const gates = new WeakMap<ScopeOwner, Gate>();

function gateOf(owner: ScopeOwner): Gate {
  let gate = gates.get(owner);
  if (!gate) gates.set(owner, (gate = new Gate()));
  return gate;
}

/** Scopes of `slug` that hold (or are opening) a connection of `owner` right now, in this process. */
export function scopesHeld(owner: ScopeOwner, slug: string): number {
  return gates.get(owner)?.held(slug) ?? 0;
}

/** How long a scope waits for its tenant's share: the pool's own connect timeout (10 s unless the URL says). */
function shareWaitMs(owner: ScopeOwner): number {
  const url = (owner as { config?: { url?: string } }).config?.url;
  const raw = url ? URL.canParse(url) && new URL(url).searchParams.get('connect_timeout') : null;
  const seconds = raw ? Number(raw) : Number.NaN;
  if (seconds === 0) return Number.POSITIVE_INFINITY; // connect_timeout=0: the pool waits without limit, and so does the share
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 10_000;
}

/**
 * Called by a tenant scope with its driver, before its first statement: returns the driver whose `begin` applies
 * the tenant's fair share, limits and statistics (see the module comment). Other members are the driver's own.
 */
export function enterScope(owner: ScopeOwner, slug: string, driver: Driver): Driver {
  const begin = async (prelude: readonly Statement[], options?: BeginOptions) => {
    const governor = governorOf(owner);
    const startedAt = performance.now();
    const asked = governor.limitsFor(slug, driver.maxConnections);
    const limits = asked instanceof Promise ? await asked : asked;
    const counters = governor.defaults.stats ? governor.countersOf(slug) : undefined;
    if (counters) counters.active++;
    const run = new ScopeRun(owner, slug, limits, startedAt, counters);
    await run.wait(gateOf(owner), shareWaitMs(owner));
    try {
      const { tx, results } = await driver.begin(withLimits(prelude, limits), options);
      run.opened(results);
      return { tx: run.transaction(tx), results: results.map((r) => run.settled(r)) };
    } catch (error) {
      throw run.end(error);
    }
  };
  return Object.create(driver, { begin: { value: begin } }) as Driver;
}

/**
 * The limits as more columns of the prelude's select: `set_config(..., true)` lasts for the transaction,
 * so the connection goes back to the pool carrying nothing. The values are whole numbers in PostgreSQL's base
 * units (ms, kB), which `inlineLiteral` accepts.
 */
function withLimits(prelude: readonly Statement[], limits: EffectiveLimits): readonly Statement[] {
  const [head, ...rest] = prelude;
  if (!head || (limits.statementTimeoutMs === undefined && limits.workMemKb === undefined)) return prelude;
  const settings: [string, string][] = [];
  if (limits.statementTimeoutMs !== undefined) settings.push(['statement_timeout', String(limits.statementTimeoutMs)]);
  if (limits.workMemKb !== undefined) settings.push(['work_mem', String(limits.workMemKb)]);
  // The prelude is one select (more columns), or, in its cheapest form, several statements ending in a
  // `set local` (more `set local` statements: a column added there would be a syntax error).
  const text = head.text.includes(';')
    ? head.text + settings.map(([name, value]) => `; set local ${name} to ${inlineLiteral(value)}`).join('')
    : head.text + settings.map(([name, value]) => `, set_config('${name}', ${inlineLiteral(value)}, true) as ${name}`).join('');
  return [{ ...head, text }, ...rest];
}

/** One scope from its first statement to the end of its transaction. */
class ScopeRun {
  #held = false;
  #ended = false;
  #openedAt: number | undefined;
  #errorCode: string | undefined;
  #errorMessage: string | undefined;

  constructor(
    readonly owner: ScopeOwner,
    readonly slug: string,
    readonly limits: EffectiveLimits,
    readonly startedAt: number,
    readonly counters: TenantCounters | undefined,
  ) {}

  /** Takes a slot of the tenant's share, waiting behind its own scopes when it holds them all. */
  async wait(gate: Gate, waitMs: number): Promise<void> {
    const waiting = gate.take(this.slug, this.limits, waitMs);
    if (waiting) {
      const asked = performance.now();
      try {
        await waiting;
      } catch (error) {
        throw this.end(error);
      } finally {
        if (this.counters) this.counters.shareWaitMs += performance.now() - asked;
      }
    }
    this.#held = true;
  }

  opened(results: Settled[]): void {
    this.#openedAt = performance.now();
    const row = results[0]?.ok ? results[0].result.rows[0] : undefined;
    if (row && row.found === false) this.#errorCode ??= 'CGK_TENANT_NOT_FOUND';
  }

  /** A statement's outcome, a statement timeout made a `StatementTimeoutError` naming the tenant and its limit. */
  settled(result: Settled): Settled {
    return result.ok ? result : { ok: false, error: this.#failed(result.error) as Error };
  }

  transaction(tx: Transaction): Transaction {
    const query = (statement: Statement): Promise<QueryResult> =>
      tx.query(statement).catch((error: unknown) => {
        throw this.#failed(error);
      });
    const commit: Transaction['commit'] = async (options) => {
      try {
        const tag = await tx.commit(options);
        if (tag === 'ROLLBACK') this.#errorCode ??= 'CGK_TRANSACTION_ABORTED';
        return tag;
      } catch (error) {
        throw this.#failed(error);
      } finally {
        this.end();
      }
    };
    const rollback: Transaction['rollback'] = (options) => tx.rollback(options).finally(() => this.end());
    return { query, exec: (script) => tx.exec(script), commit, rollback };
  }

  /** The scope is over: its slot goes back, its figures to the statistics. Returns `error` for throwing. */
  end(error?: unknown): unknown {
    if (error !== undefined) this.#failed(error);
    if (this.#ended) return error;
    this.#ended = true;
    if (this.#held) gateOf(this.owner).give(this.slug);
    if (!this.counters) return error;
    const endedAt = performance.now();
    const c = this.counters;
    c.active--;
    c.scopes++;
    c.lastScopeAt = Date.now();
    c.duration.record(endedAt - this.startedAt);
    const waitMs = this.#openedAt === undefined ? undefined : this.#openedAt - this.startedAt;
    if (waitMs !== undefined) c.connectionWait.record(waitMs);
    if (this.#errorCode !== undefined) c.errors.set(this.#errorCode, (c.errors.get(this.#errorCode) ?? 0) + 1);
    reportScope({
      slug: this.slug,
      startedAt: this.startedAt,
      endedAt,
      waitMs,
      errorCode: this.#errorCode,
      errorMessage: this.#errorMessage,
    });
    return error;
  }

  /** Notes the scope's first failure (its code for the statistics) and types a statement timeout. */
  #failed(error: unknown): unknown {
    let typed = error;
    if (error instanceof QueryError && error.sqlState === '57014' && this.limits.statementTimeoutMs !== undefined) {
      if (/statement timeout/.test(error.message))
        typed = new StatementTimeoutError(this.slug, this.limits.statementTimeoutMs, error);
    }
    if (this.#errorCode === undefined) {
      this.#errorCode = errorCode(typed);
      this.#errorMessage = typed instanceof Error ? typed.message : undefined;
    }
    return typed;
  }
}

/** The key errors are counted under: a CgkError's code, or the SQLSTATE of a statement the server refused. */
function errorCode(error: unknown): string {
  if (error instanceof QueryError && error.sqlState) return error.sqlState;
  if (error instanceof CgkError) return error.code;
  return 'unknown';
}
