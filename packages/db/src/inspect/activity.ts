import { getDatabase, type Database } from '../database/database.js';

/** Rows read and written in every tenant schema, cumulative since the server's statistics were reset. */
export interface FleetActivitySample {
  at: Date;
  /** Sum over every tenant table of rows returned, fetched, inserted, updated and deleted. */
  rows: number;
  /** Tenant schemas counted. */
  schemas: number;
}

/**
 * One reading of the fleet's activity counters (one query over the tenant schemas' tables). Two readings a
 * minute apart give the rows touched in that minute: the operator console samples it to chart the last hour.
 * Counters are cumulative and per server; a drop between two readings means the statistics were reset.
 *
 * @example
 * const before = await sampleFleetActivity(); ... const after = await sampleFleetActivity();
 * const perMinute = after.rows - before.rows;
 */
export async function sampleFleetActivity(options: { db?: Database } = {}): Promise<FleetActivitySample> {
  const db = options.db ?? getDatabase();
  const { rows } = await db.sql.query<{ rows: number | string; schemas: number | string }>(
    `select coalesce(sum(pg_stat_get_tuples_returned(c.oid) + pg_stat_get_tuples_fetched(c.oid)
        + pg_stat_get_tuples_inserted(c.oid) + pg_stat_get_tuples_updated(c.oid) + pg_stat_get_tuples_deleted(c.oid)), 0)::float8
        as rows,
       count(distinct c.relnamespace) as schemas
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname like 'tenant\\_%' and c.relkind in ('r', 'p')`,
  );
  return { at: new Date(), rows: Number(rows[0]?.rows ?? 0), schemas: Number(rows[0]?.schemas ?? 0) };
}
