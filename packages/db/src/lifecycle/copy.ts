import type { Transaction } from '../drivers/types.js';
import { CgkError } from '../errors/index.js';
import { schemaNameFor } from '../sql/identifier.js';

/**
 * A clone's rows: every table of the source tenant copied into the new one inside the creation transaction,
 * server-side (`insert ... select`, nothing travels to the client), then its sequences continued.
 */

interface TableShape {
  table: string;
  /** The writable columns, quoted by the server (`quote_ident`), in order; generated columns are left out. */
  columns: string;
  /**
   * The same columns as read from the source: a column whose type (or element type) is the tenant's own (an
   * enum of its schema) is cast through text to the target's type of that name.
   */
  selects: string;
  identity: boolean;
  insertTriggers: boolean;
}

/** Tables (not partitions: rows go through their parent) with their writable columns, as the server quotes them. */
const SHAPE_SQL = `select c.relname::text as table,
  string_agg(quote_ident(a.attname), ', ' order by a.attnum) filter (where a.attgenerated = '') as columns,
  string_agg(case when t.typnamespace = n.oid or e.typnamespace = n.oid
                  then quote_ident(a.attname) || '::text::' || format_type(a.atttypid, a.atttypmod)
                  else quote_ident(a.attname) end, ', ' order by a.attnum) filter (where a.attgenerated = '') as selects,
  bool_or(a.attidentity = 'a') as identity,
  exists (select 1 from pg_trigger t where t.tgrelid = c.oid and not t.tgisinternal and t.tgtype & 4 <> 0) as insert_triggers
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
join pg_type t on t.oid = a.atttypid
left join pg_type e on e.oid = t.typelem and t.typelem <> 0
where n.nspname = $1 and c.relkind in ('r', 'p') and not c.relispartition
group by c.oid, c.relname
order by c.relname`;

async function shapes(tx: Transaction, schema: string): Promise<TableShape[]> {
  const { rows } = await tx.query({ text: SHAPE_SQL, values: [schema] });
  return rows.map((r) => ({
    table: String(r.table),
    columns: String(r.columns ?? ''),
    selects: String(r.selects ?? ''),
    identity: r.identity === true,
    insertTriggers: r.insert_triggers === true,
  }));
}

/**
 * Checks that tenant `to` (just built by the migrations the source has applied) has exactly the tables and
 * columns of tenant `from`; throws `CgkError` `CGK_CLONE_SOURCE` naming the differences otherwise (tables
 * made by hand are not cloned silently). Resolves to the target's tables, for `copyRows`.
 */
export async function sameTables(tx: Transaction, from: string, to: string): Promise<TableShape[]> {
  const [source, target] = [await shapes(tx, schemaNameFor(from)), await shapes(tx, schemaNameFor(to))];
  const describe = (list: TableShape[]) => new Set(list.map((t) => `${t.table}(${t.columns})`));
  const [a, b] = [describe(source), describe(target)];
  const extra = [...a].filter((t) => !b.has(t));
  const missing = [...b].filter((t) => !a.has(t));
  if (extra.length > 0 || missing.length > 0) {
    const differs = [...extra.map((t) => `only in ${from}: ${t}`), ...missing.map((t) => `only in the migrations: ${t}`)];
    throw new CgkError('CGK_CLONE_SOURCE', `Tenant "${from}" has tables its migrations did not make: ${differs.join('; ')}`, {
      hint:
        'A clone is built by the migrations and filled from the source: ' +
        `put those tables in a migration, or drop them from tenant_${from}.`,
    });
  }
  return target;
}

/**
 * Copies every row of tenant `from` into tenant `to` in ONE statement (one snapshot: the copy is consistent
 * even while the source is written, and foreign keys are checked at its end, so the order of the tables does
 * not matter), then continues each sequence where the source's stands. Insert triggers of the target (none
 * in the platform's template) are disabled for the copy: the rows are copies, not new events.
 */
export async function copyRows(tx: Transaction, from: string, to: string, tables: readonly TableShape[]): Promise<void> {
  const [source, target] = [schemaNameFor(from), schemaNameFor(to)];
  const copied = tables.filter((t) => t.table !== 'schema_migrations' && t.columns !== '');
  const triggered = copied.filter((t) => t.insertTriggers).map((t) => `${target}.${quote(t.table)}`);
  if (triggered.length > 0) await tx.exec(triggered.map((t) => `alter table ${t} disable trigger user`).join(';\n'));
  if (copied.length > 0) {
    const ctes = copied.map(
      (t, i) =>
        `c${i} as (insert into ${target}.${quote(t.table)} (${t.columns})${t.identity ? ' overriding system value' : ''}
  select ${t.selects} from ${source}.${quote(t.table)})`,
    );
    await tx.query({ text: `with ${ctes.join(',\n')}\nselect 1` });
  }
  if (triggered.length > 0) await tx.exec(triggered.map((t) => `alter table ${t} enable trigger user`).join(';\n'));
  await continueSequences(tx, source, target);
}

/** Every sequence of the target set to where the source's of the same name stands (`last_value`, `is_called`). */
async function continueSequences(tx: Transaction, source: string, target: string): Promise<void> {
  const { rows } = await tx.query({
    text: `select quote_ident(c.relname) as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = $1 and c.relkind = 'S' order by c.relname`,
    values: [target],
  });
  if (rows.length === 0) return;
  const names = rows.map((r) => String(r.name));
  const sets = names.map((name, i) => `setval('${target}.${name.replace(/'/g, "''")}', s${i}.last_value, s${i}.is_called)`);
  const froms = names.map((name, i) => `${source}.${name} s${i}`);
  await tx.query({ text: `select ${sets.join(', ')} from ${froms.join(', ')}` });
}

/** A table name as PostgreSQL prints it quoted; names here come from the catalog of a schema our migrations made. */
function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
