import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Transaction } from '../../drivers/types.js';
import { normalizeDriverError } from '../../drivers/errors.js';
import { quoteIdentifier } from '../../sql/identifier.js';
import { columnList, qualified } from './catalog.js';
import type { TransferConnection } from './connection.js';
import { ExportFileError } from './errors.js';
import type { ExportManifest, ExportTable, TableManifest } from './format.js';
import type { ExportSink } from './read.js';

/**
 * Loading rows into a freshly migrated tenant schema, the way pg_restore does it: the schema's keys, indexes and
 * foreign keys are set aside (their definitions kept) and its triggers disabled while COPY writes the rows,
 * then built again once over all the rows (one index build instead of a million insertions, one validating
 * join per foreign key instead of a lookup per row). All inside the import's transaction.
 */

/**
 * Drops the keys, indexes and foreign keys of the tables of `schema` (bookkeeping excepted) and disables their
 * user triggers; resolves to the script that restores them all. Reads only that schema's catalog rows.
 */
export async function setAsideSchemaObjects(tx: Transaction, schema: string): Promise<string> {
  const { rows } = await tx.query({
    text: `with t as (
      select oid, relname from pg_class
      where relnamespace = to_regnamespace($1) and relkind in ('r', 'p') and relname <> 'schema_migrations'
    )
    select 'constraint' as what, c.contype::text as type, t.relname::text as tbl, c.conname::text as name,
           pg_get_constraintdef(c.oid) as def, obj_description(c.oid, 'pg_constraint') as comment
      from pg_constraint c join t on t.oid = c.conrelid where c.contype in ('p', 'u', 'x', 'f')
    union all
    select 'index', '', t.relname::text, i.relname::text, pg_get_indexdef(x.indexrelid), obj_description(i.oid, 'pg_class')
      from pg_index x join t on t.oid = x.indrelid join pg_class i on i.oid = x.indexrelid
      where not exists (select 1 from pg_constraint c where c.conindid = x.indexrelid and c.contype in ('p', 'u', 'x')
                          and c.conrelid = x.indrelid)
    union all
    select 'table', '', relname::text, relname::text, '', null from t`,
    values: [schema],
  });
  const s = quoteIdentifier(schema);
  const on = (table: unknown) => `${s}.${quoteIdentifier(String(table))}`;
  const fks = rows.filter((r) => r.what === 'constraint' && r.type === 'f');
  const keys = rows.filter((r) => r.what === 'constraint' && r.type !== 'f');
  const indexes = rows.filter((r) => r.what === 'index');
  const tables = rows.filter((r) => r.what === 'table');
  const drop = [
    ...fks.map((r) => `alter table ${on(r.tbl)} drop constraint ${quoteIdentifier(String(r.name))}`),
    ...keys.map((r) => `alter table ${on(r.tbl)} drop constraint ${quoteIdentifier(String(r.name))}`),
    ...indexes.map((r) => `drop index ${s}.${quoteIdentifier(String(r.name))}`),
    ...tables.map((r) => `alter table ${on(r.tbl)} disable trigger user`),
  ];
  const comment = (kind: string, r: Record<string, unknown>) =>
    typeof r.comment === 'string' ? [`comment on ${kind} ${literal(r.comment)}`] : [];
  const restore = [
    ...keys.flatMap((r) => [
      `alter table ${on(r.tbl)} add constraint ${quoteIdentifier(String(r.name))} ${String(r.def)}`,
      ...comment(`constraint ${quoteIdentifier(String(r.name))} on ${on(r.tbl)} is`, r),
    ]),
    ...indexes.flatMap((r) => [String(r.def), ...comment(`index ${s}.${quoteIdentifier(String(r.name))} is`, r)]),
    ...fks.flatMap((r) => [
      `alter table ${on(r.tbl)} add constraint ${quoteIdentifier(String(r.name))} ${String(r.def)}`,
      ...comment(`constraint ${quoteIdentifier(String(r.name))} on ${on(r.tbl)} is`, r),
    ]),
    ...tables.map((r) => `alter table ${on(r.tbl)} enable trigger user`),
  ];
  if (drop.length > 0) await tx.exec(drop.join(';\n'));
  return restore.join(';\n');
}

/** A string literal for a comment's text (standard_conforming_strings: only quotes are doubled). */
function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * The import's sink: COPY each table's rows into `schema` (platform tables into public, unless `platform` is
 * false: then they are read, checked and left out), and check each table against the manifest verified by
 * the first read, so a file changed between the two reads is refused before the transaction commits.
 */
export function copyLoader(
  conn: TransferConnection,
  file: string,
  schema: string,
  manifest: ExportManifest,
  platform: boolean,
): ExportSink & { loaded: number } {
  let stream: (Writable & { rowCount?: number }) | undefined;
  let index = 0;
  const loader = {
    loaded: 0,
    async startTable(table: ExportTable) {
      stream = undefined;
      if (table.kind === 'platform' && !platform) return;
      stream = await conn.copyIn(`copy ${qualified(table, schema)} (${columnList(table.columns)}) from stdin`);
      stream.on('error', () => {});
    },
    async data(chunk: Buffer) {
      if (stream && !stream.write(chunk)) await once(stream, 'drain');
    },
    async endTable(table: ExportTable, content: TableManifest) {
      const expected = manifest.tables[index++];
      if (!expected || expected.name !== content.name || expected.sha256 !== content.sha256 || expected.rows !== content.rows) {
        stream?.destroy();
        throw new ExportFileError(file, 'checksum', `table ${table.name} changed since the file was verified`);
      }
      if (!stream) return;
      stream.end();
      await finished(stream).catch((error: unknown) => {
        throw normalizeDriverError(error, conn.target);
      });
      if (stream.rowCount !== content.rows) {
        throw new ExportFileError(
          file,
          'checksum',
          `table ${table.name}: ${String(stream.rowCount)} rows loaded, ${content.rows} expected`,
        );
      }
      loader.loaded += content.rows;
    },
  };
  return loader;
}
