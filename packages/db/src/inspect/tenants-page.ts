import { getDatabase, type Database } from '../database/database.js';
import { ConfigError } from '../errors/index.js';
import { registry, type TenantStatus } from '../lifecycle/registry.js';
import { SCHEMA_STATS_COLUMNS, STATS_RELKINDS, type TenantStatsSnapshot } from './tenant-stats.js';

/** What the tenants of a page can be ordered by. */
export type TenantSort = 'slug' | 'name' | 'created' | 'status' | 'size' | 'activity' | 'version';

/** One page of the tenant registry, searched, filtered and ordered (see `listTenantsPage`). */
export interface TenantPageOptions {
  db?: Database;
  /** Matches slugs and names containing it (case-insensitive); `%` and `_` are literal. */
  search?: string;
  status?: TenantStatus;
  sort?: TenantSort;
  /** Default: ascending for slug, name and status; descending for created, size, activity and version. */
  descending?: boolean;
  /** 1-based. */
  page?: number;
  /** Tenants per page: 1 to 200, default 50. */
  pageSize?: number;
  /**
   * Sizes and activity from an earlier `snapshotTenantStats()`: the page then reads no catalog at all (the
   * console refreshes one a minute). Without it, the page's own schemas are read from the catalog, and every
   * tenant schema's when ordering by size or activity (one pass over pg_class: the costly case at 10,000 tenants).
   */
  stats?: TenantStatsSnapshot;
}

/** A tenant as an operator's list shows it. */
export interface TenantPageRow {
  slug: string;
  name: string;
  status: TenantStatus;
  createdAt: Date;
  /** False when the registry row has no schema (a half-dropped or foreign row). */
  schemaExists: boolean;
  /** Pages of the schema's tables and indexes as of their last VACUUM/ANALYZE, in bytes (an estimate). */
  sizeBytes: number;
  /** Rows read and written in the schema's tables since the server's statistics were reset. */
  activity: number;
  /** Highest platform tenant migration applied, from the fleet summary; null when it has none. */
  migrationVersion: number | null;
}

export interface TenantPage {
  tenants: TenantPageRow[];
  /** Tenants matching the search and filter, on every page. */
  total: number;
  page: number;
  pageSize: number;
  pages: number;
}

const SORTS: Record<TenantSort, { column: string; descending: boolean }> = {
  slug: { column: 'slug', descending: false },
  name: { column: 'lower(name)', descending: false },
  status: { column: 'status', descending: false },
  created: { column: 'created_at', descending: true },
  size: { column: 'size_bytes', descending: true },
  activity: { column: 'activity', descending: true },
  version: { column: 'migration_version', descending: true },
};

// Sizes and activity come from a snapshot when given; otherwise from the catalog and the statistics of the
// page's schemas only, unless the page is ordered by them: then of every tenant schema, in one pass over pg_class.
const MATCHING = `select o.slug, o.name, o.status::text as status, o.created_at, n.oid as nsp, s.version as migration_version
  from public.organizations o
  left join pg_namespace n on n.nspname = 'tenant_' || o.slug
  left join public.tenant_migration_state s on s.schema_name = 'tenant_' || o.slug and s.migration_set = 'platform'
  where not o.pending and ($1::text is null or o.slug ilike $1 escape '\\' or o.name ilike $1 escape '\\')
    and ($2::text is null or o.status::text = $2)`;

const STATS = (where: string) => `select c.relnamespace as nsp, ${SCHEMA_STATS_COLUMNS}
  from pg_class c where ${where} and ${STATS_RELKINDS} group by c.relnamespace`;

/**
 * The same for the few schemas of one page, found through pg_depend's index (each table depends on its schema,
 * each index on its table) instead of a scan of pg_class, which has no index on relnamespace.
 */
const PAGE_STATS = (nsps: string) => `with t as (
    select d.refobjid as nsp, d.objid from pg_depend d
    where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_namespace'::regclass and d.deptype = 'n'
      and d.refobjid = any (array(${nsps}))
  ), rels as (
    select t.nsp, t.objid as oid from t
    union all
    select t.nsp, i.indexrelid from t join pg_index i on i.indrelid = t.objid
  )
  select rels.nsp, ${SCHEMA_STATS_COLUMNS}
  from rels join pg_class c on c.oid = rels.oid where ${STATS_RELKINDS} group by rels.nsp`;

const OUTPUTS = `slug, name, status, created_at, nsp is not null as schema_exists, coalesce(size_bytes, 0) as size_bytes,
    coalesce(activity, 0) as activity, migration_version, total`;

function pageSql(sort: TenantSort, descending: boolean, snapshot: boolean): string {
  const order = `${SORTS[sort].column} ${descending ? 'desc' : 'asc'} nulls last, slug`;
  if (snapshot) {
    return `with st as (select * from unnest($5::text[], $6::float8[], $7::float8[]) as st(schema_name, size_bytes, activity)),
  m as (${MATCHING})
select ${OUTPUTS} from (select m.*, st.size_bytes, st.activity, count(*) over () as total
  from m left join st on st.schema_name = 'tenant_' || m.slug) t order by ${order} limit $3 offset $4`;
  }
  if (sort === 'size' || sort === 'activity') {
    return `with m as (${MATCHING}),
  st as (${STATS('c.relnamespace in (select nsp from m where nsp is not null)')})
select ${OUTPUTS} from (select m.*, st.size_bytes, st.activity, count(*) over () as total
  from m left join st using (nsp)) t order by ${order} limit $3 offset $4`;
  }
  return `with p as (select *, count(*) over () as total from (${MATCHING}) m order by ${order} limit $3 offset $4),
  st as (${PAGE_STATS('select nsp from p where nsp is not null')})
select ${OUTPUTS} from p left join st using (nsp) order by ${order}`;
}

/** The snapshot as three parallel arrays, the parameters $5-$7 of the snapshot query. */
function snapshotParams(stats: TenantStatsSnapshot): [string[], number[], number[]] {
  const entries = Object.entries(stats.schemas);
  return [entries.map(([name]) => name), entries.map(([, s]) => s.sizeBytes), entries.map(([, s]) => s.activity)];
}

interface PageRow {
  slug: string;
  name: string;
  status: TenantStatus;
  created_at: Date | string;
  schema_exists: boolean;
  size_bytes: number | string;
  activity: number | string;
  migration_version: number | null;
  total: number | string;
}

/**
 * One page of tenants for an operator (pending tenants, made in advance, are not listed): searched by slug or
 * name, filtered by status, ordered by any column
 * (size and activity included), with the number of matches. One query per page whatever the number of
 * tenants: the registry, the fleet's migration summary, and sizes and activity from `options.stats` (no
 * catalog read) or else from the catalog (see `TenantPageOptions.stats` for what that costs). Read-only.
 *
 * @example
 * const { tenants, total } = await listTenantsPage({ search: 'acme', sort: 'size', page: 1 });
 */
export async function listTenantsPage(options: TenantPageOptions = {}): Promise<TenantPage> {
  const db = options.db ?? getDatabase();
  const sort = options.sort ?? 'slug';
  if (!(sort in SORTS)) throw new ConfigError(`Unknown sort "${String(sort)}"`, `One of: ${Object.keys(SORTS).join(', ')}`);
  const pageSize = Math.min(200, Math.max(1, Math.trunc(options.pageSize ?? 50)));
  const page = Math.max(1, Math.trunc(options.page ?? 1));
  const search = options.search?.trim() ? `%${options.search.trim().replace(/[\\%_]/g, '\\$&')}%` : null;
  const { rows } = await registry(
    db.sql.query<PageRow>(pageSql(sort, options.descending ?? SORTS[sort].descending, options.stats !== undefined), [
      search,
      options.status ?? null,
      pageSize,
      (page - 1) * pageSize,
      ...(options.stats ? snapshotParams(options.stats) : []),
    ]),
  );
  const total = rows.length > 0 ? Number(rows[0]!.total) : await countMatching(db, search, options.status);
  return {
    tenants: rows.map((r) => ({
      slug: r.slug,
      name: r.name,
      status: r.status,
      createdAt: new Date(r.created_at),
      schemaExists: r.schema_exists,
      sizeBytes: Number(r.size_bytes),
      activity: Number(r.activity),
      migrationVersion: r.migration_version === null ? null : Number(r.migration_version),
    })),
    total,
    page,
    pageSize,
    pages: Math.max(1, Math.ceil(total / pageSize)),
  };
}

/** A page past the last one has no rows to carry the total: asked only then. */
async function countMatching(db: Database, search: string | null, status: TenantStatus | undefined): Promise<number> {
  const { rows } = await db.sql.query<{ n: number }>(`select count(*)::int as n from (${MATCHING}) m`, [search, status ?? null]);
  return Number(rows[0]?.n ?? 0);
}

/**
 * How many tenants the registry holds in each status, in one query (pending tenants, which are not yet
 * anybody's, are not counted). Every status is present, with 0 when none has it.
 */
export async function countTenantsByStatus(options: { db?: Database } = {}): Promise<Record<TenantStatus, number>> {
  const db = options.db ?? getDatabase();
  const { rows } = await registry(
    db.sql.query<{ status: TenantStatus; n: number }>(
      `select status::text as status, count(*)::int as n from public.organizations
       where not pending group by 1`,
    ),
  );
  const counts: Record<TenantStatus, number> = { active: 0, suspended: 0, onboarding: 0 };
  for (const r of rows) counts[r.status] = Number(r.n);
  return counts;
}
