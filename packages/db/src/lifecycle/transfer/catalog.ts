import type { Transaction } from '../../drivers/types.js';
import { quoteIdentifier } from '../../sql/identifier.js';
import type { ExportTable } from './format.js';

/**
 * What an export reads of the catalog: the relations of ONE schema (its tables, their columns, its
 * sequences), by that schema's namespace, and the few platform tables by name. Never a listing of every
 * schema, table or privilege in the database (what makes `pg_dump -n` slow among thousands of tenants).
 */

/**
 * The platform tables that hold rows of one organization (by `organization_id`), in an order their foreign
 * keys allow loading: an export carries the tenant's rows of each one present.
 */
export const PLATFORM_TABLES = ['users', 'sessions', 'api_keys', 'billing'] as const;

/** The tenant schema's tables (bookkeeping excluded) with their stored columns, and its sequences. */
export async function tenantCatalog(tx: Transaction, schema: string): Promise<{ tables: ExportTable[]; sequences: string[] }> {
  const { rows } = await tx.query({
    text: `select c.relname::text as name, c.relkind::text as kind,
      array(select a.attname::text from pg_attribute a
            where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
            order by a.attnum) as columns
    from pg_class c
    where c.relnamespace = to_regnamespace($1) and c.relkind in ('r', 'p', 'S') and not c.relispartition
    order by c.relname`,
    values: [schema],
  });
  const tables: ExportTable[] = [];
  const sequences: string[] = [];
  for (const row of rows) {
    const name = String(row.name);
    if (row.kind === 'S') sequences.push(name);
    else if (name !== 'schema_migrations') tables.push({ name, kind: 'tenant', columns: row.columns as string[] });
  }
  return { tables, sequences };
}

/** The platform tables present in this database with their stored columns (each must have `organization_id`). */
export async function platformCatalog(tx: Transaction): Promise<ExportTable[]> {
  const { rows } = await tx.query({
    text: `select t.name, array(select a.attname::text from pg_attribute a
            where a.attrelid = to_regclass('public.' || t.name) and a.attnum > 0 and not a.attisdropped
              and a.attgenerated = '' order by a.attnum) as columns
    from unnest($1::text[]) with ordinality as t(name, n)
    where to_regclass('public.' || t.name) is not null order by t.n`,
    values: [PLATFORM_TABLES],
  });
  return rows
    .map((r) => ({ name: `public.${String(r.name)}`, kind: 'platform' as const, columns: r.columns as string[] }))
    .filter((t) => t.columns.includes('organization_id'));
}

/** `"a", "b"`: a column list, each name checked as an identifier. */
export function columnList(columns: readonly string[]): string {
  return columns.map(quoteIdentifier).join(', ');
}

/** The qualified name of an export table in `schema` (tenant tables) or in public. */
export function qualified(table: ExportTable, schema: string): string {
  if (table.kind === 'platform') return `public.${quoteIdentifier(table.name.slice('public.'.length))}`;
  return `${quoteIdentifier(schema)}.${quoteIdentifier(table.name)}`;
}
