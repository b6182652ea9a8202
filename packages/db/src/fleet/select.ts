import type { Driver, Statement } from '../drivers/types.js';
import { assertValidSlug, schemaNameFor } from '../sql/identifier.js';
import { keysetPages, tenantSourceSql } from '../migrations/fleet-source.js';
import type { FleetSelection } from './types.js';

/**
 * The tenants a fleet run covers, as SQL: counted in one query and streamed in keyset pages (`slug > $last
 * order by slug limit $page`, never OFFSET), on the listing the migrations use (migrations/fleet-source.ts).
 */

/** A selected tenant; `schema` null for a listed slug that is not a tenant (no registry row or no schema). */
export interface SelectedTenant {
  slug: string;
  schema: string | null;
}

/** The selection's slugs validated and deduplicated (a bad slug throws `InvalidSlugError`, before any SQL). */
export function normalizeSelection(selection: FleetSelection): FleetSelection {
  const out: FleetSelection = {};
  if (selection.source !== undefined) out.source = selection.source;
  if (selection.status !== undefined) out.status = selection.status;
  if (selection.tenants !== undefined) out.tenants = [...new Set(selection.tenants.map((s) => assertValidSlug(s)))].sort();
  return out;
}

/** The FROM and WHERE of a selection, with its parameters; `skipSucceededIn`: a run whose successes are left out. */
function selectionSql(selection: FleetSelection, skipSucceededIn?: string) {
  const values: unknown[] = [];
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  const listed = selection.tenants !== undefined;
  const slug = listed ? 'w.slug' : 't.slug';
  let from = listed ? `unnest(${param(selection.tenants)}::text[]) as w(slug) left join t on t.slug = w.slug` : 't';
  const where: string[] = [];
  if (selection.status !== undefined) {
    from += ' left join public.organizations o on o.slug = t.slug';
    const status = `o.status = ${param(selection.status)}::public.organization_status`;
    // A listed slug that is no tenant stays, to be reported as not found.
    where.push(listed ? `(t.slug is null or ${status})` : status);
  }
  if (skipSucceededIn !== undefined) {
    where.push(`not exists (select 1 from public.fleet_run_tenants d
  where d.run_id = ${param(skipSucceededIn)}::uuid and d.slug = ${slug} and d.status = 'succeeded')`);
  }
  const head = `with t as (${tenantSourceSql(selection.source ?? 'organizations')})`;
  return { head, from, where, values, slug, param };
}

/** How many tenants the selection holds (less the successes of `skipSucceededIn`): one query. */
export async function countSelected(driver: Driver, selection: FleetSelection, skipSucceededIn?: string): Promise<number> {
  const { head, from, where, values } = selectionSql(selection, skipSucceededIn);
  const text = `${head}\nselect count(*)::int as n from ${from}${where.length ? ` where ${where.join(' and ')}` : ''}`;
  const { rows } = await driver.query({ text, values });
  return Number(rows[0]?.n ?? 0);
}

/** The selected tenants in slug order, streamed page by page (memory stays that of one page). */
export async function* selectedTenants(
  driver: Driver,
  selection: FleetSelection,
  pageSize: number,
  skipSucceededIn?: string,
): AsyncGenerator<SelectedTenant> {
  const page = (last: string): Statement => {
    const parts = selectionSql(selection, skipSucceededIn);
    const where = [`${parts.slug} > ${parts.param(last)}`, ...parts.where];
    const limit = parts.param(pageSize);
    return {
      text: `${parts.head}
select ${parts.slug} as slug, t.schema_name from ${parts.from}
where ${where.join(' and ')}
order by ${parts.slug}
limit ${limit}`,
      values: parts.values,
    };
  };
  for await (const rows of keysetPages(driver, pageSize, page)) {
    for (const row of rows) {
      const slug = String(row.slug);
      yield { slug, schema: row.schema_name == null ? null : String(row.schema_name) };
    }
  }
}

/** The schema a selected tenant is run in: its own, or (not a tenant) the one it would have. */
export function schemaOf(tenant: SelectedTenant): string {
  return tenant.schema ?? schemaNameFor(tenant.slug);
}
