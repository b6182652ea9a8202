/**
 * How many tenants one pooled server connection serves before it is replaced (`pool_max_tenants`).
 *
 * A PostgreSQL backend caches the catalog entries (relations, indexes, triggers, compiled trigger functions)
 * of every tenant table it touches and never frees them, so a connection that roams over 10,000 tenants grows
 * to hundreds of MB. Counting distinct tenants, not uses,
 * costs nothing to an application with few tenants (its connections are never replaced for this) and bounds
 * the memory of one with many. docs/SCALING.md has the measurements and the trade-off.
 */

/** Tracks the tenants each connection has served; `serve()` says whether to close the connection after this one. */
export class TenantBudget<Connection extends object> {
  readonly #served = new WeakMap<Connection, Set<string>>();

  /** `limit` distinct tenants per connection; 0 = no limit. */
  constructor(readonly limit: number) {}

  /**
   * Records that `connection` serves `tenant`; true when it has now served `limit` distinct tenants and should
   * be closed once this transaction ends (the next checkout opens a fresh one).
   */
  serve(connection: Connection, tenant: string | undefined): boolean {
    if (this.limit <= 0 || tenant === undefined) return false;
    let served = this.#served.get(connection);
    if (!served) this.#served.set(connection, (served = new Set()));
    served.add(tenant);
    return served.size >= this.limit;
  }
}
