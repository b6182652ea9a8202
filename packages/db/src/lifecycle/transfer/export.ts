import { createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { getDatabase } from '../../database/database.js';
import type { Transaction } from '../../drivers/types.js';
import { ConfigError, TenantNotFoundError } from '../../errors/index.js';
import { assertValidSlug, quoteIdentifier, schemaNameFor } from '../../sql/identifier.js';
import type { LifecycleOptions } from '../tenants.js';
import { columnList, platformCatalog, qualified, tenantCatalog } from './catalog.js';
import { openTransferConnection, type TransferConnection } from './connection.js';
import {
  DATA_FRAME_BYTES,
  FORMAT,
  FORMAT_VERSION,
  FrameWriter,
  sha256,
  TableDigest,
  type AppliedMigration,
  type ExportHeader,
  type ExportManifest,
  type ExportTable,
  type TableManifest,
} from './format.js';

/** Options of exportTenant(). */
export interface ExportTenantOptions extends LifecycleOptions {
  /** The file to write. It is written as `<out>.partial` and renamed when complete: `out` is never half a file. */
  out: string;
  /** gzip level, 0 (none) to 9; default 1 (fast: the rows are repetitive, level 1 already shrinks them ~5x). */
  compressionLevel?: number;
}

/** What exportTenant() wrote. */
export interface ExportTenantResult {
  file: string;
  /** The file's size in bytes (compressed). */
  bytes: number;
  manifest: ExportManifest;
  durationMs: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Writes tenant `slug` to one file: its registry row (secrets as stored: ciphertext, never decrypted), the
 * migrations applied to its schema (with checksums), the rows of every table of its schema and its
 * organization's rows in the platform tables (users, sessions, api_keys, billing), as PostgreSQL COPY text
 * streamed through gzip, and a manifest with row counts and SHA-256 checksums. Everything is read in ONE
 * read-only REPEATABLE READ transaction: one snapshot, consistent across tables while writes go on, which
 * blocks no writer. Memory stays flat whatever the tenant's size (streams with backpressure). Reads only the
 * tenant schema's catalog rows. Throws `TenantNotFoundError` for an unknown tenant (no file is left),
 * `TransferUnsupportedError` on the embedded database.
 *
 * @example
 * const { manifest } = await exportTenant('acme', { out: 'acme.cgk' });
 */
export async function exportTenant(slug: string, options: ExportTenantOptions): Promise<ExportTenantResult> {
  assertValidSlug(slug);
  const level = options.compressionLevel ?? 1;
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new ConfigError(`compressionLevel must be an integer from 0 to 9, not ${String(level)}`);
  }
  const started = performance.now();
  const conn = await openTransferConnection(options.db ?? getDatabase(), 'Exporting a tenant');
  try {
    const tx = await conn.begin('isolation level repeatable read, read only');
    try {
      const written = await writeExport(conn, tx, slug, options.out, level);
      await tx.commit();
      return { ...written, durationMs: performance.now() - started };
    } catch (error) {
      await tx.rollback().catch(() => {});
      throw error;
    }
  } finally {
    await conn.end();
  }
}

/**
 * Writes the export of `slug` from the snapshot of `tx` (a REPEATABLE READ transaction on `conn`) to `file`.
 * Used by exportTenant and by moveTenant (whose transaction also holds the tenant's tables locked).
 */
export async function writeExport(
  conn: TransferConnection,
  tx: Transaction,
  slug: string,
  file: string,
  level: number,
): Promise<{ file: string; bytes: number; manifest: ExportManifest }> {
  const header = await readHeader(tx, slug);
  const partial = `${file}.partial`;
  const gzip = createGzip({ level, chunkSize: 64 * 1024 });
  const sink = createWriteStream(partial);
  gzip.pipe(sink);
  const done = finished(sink);
  done.catch(() => {});
  try {
    const writer = new FrameWriter(gzip);
    await writer.start();
    const headerBytes = await writer.json('H', header);
    const tables: TableManifest[] = [];
    for (const table of header.tables) tables.push(await writeTable(conn, writer, table, header));
    const manifest: ExportManifest = {
      format: FORMAT,
      version: FORMAT_VERSION,
      slug,
      exportedAt: header.exportedAt,
      header: { sha256: sha256(headerBytes), bytes: headerBytes.length },
      tables,
      totalRows: tables.reduce((sum, t) => sum + t.rows, 0),
    };
    const manifestBytes = await writer.json('M', manifest);
    await writer.frame('Z', Buffer.from(sha256(manifestBytes)));
    gzip.end();
    await done;
    await rename(partial, file);
    return { file, bytes: (await stat(file)).size, manifest };
  } catch (error) {
    gzip.destroy();
    sink.destroy();
    await rm(partial, { force: true });
    throw error;
  }
}

/** The header: registry row, applied migrations, tables and sequences, all from the transaction's snapshot. */
async function readHeader(tx: Transaction, slug: string): Promise<ExportHeader> {
  const schema = schemaNameFor(slug);
  const { rows } = await tx.query({
    text: `select (select row_to_json(o)::text from public.organizations o where o.slug = $1) as organization,
      to_regnamespace($2) is not null as found, current_setting('server_version') as server_version,
      to_regclass('public.schema_migrations') is not null as public_tracked, now() as now`,
    values: [slug, schema],
  });
  const info = rows[0];
  if (!info?.found || typeof info.organization !== 'string') throw new TenantNotFoundError(slug);
  const organization = JSON.parse(info.organization) as Record<string, unknown>;
  if (typeof organization.id !== 'string' || !UUID.test(organization.id)) throw new TenantNotFoundError(slug);
  const catalog = await tenantCatalog(tx, schema);
  const sequences: ExportHeader['sequences'] = [];
  for (const name of catalog.sequences) {
    const { rows: seq } = await tx.query({
      text: `select last_value::text as last_value, is_called from ${quoteIdentifier(schema)}.${quoteIdentifier(name)}`,
    });
    sequences.push({ name, lastValue: String(seq[0]?.last_value), isCalled: seq[0]?.is_called === true });
  }
  return {
    format: FORMAT,
    version: FORMAT_VERSION,
    slug,
    schema,
    exportedAt: (info.now as Date).toISOString(),
    serverVersion: String(info.server_version),
    organization,
    migrations: {
      tenant: await appliedMigrations(tx, quoteIdentifier(schema)),
      public: info.public_tracked ? await appliedMigrations(tx, 'public') : [],
    },
    tables: [...catalog.tables, ...(await platformCatalog(tx))],
    sequences,
  };
}

async function appliedMigrations(tx: Transaction, schema: string): Promise<AppliedMigration[]> {
  const { rows } = await tx.query({ text: `select version, name, checksum from ${schema}.schema_migrations order by version` });
  return rows.map((r) => ({ version: Number(r.version), name: String(r.name), checksum: String(r.checksum) }));
}

/** COPY one table out into `T` and `D` frames, hashing and counting as the bytes pass. */
async function writeTable(
  conn: TransferConnection,
  writer: FrameWriter,
  table: ExportTable,
  header: ExportHeader,
): Promise<TableManifest> {
  await writer.json('T', { name: table.name });
  const digest = new TableDigest();
  const stream = await conn.copyOut(copyOutSql(table, header));
  let pending: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    digest.update(chunk);
    pending.push(chunk);
    size += chunk.length;
    if (size >= DATA_FRAME_BYTES) {
      await writer.frame('D', Buffer.concat(pending, size));
      pending = [];
      size = 0;
    }
  }
  if (size > 0) await writer.frame('D', Buffer.concat(pending, size));
  return { name: table.name, kind: table.kind, rows: digest.rows, bytes: digest.bytes, sha256: digest.digest() };
}

function copyOutSql(table: ExportTable, header: ExportHeader): string {
  const source = qualified(table, header.schema);
  const columns = columnList(table.columns);
  if (table.kind === 'platform') {
    // The id was checked against the uuid pattern in readHeader: safe to write as a literal.
    return `copy (select ${columns} from ${source} where organization_id = '${String(header.organization.id)}') to stdout`;
  }
  return `copy (select ${columns} from ${source}) to stdout`;
}
