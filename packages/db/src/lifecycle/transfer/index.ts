/**
 * A tenant's data as a file: `exportTenant` (export.ts), `importTenant` (import.ts), `verifyTenantExport`
 * (read.ts: a file checked through without loading it) and `moveTenant` (move.ts). The file's format is in
 * format.ts; the catalog reads of one schema in catalog.ts; loading the way pg_restore does in load.ts.
 */
export { exportTenant, type ExportTenantOptions, type ExportTenantResult } from './export.js';
export { importTenant, type ImportTenantOptions, type ImportTenantResult } from './import.js';
export { ExportFileError, ExportIncompatibleError, TransferUnsupportedError, type ExportFileProblem } from './errors.js';
export type { ExportHeader, ExportManifest, ExportTable, TableManifest } from './format.js';
export { verifyTenantExport } from './verify.js';
export { moveTenant, type MoveTenantOptions, type MoveTenantResult } from './move.js';
