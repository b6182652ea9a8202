import { getDatabase, type Database } from '../database/database.js';
import { ConfigError } from '../errors/index.js';
import { existingGovernor, type TenantCounters } from './governor.js';
import {
  rankingFigures,
  serverCapabilities,
  tableFigures,
  type RankingFigures,
  type ServerCapabilities,
  type ServerTenantStats,
  type TableFigures,
} from './server.js';

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
  /** Bytes on disk of its schema's tables, their indexes and TOAST. */
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
 * The busiest tenants, in three queries whatever their number: what the server offers; every tenant's ranking
 * figures (pg_stat_statements per tenant role, cheap; or, ranking by activity or dead rows, every tenant
 * table's counters, about a second at 10,000 tenants); then the full rows, sizes on disk included, of the `top`
 * shown. Merged with what this process's library saw. Ranking by size reads every tenant's size. Read-only.
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
  const tables = by === 'activity' || by === 'dead';
  const figures = await rankingFigures(query, { statements: capabilities.statements, tables });
  const counters = existingGovernor(db)?.counters;
  const sizes =
    by === 'size'
      ? await tableFigures(
          query,
          capabilities,
          figures.map((f) => f.slug),
        )
      : undefined;
  const key = (f: RankingFigures): number => {
    if (by === 'calls') return f.calls ?? 0;
    if (by === 'time') return f.totalTimeMs ?? 0;
    if (by === 'activity') return f.activity;
    if (by === 'dead') return f.deadRows;
    if (by === 'size') return sizes?.get(f.slug)?.sizeBytes ?? 0;
    return counters?.get(f.slug)?.scopes ?? 0;
  };
  const shown = figures.sort((a, b) => key(b) - key(a) || a.slug.localeCompare(b.slug)).slice(0, top);
  const details =
    sizes ??
    (await tableFigures(
      query,
      capabilities,
      shown.map((f) => f.slug),
    ));
  const rows = shown.map((f) => merge(f, details.get(f.slug), counters?.get(f.slug)));
  return { by, capabilities, tenants: figures.length, rows };
}

function merge(f: RankingFigures, t: TableFigures | undefined, counters: TenantCounters | undefined): TenantStats {
  const lastScope = counters?.lastScopeAt ? new Date(counters.lastScopeAt) : null;
  const lastServer = t?.lastActivity ?? null;
  const lastActivity =
    lastServer && lastScope ? new Date(Math.max(lastServer.getTime(), lastScope.getTime())) : (lastServer ?? lastScope);
  return {
    slug: f.slug,
    calls: f.calls,
    totalTimeMs: f.totalTimeMs,
    rows: f.rows,
    meanTimeMs: f.calls && f.totalTimeMs !== null ? f.totalTimeMs / f.calls : null,
    scans: t?.scans ?? 0,
    rowsFetched: t?.rowsFetched ?? 0,
    rowsWritten: t?.rowsWritten ?? 0,
    liveRows: t?.liveRows ?? 0,
    deadRows: t?.deadRows ?? f.deadRows,
    sizeBytes: t?.sizeBytes ?? 0,
    lastActivity,
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
