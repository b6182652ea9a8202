import type { QueryResult, Statement } from '../drivers/types.js';

/**
 * What the server knows of each tenant, one query per source for all tenants at once (never a query per
 * tenant): its tables' counters (`pg_stat_user_tables`' functions, summed per schema), the statements its role
 * ran (`pg_stat_statements`, summed per role, where the extension is installed), and, for the few tenants a
 * report shows, their size on disk.
 */

/** Runs one statement (a Database's query). */
type Query = (statement: Statement) => Promise<QueryResult>;

/** The server's side of one tenant. */
export interface ServerTenantStats {
  slug: string;
  /** Sequential scans of its tables since the statistics were reset. */
  scans: number;
  /** Rows its index scans fetched. */
  rowsFetched: number;
  /** Rows its statements inserted, updated or deleted. */
  rowsWritten: number;
  liveRows: number;
  deadRows: number;
  /** pg_stat_statements (null without it): statements its role ran, their total time and rows. */
  calls: number | null;
  totalTimeMs: number | null;
  rows: number | null;
  /** PostgreSQL 16+: the last scan of any of its tables (null before 16, or never scanned). */
  lastActivity: Date | null;
}

/** What the server offers. */
export interface ServerCapabilities {
  serverVersion: number;
  /** pg_stat_statements can be read in this database (preloaded and created). */
  statements: boolean;
  /** Why not, when it cannot: for `doctor` and the report. */
  statementsHint: string | undefined;
}

/** Reads the server's version and whether pg_stat_statements can be read here (one query). */
export async function serverCapabilities(query: Query): Promise<ServerCapabilities> {
  const { rows } = await query({
    text: `select current_setting('server_version_num')::int as version,
      to_regclass('pg_stat_statements') is not null as created,
      exists (select 1 from pg_available_extensions where name = 'pg_stat_statements') as available,
      'pg_stat_statements' = any(string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','))
        as preloaded`,
  });
  const r = rows[0] ?? {};
  const statements = r.created === true && r.preloaded === true;
  let hint: string | undefined;
  if (!statements) {
    hint = !r.available
      ? 'the server has no pg_stat_statements (install postgresql-contrib)'
      : !r.preloaded
        ? 'add pg_stat_statements to shared_preload_libraries (postgresql.conf: shared_preload_libraries = ' +
          "'pg_stat_statements'), restart PostgreSQL, then run: create extension pg_stat_statements"
        : 'run: create extension pg_stat_statements (in this database)';
  }
  return { serverVersion: Number(r.version), statements, statementsHint: hint };
}

/** The role name of a tenant as SQL over `o.slug` (roles/tenant-role.ts: slugs past 40 characters are hashed). */
const ROLE_OF_SLUG = `'ct_' || left(md5(current_database()), 8) || '_' ||
  case when length(o.slug) <= 40 then o.slug else left(o.slug, 40) || '_' || left(md5(o.slug), 8) end`;

/** What a ranking needs of every tenant (phase 1); the rest of a row is read for the rows shown only (phase 2). */
export interface RankingFigures {
  slug: string;
  calls: number | null;
  totalTimeMs: number | null;
  rows: number | null;
  /** Sequential scans + rows fetched by index scans + rows written (tables only: their indexes are 5x as many). */
  activity: number;
  deadRows: number;
}

const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));

/**
 * Phase 1, every tenant in one query: with `statements`, what pg_stat_statements holds per tenant role (a few
 * thousand rows at most: cheap at any number of tenants); with `tables`, the counters of every tenant table
 * (one statistics lookup each: about a second for the 150,000 tables of 10,000 tenants).
 */
export async function rankingFigures(query: Query, read: { statements: boolean; tables: boolean }): Promise<RankingFigures[]> {
  const statements = read.statements
    ? `left join (select s.userid, sum(s.calls)::float8 as calls, sum(s.total_exec_time)::float8 as time,
           sum(s.rows)::float8 as rows
         from pg_stat_statements s where s.dbid = (select oid from pg_database where datname = current_database())
         group by s.userid) p on p.userid = to_regrole(${ROLE_OF_SLUG})`
    : 'left join (select null::float8 as calls, null::float8 as time, null::float8 as rows) p on true';
  const tables = read.tables
    ? `left join (select c.relnamespace,
           sum(pg_stat_get_numscans(c.oid) + pg_stat_get_tuples_fetched(c.oid) + pg_stat_get_tuples_inserted(c.oid)
             + pg_stat_get_tuples_updated(c.oid) + pg_stat_get_tuples_deleted(c.oid))::float8 as activity,
           sum(pg_stat_get_dead_tuples(c.oid))::float8 as dead
         from pg_class c where c.relkind in ('r', 'p')
           and c.relnamespace in (select oid from pg_namespace where nspname like 'tenant\\_%')
         group by c.relnamespace) t on t.relnamespace = n.oid`
    : 'left join (select 0::float8 as activity, 0::float8 as dead) t on true';
  const { rows } = await query({
    text: `select o.slug, p.calls, p.time, p.rows, t.activity, t.dead
      from public.organizations o join pg_namespace n on n.nspname = 'tenant_' || o.slug
      ${statements} ${tables}`,
  });
  const maybe = (v: unknown) => (read.statements ? num(v) : null);
  return rows.map((r) => ({
    slug: String(r.slug),
    calls: maybe(r.calls),
    totalTimeMs: maybe(r.time),
    rows: maybe(r.rows),
    activity: num(r.activity),
    deadRows: num(r.dead),
  }));
}

/** The tables' side of one tenant's row. */
export type TableFigures = Omit<ServerTenantStats, 'slug' | 'calls' | 'totalTimeMs' | 'rows'> & { sizeBytes: number };

/**
 * Phase 2, the tenants shown, in one query: their tables' counters, live and dead rows, last scan (PostgreSQL
 * 16+) and size on disk (tables, their indexes and TOAST).
 */
export async function tableFigures(
  query: Query,
  capabilities: ServerCapabilities,
  slugs: readonly string[],
): Promise<Map<string, TableFigures>> {
  if (slugs.length === 0) return new Map();
  const lastScan = capabilities.serverVersion >= 160000 ? 'max(pg_stat_get_lastscan(c.oid))' : 'null::timestamptz';
  const { rows } = await query({
    text: `select s.slug,
        sum(pg_stat_get_numscans(c.oid))::float8 as scans,
        sum(pg_stat_get_tuples_fetched(c.oid))::float8 as fetched,
        sum(pg_stat_get_tuples_inserted(c.oid) + pg_stat_get_tuples_updated(c.oid) + pg_stat_get_tuples_deleted(c.oid))::float8
          as written,
        sum(pg_stat_get_live_tuples(c.oid))::float8 as live,
        sum(pg_stat_get_dead_tuples(c.oid))::float8 as dead,
        coalesce(sum(pg_total_relation_size(c.oid)), 0)::float8 as bytes,
        ${lastScan} as last_scan
      from unnest($1::text[]) as s(slug)
      left join pg_class c on c.relnamespace = to_regnamespace('tenant_' || s.slug) and c.relkind in ('r', 'p')
      group by s.slug`,
    values: [slugs],
  });
  return new Map(
    rows.map((r) => [
      String(r.slug),
      {
        scans: num(r.scans),
        rowsFetched: num(r.fetched),
        rowsWritten: num(r.written),
        liveRows: num(r.live),
        deadRows: num(r.dead),
        sizeBytes: num(r.bytes),
        lastActivity: r.last_scan ? new Date(r.last_scan as string) : null,
      },
    ]),
  );
}
