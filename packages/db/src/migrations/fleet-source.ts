import type { Driver, Statement } from '../drivers/types.js';
import { quoteIdentifier, TENANT_SCHEMA_PREFIX } from '../sql/identifier.js';

/**
 * Where the fleet's tenants are listed, and the fleet queries built on that list: the count of pending
 * tenants, and the keyset pages that stream them. SQL only; the fleet run is in fleet.ts, the report in
 * status.ts.
 */

/**
 * Where the tenants are listed. A tenant is a slug listed there whose schema `tenant_{slug}` exists: a
 * registry row without a schema (a half-created or dropped tenant) is not migrated, nor is a `tenant_*`
 * schema without a row. Every status (active, suspended, onboarding) is migrated: a schema must match the
 * code whatever the tenant's state. The listing is SQL (joined with the summary in the same query), which is
 * what keeps the fast check to one query.
 * - `'organizations'` (default): `public.organizations.slug`, the platform's registry (public migration 001).
 * - `'schemas'`: every schema named `tenant_*`, no registry needed (tests, tools, recovery).
 * - `{ table, schema?, slugColumn? }`: another registry table (its slug column, default `slug`).
 */
export type TenantSource = 'organizations' | 'schemas' | { table: string; schema?: string; slugColumn?: string };

/** The summary table; `status.ts` swaps in an empty relation when it does not exist yet (it creates nothing). */
export const STATE_TABLE = 'public.tenant_migration_state';

/** The SQL listing tenants as (slug, schema_name), for a tenant source; only tenants whose schema exists. */
export function tenantSourceSql(source: TenantSource): string {
  if (source === 'schemas') {
    return `select substr(n.nspname, ${TENANT_SCHEMA_PREFIX.length + 1})::text as slug, n.nspname::text as schema_name
from pg_namespace n where n.nspname like 'tenant\\_%'`;
  }
  const column = quoteIdentifier(source === 'organizations' ? 'slug' : (source.slugColumn ?? 'slug'));
  return `select r.${column}::text as slug, n.nspname::text as schema_name
from ${registryTable(source)} r join pg_namespace n on n.nspname = '${TENANT_SCHEMA_PREFIX}' || r.${column}`;
}

/** The registry table of a source, quoted. */
export function registryTable(source: Exclude<TenantSource, 'schemas'>): string {
  if (source === 'organizations') return `${quoteIdentifier('public')}.${quoteIdentifier('organizations')}`;
  return `${quoteIdentifier(source.schema ?? 'public')}.${quoteIdentifier(source.table)}`;
}

/** What every tenant should have of one set: its latest version and the digest of all its files. */
export interface SetTarget {
  name: string;
  version: number;
  digest: string;
}

/** The empty stand-in for a summary table that does not exist yet (status.ts: it creates nothing). */
export const NO_STATE_TABLE =
  '(select null::text as schema_name, null::text as migration_set, null::int as version, ' +
  'null::text as checksum_digest where false)';

/**
 * The common head of the fleet queries, over the summary `state`: `t` lists the tenants ($5: the selected
 * slugs, or null for all), `x` the sets' targets ($1 names, $2 versions, $3 digests) and `c` how many sets
 * each tenant has current. The one rule for "this tenant has something pending": fewer than $4 (every set)
 * current, that is a set with no row, or with a version or digest other than the files' latest. A tenant
 * migrated by a newer release, or whose applied file changed, is pending too; its run then refuses it with
 * the precise error.
 */
function fleetHead(source: string, state: string): string {
  return `with t as (select * from (${source}) src where $5::text[] is null or src.slug = any($5::text[])),
x as (select * from unnest($1::text[], $2::int[], $3::text[]) as x(migration_set, version, digest)),
c as (select s.schema_name, count(*)::int as n from ${state} s
      join x on x.migration_set = s.migration_set and x.version = s.version and x.digest = s.checksum_digest
      group by s.schema_name)`;
}

const PENDING = 'coalesce(c.n, 0) < $4';

function headValues(sets: readonly SetTarget[], slugs: readonly string[] | undefined): unknown[] {
  return [sets.map((s) => s.name), sets.map((s) => s.version), sets.map((s) => s.digest), sets.length, slugs ?? null];
}

/** How many tenants there are and how many have something pending: one query, whatever the fleet's size. */
export async function countFleet(
  driver: Driver,
  source: string,
  sets: readonly SetTarget[],
  slugs?: readonly string[],
  state = STATE_TABLE,
) {
  const { rows } = await driver.query({
    text: `${fleetHead(source, state)}
select count(*)::int as total, count(*) filter (where ${PENDING})::int as pending
from t left join c on c.schema_name = t.schema_name`,
    values: headValues(sets, slugs),
  });
  return { total: Number(rows[0]?.total ?? 0), pending: Number(rows[0]?.pending ?? 0) };
}

/** A tenant's summary rows, as `pendingPage` returns them (a json array of [set, version, digest]). */
export function stateRowsOf(value: unknown): Map<string, { version: number; digest: string }> {
  const list = (typeof value === 'string' ? JSON.parse(value) : (value ?? [])) as Array<[string, number, string]>;
  return new Map(list.map(([set, version, digest]) => [set, { version: Number(version), digest: String(digest) }]));
}

/** The json array of a tenant's summary rows, for `stateRowsOf`. */
export function stateColumn(state: string): string {
  return `(select json_agg(json_build_array(s.migration_set, s.version, s.checksum_digest))
   from ${state} s where s.schema_name = t.schema_name) as state`;
}

/** One keyset page of tenants after `last` (pending ones, or all with `all`), with their summary rows, by slug. */
export function pendingPage(
  source: string,
  sets: readonly SetTarget[],
  last: string,
  limit: number,
  options: { slugs?: readonly string[]; state?: string; all?: boolean } = {},
): Statement {
  const state = options.state ?? STATE_TABLE;
  const tracked = options.all
    ? ",\n  to_regclass(quote_ident(t.schema_name) || '.schema_migrations') is not null as tracked"
    : '';
  return {
    text: `${fleetHead(source, state)}
select t.slug, t.schema_name, ${PENDING} as pending, ${stateColumn(state)}${tracked}
from t left join c on c.schema_name = t.schema_name
where t.slug > $6${options.all ? '' : ` and ${PENDING}`}
order by t.slug
limit $7`,
    values: [...headValues(sets, options.slugs), last, limit],
  };
}

/**
 * The keyset page loop: `page(last)` is a statement for the rows after slug `last`, at most `pageSize` of
 * them, ordered by slug. Yields each page's rows until a short page.
 */
export async function* keysetPages(
  driver: Driver,
  pageSize: number,
  page: (last: string) => Statement,
): AsyncGenerator<Record<string, unknown>[]> {
  let last = '';
  for (;;) {
    const { rows } = await driver.query(page(last));
    yield rows;
    if (rows.length < pageSize) return;
    last = String(rows.at(-1)!.slug);
  }
}
