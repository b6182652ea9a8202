import { getDatabase, type Database } from '../database/database.js';

/** Size and activity of one tenant schema, from the catalog and the server's statistics. */
export interface SchemaStats {
  /** Pages of the schema's tables and indexes as of their last VACUUM/ANALYZE, in bytes (an estimate). */
  sizeBytes: number;
  /** Rows read (returned or fetched) and written in the schema's tables since the statistics were reset. */
  activity: number;
}

/** Every tenant schema's size and activity at one moment (see `snapshotTenantStats`). */
export interface TenantStatsSnapshot {
  at: Date;
  /** By schema name (`tenant_{slug}`). */
  schemas: Record<string, SchemaStats>;
  /** Sum of `activity` over every tenant schema: two snapshots a minute apart give the fleet's rows per minute. */
  rows: number;
}

/**
 * The size and activity of the relations `c` of a schema, as SQL aggregates: sizes from relpages (as of the last
 * VACUUM/ANALYZE), activity from the statistics functions of its tables. Shared by every reader of them.
 */
export const SCHEMA_STATS_COLUMNS = `sum(c.relpages)::float8 * current_setting('block_size')::int as size_bytes,
    sum(case when c.relkind in ('r', 'p') then pg_stat_get_tuples_returned(c.oid) + pg_stat_get_tuples_fetched(c.oid)
      + pg_stat_get_tuples_inserted(c.oid) + pg_stat_get_tuples_updated(c.oid) + pg_stat_get_tuples_deleted(c.oid)
      else 0 end)::float8 as activity`;

/** The relation kinds counted: tables, partitioned tables, indexes, materialised views. */
export const STATS_RELKINDS = `c.relkind in ('r', 'p', 'i', 'm')`;

const TENANT_STATS_SQL = `select n.nspname as schema_name, ${SCHEMA_STATS_COLUMNS}
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname like 'tenant\\_%' and ${STATS_RELKINDS}
  group by n.nspname`;

/**
 * The size and activity of every tenant schema, in one query (one pass over the catalog, whatever the number of
 * tenants: at 10,000 tenants that pass is the expensive part, so tools that show many pages take a snapshot
 * now and then and hand it to `listTenantsPage({ stats })`, as the operator console does every minute).
 * Activity counters are cumulative and per server; a total that went down means the statistics were reset.
 *
 * @example
 * const before = await snapshotTenantStats(); ... const after = await snapshotTenantStats();
 * const rowsPerMinute = after.rows - before.rows; // a minute apart
 */
export async function snapshotTenantStats(options: { db?: Database } = {}): Promise<TenantStatsSnapshot> {
  const db = options.db ?? getDatabase();
  const { rows } = await db.sql.query<{ schema_name: string; size_bytes: number | string; activity: number | string }>(
    TENANT_STATS_SQL,
  );
  const schemas: Record<string, SchemaStats> = {};
  let total = 0;
  for (const r of rows) {
    const activity = Number(r.activity);
    schemas[r.schema_name] = { sizeBytes: Number(r.size_bytes), activity };
    total += activity;
  }
  return { at: new Date(), schemas, rows: total };
}
