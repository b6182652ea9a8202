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

/**
 * The one rule for "this tenant has something pending", over the summary row `s` (left-joined): no row, or a
 * version or digest other than the files' latest (`version`, `digest`: SQL, usually parameters). A tenant
 * migrated by a newer release, or whose applied file changed, is pending too; its run then refuses it with
 * the precise error.
 */
function pendingCondition(version: string, digest: string): string {
  return `s.schema_name is null or s.version <> ${version} or s.checksum_digest <> ${digest}`;
}

/** How many tenants there are and how many have something pending: one query, whatever the fleet's size. */
export async function countFleet(driver: Driver, source: string, latest: number, digest: string, state = STATE_TABLE) {
  const { rows } = await driver.query({
    text: `with t as (${source})
select count(*)::int as total,
       count(*) filter (where ${pendingCondition('$1', '$2')})::int as pending
from t left join ${state} s on s.schema_name = t.schema_name`,
    values: [latest, digest],
  });
  return { total: Number(rows[0]?.total ?? 0), pending: Number(rows[0]?.pending ?? 0) };
}

/** One keyset page of pending tenants after `last`, with their summary rows, ordered by slug. */
export function pendingPage(
  source: string,
  latest: number,
  digest: string,
  last: string,
  limit: number,
  state = STATE_TABLE,
): Statement {
  return {
    text: `with t as (${source})
select t.slug, t.schema_name, s.version, s.checksum_digest
from t left join ${state} s on s.schema_name = t.schema_name
where t.slug > $1 and (${pendingCondition('$2', '$3')})
order by t.slug
limit $4`,
    values: [last, latest, digest, limit],
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
