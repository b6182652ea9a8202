import { readExport } from './read.js';
import type { ExportHeader, ExportManifest } from './format.js';

/**
 * Reads an export file through and checks it (gzip stream, frames, every table's rows, size and SHA-256
 * against the manifest, the manifest against its checksum) without touching any database. Resolves to its
 * header and manifest; throws `ExportFileError` for a file cut short, edited or not an export.
 *
 * @example
 * const { manifest } = await verifyTenantExport('acme.cgk');
 */
export async function verifyTenantExport(file: string): Promise<{ header: ExportHeader; manifest: ExportManifest }> {
  const { header, manifest } = await readExport(file);
  return { header, manifest };
}
