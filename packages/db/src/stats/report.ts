import { getDatabase, type Database } from '../database/database.js';
import { ConfigError } from '../errors/index.js';
import { existingGovernor, type TenantCounters } from './governor.js';
import { schemaSizes, serverCapabilities, tableStats, type ServerCapabilities, type ServerTenantStats } from './server.js';

/** What this process's library saw of one tenant's scopes (zeros in a process that ran none, such as the CLI). */
export interface LibraryTenantStats {
  scopes: number;
  /** Scopes running now. */
  active: number;
  /** Failed scopes by code: a CgkError's code, or the SQLSTATE of the statement the server refused. */
  errors: Record<string, number>;
  /** Scope duration, first statement to commit or rollback (ms). */
  durationP50Ms: number;
  durationP99Ms: number;
  /** First statement until the connection answered it: fair-share queue, pool queue, first round trip (ms). */
  connectionWaitP50Ms: number;
  connectionWaitP99Ms: number;
  /** Total time its scopes queued behind its own share of the pool (ms). */
  shareWaitMs: number;
}

/** One tenant's row of `tenantStats()`. */
export interface TenantStats extends ServerTenantStats {
  /** Mean time per statement (pg_stat_statements; null without it). */
  meanTimeMs: number | null;
  /** Bytes on disk of its schema; computed for the rows returned only. */
  sizeBytes: number;
  library: LibraryTenantStats;
}

/** What tenants are ranked by: statements or their time (pg_stat_statements), scans and writes, size, dead rows, scopes. */
export type TenantStatsOrder = 'calls' | 'time' | 'activity' | 'size' | 'dead' | 'scopes';

export interface TenantStatsOptions {
  db?: Database;
  /** Rows returned, highest first (default 20). */
  top?: number;
  /** Default: `calls` where pg_stat_statements can be read, else `activity` (scans + rows written). */
  by?: TenantStatsOrder;
}

export interface TenantStatsReport {
  by: TenantStatsOrder;
  capabilities: ServerCapabilities;
  /** Tenants with a schema in the registry. */
  tenants: number;
  rows: TenantStats[];
}

const ORDERS: readonly TenantStatsOrder[] = ['calls', 'time', 'activity', 'size', 'dead', 'scopes'];

/**
 * The busiest tenants: the server's counters for every tenant in one query per source, merged with what this
 * process's library saw, ranked, cut to `top`; sizes on disk are then read for those rows only (one query).
 * Ranking by size reads every tenant's size (slower with many tenants). Read-only.
 */
export async function tenantStats(options: TenantStatsOptions = {}): Promise<TenantStatsReport> {
  const db = options.db ?? getDatabase();
  const top = options.top ?? 20;
  if (!Number.isInteger(top) || top < 1) throw new ConfigError(`top must be a whole number from 1, not ${top}`);
  if (options.by !== undefined && !ORDERS.includes(options.by)) {
    throw new ConfigError(`Cannot rank tenants by "${options.by}"`, `Rank by one of: ${ORDERS.join(', ')}`);
  }
  const query = db.query.bind(db);
  const capabilities = await serverCapabilities(query);
  const by = options.by ?? (capabilities.statements ? 'calls' : 'activity');
  if ((by === 'calls' || by === 'time') && !capabilities.statements) {
    throw new ConfigError(`Ranking by ${by} needs pg_stat_statements`, capabilities.statementsHint);
  }
  const server = await tableStats(query, capabilities);
  const counters = existingGovernor(db)?.counters;
  let rows = [...server.values()].map((s) => merge(s, counters?.get(s.slug)));
  const sizes =
    by === 'size'
      ? await schemaSizes(
          query,
          rows.map((r) => r.slug),
        )
      : undefined;
  if (sizes) for (const r of rows) r.sizeBytes = sizes.get(r.slug) ?? 0;
  rows.sort((a, b) => rank(b, by) - rank(a, by) || a.slug.localeCompare(b.slug));
  rows = rows.slice(0, top);
  if (!sizes) {
    const topSizes = await schemaSizes(
      query,
      rows.map((r) => r.slug),
    );
    for (const r of rows) r.sizeBytes = topSizes.get(r.slug) ?? 0;
  }
  return { by, capabilities, tenants: server.size, rows };
}

function rank(row: TenantStats, by: TenantStatsOrder): number {
  switch (by) {
    case 'calls':
      return row.calls ?? 0;
    case 'time':
      return row.totalTimeMs ?? 0;
    case 'activity':
      return row.scans + row.rowsWritten;
    case 'size':
      return row.sizeBytes;
    case 'dead':
      return row.deadRows;
    case 'scopes':
      return row.library.scopes;
  }
}

function merge(server: ServerTenantStats, counters: TenantCounters | undefined): TenantStats {
  const lastScope = counters?.lastScopeAt ? new Date(counters.lastScopeAt) : null;
  const lastActivity =
    server.lastActivity && lastScope
      ? new Date(Math.max(server.lastActivity.getTime(), lastScope.getTime()))
      : (server.lastActivity ?? lastScope);
  return {
    ...server,
    lastActivity,
    meanTimeMs: server.calls && server.totalTimeMs !== null ? server.totalTimeMs / server.calls : null,
    sizeBytes: 0,
    library: {
      scopes: counters?.scopes ?? 0,
      active: counters?.active ?? 0,
      errors: Object.fromEntries(counters?.errors ?? []),
      durationP50Ms: counters?.duration.percentile(50) ?? 0,
      durationP99Ms: counters?.duration.percentile(99) ?? 0,
      connectionWaitP50Ms: counters?.connectionWait.percentile(50) ?? 0,
      connectionWaitP99Ms: counters?.connectionWait.percentile(99) ?? 0,
      shareWaitMs: counters?.shareWaitMs ?? 0,
    },
  };
}
