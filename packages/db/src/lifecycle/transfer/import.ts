import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getDatabase, type Database } from '../../database/database.js';
import type { Transaction } from '../../drivers/types.js';
import { QueryError, TenantExistsError, TransactionAbortedError } from '../../errors/index.js';
import { loadMigrations, type Migration } from '../../migrations/files.js';
import { migrateTenantInTransaction } from '../../migrations/runner.js';
import { DEFAULT_TENANT_DIR } from '../../migrations/types.js';
import { grantTenantRoleSql, revokeBookkeepingSql } from '../../roles/tenant-role.js';
import { assertValidSlug, quoteIdentifier, schemaNameFor } from '../../sql/identifier.js';
import { getTenant } from '../tenants.js';
import { grantOptions, type LifecycleOptions, type TenantRecord, type TenantStatus } from '../registry.js';
import { openTransferConnection, serverUrl } from './connection.js';
import { ExportIncompatibleError } from './errors.js';
import type { ExportHeader, ExportManifest } from './format.js';
import { copyLoader, setAsideSchemaObjects } from './load.js';
import { readExport, type VerifiedExport } from './read.js';

/** Options of importTenant(). */
export interface ImportTenantOptions extends LifecycleOptions {
  /** The new tenant's slug; default the exported tenant's. */
  as?: string;
  /** The new tenant's status; default the exported one. */
  status?: TenantStatus;
  /** Directory of tenant migrations; the package's own by default. */
  tenantDir?: string | URL;
  /** @internal moveTenant: the organization must keep its id (and its platform rows), or nothing is written. */
  keepId?: boolean;
}

/** What importTenant() did. */
export interface ImportTenantResult {
  tenant: TenantRecord;
  /** Rows loaded, every table together (platform rows included when they were loaded). */
  rows: number;
  /** Migrations newer than the export, applied after loading. */
  migrationsForward: number;
  /**
   * Whether the organization kept its id (and so its platform rows: users, sessions, api_keys, billing, and
   * its Shopify and Stripe identities). False when the id is taken in this database (a copy beside the
   * original): the copy gets a new id and none of those.
   */
  organizationIdKept: boolean;
  manifest: ExportManifest;
  durationMs: number;
}

/**
 * Loads an export file as a new tenant (`as`, default the exported slug), all or nothing: the file is first
 * read through and verified (checksums, row counts, manifest): a truncated or edited file throws
 * `ExportFileError` before anything is written. Then, in ONE transaction: the registry row, the schema with
 * the migrations the export had, the rows (COPY; keys, indexes and foreign keys built after), the tenant's
 * own role and grants (as createTenant makes them), then the migrations newer than the export. The rows
 * are checked against the manifest again as they load. Throws `ExportIncompatibleError` when this database's
 * tenant migrations are older than the export's or differ from them, `TenantExistsError` when the slug is
 * taken, `TransferUnsupportedError` on the embedded database.
 *
 * @example
 * const { tenant, rows } = await importTenant('acme.cgk', { as: 'acme_restored' });
 */
export async function importTenant(file: string, options: ImportTenantOptions = {}): Promise<ImportTenantResult> {
  const as = options.as === undefined ? undefined : assertValidSlug(options.as);
  const started = performance.now();
  const db = options.db ?? getDatabase();
  serverUrl(db, 'Importing a tenant');
  const verified = await readExport(file);
  const slug = as ?? verified.header.slug;
  const plan = await planMigrations(verified.header, options.tenantDir ?? DEFAULT_TENANT_DIR);
  const conn = await openTransferConnection(db, 'Importing a tenant');
  try {
    const tx = await conn.begin('isolation level read committed');
    let outcome: Omit<ImportTenantResult, 'tenant' | 'durationMs' | 'manifest'>;
    try {
      await checkPublicMigrations(tx, verified.header);
      const kept = await insertOrganization(tx, verified.header, slug, options);
      await createSchema(tx, db, slug);
      await migrateTenantInTransaction(tx, slug, { tenantDir: plan.exportedDir });
      const restore = await setAsideSchemaObjects(tx, schemaNameFor(slug));
      const loader = copyLoader(conn, file, schemaNameFor(slug), verified.manifest, kept);
      const second = await readExport(file, loader);
      if (second.headerSha256 !== verified.headerSha256) throw changed(file);
      if (restore) await tx.exec(restore);
      await restoreSequences(tx, slug, verified.header);
      const forward = plan.forward ? await migrateTenantInTransaction(tx, slug, { tenantDir: plan.dir }) : 0;
      if (db.tenantRoles) await tx.exec(revokeBookkeepingSql(slug));
      if ((await tx.commit()) === 'ROLLBACK') throw new TransactionAbortedError(slug, undefined, 'tenant import');
      outcome = { rows: loader.loaded, migrationsForward: forward, organizationIdKept: kept };
    } catch (error) {
      await tx.rollback().catch(() => {});
      throw error;
    }
    const tenant = await getTenant(slug, { db });
    if (!tenant) throw new QueryError(`Tenant ${slug} is missing right after its import`);
    return { tenant, ...outcome, manifest: verified.manifest, durationMs: performance.now() - started };
  } finally {
    await conn.end();
    if (plan.forward) await rm(plan.exportedDir, { recursive: true, force: true });
  }
}

function changed(file: string): Error {
  return new ExportIncompatibleError(`${file} changed while it was being imported`, 'Nothing was written. Import it again.');
}

/**
 * The export's tenant migrations must be this database's first N files, checksum for checksum. When the files
 * go further, the first N are copied to a temporary directory (the schema is built as the export had it, the
 * rows loaded, and the rest applied after).
 */
async function planMigrations(header: ExportHeader, dir: string | URL) {
  const files = await loadMigrations(dir);
  const exported = header.migrations.tenant;
  if (exported.length > files.length) {
    throw new ExportIncompatibleError(
      `The export has ${exported.length} tenant migrations applied, this database's files only ${files.length}`,
      'Upgrade @cgk/db (or add the missing migration files) on the importing side, then import again.',
    );
  }
  exported.forEach((m, i) => {
    const file = files[i] as Migration;
    if (m.version !== file.version || m.checksum !== file.checksum) {
      throw new ExportIncompatibleError(
        `Tenant migration ${m.version} (${m.name}) of the export is not this database's ${file.filename} (checksums differ)`,
        'Import with the same migration files the tenant was exported with (same @cgk/db version or newer).',
      );
    }
  });
  if (exported.length === files.length) return { dir, exportedDir: dir, forward: false };
  const exportedDir = await mkdtemp(join(tmpdir(), 'cgk-import-'));
  for (const file of files.slice(0, exported.length)) {
    await copyFile(file.path, join(exportedDir, file.filename)).catch(() =>
      writeFile(join(exportedDir, file.filename), file.sql),
    );
  }
  return { dir, exportedDir, forward: true };
}

/** Platform rows need this database's public migrations to be the export's or newer. */
async function checkPublicMigrations(tx: Transaction, header: ExportHeader): Promise<void> {
  const { rows } = await tx.query({ text: 'select version, checksum from public.schema_migrations order by version' });
  const here = new Map(rows.map((r) => [Number(r.version), String(r.checksum)]));
  for (const m of header.migrations.public) {
    const checksum = here.get(m.version);
    if (checksum === undefined || checksum !== m.checksum) {
      throw new ExportIncompatibleError(
        `Public migration ${m.version} (${m.name}) of the export is ${checksum === undefined ? 'not applied' : 'different'} here`,
        'Run npx @cgk/cli migrate (or setup:database) on the importing database with the same or a newer @cgk/db.',
      );
    }
  }
}

/**
 * The registry row, from the exported one (secrets as they were: ciphertext). Keeps the organization's id
 * when it is free here; otherwise a new id, without the identities only one organization may hold.
 */
async function insertOrganization(tx: Transaction, header: ExportHeader, slug: string, options: ImportTenantOptions) {
  const row: Record<string, unknown> = { ...header.organization, slug, ...(options.status ? { status: options.status } : {}) };
  const { rows } = await tx.query({
    text: 'select exists (select 1 from public.organizations where id = $1::uuid) as taken',
    values: [String(row.id)],
  });
  const kept = rows[0]?.taken !== true;
  if (!kept && options.keepId) {
    throw new ExportIncompatibleError(
      `Organization ${String(row.id)} already exists in the target database (under another slug)`,
      'A move keeps the organization id; drop or rename the other tenant there first.',
    );
  }
  if (!kept) for (const column of ['id', 'shopify_store_domain', 'shopify_access_token', 'stripe_account_id']) delete row[column];
  const columns = Object.keys(row).map(quoteIdentifier).join(', ');
  await tx
    .query({
      text: `insert into public.organizations (${columns})
             select ${columns} from jsonb_populate_record(null::public.organizations, $1::jsonb)`,
      values: [JSON.stringify(row)],
    })
    .catch((error: unknown) => {
      const slugTaken =
        error instanceof QueryError && error.sqlState === '23505' && error.constraint === 'organizations_slug_key';
      throw slugTaken ? new TenantExistsError(slug) : error;
    });
  return kept;
}

/** The schema and, with tenant roles on, the tenant's role and its default privileges (as createTenant makes them). */
async function createSchema(tx: Transaction, db: Database, slug: string): Promise<void> {
  const schema = quoteIdentifier(schemaNameFor(slug));
  const role = db.tenantRoles ? `;\n${grantTenantRoleSql(slug, await grantOptions(db, await db.driver(), slug))}` : '';
  await tx.exec(`create schema ${schema}${role}`).catch((error: unknown) => {
    throw error instanceof QueryError && error.sqlState === '42P06' ? new TenantExistsError(slug) : error;
  });
}

async function restoreSequences(tx: Transaction, slug: string, header: ExportHeader): Promise<void> {
  const schema = schemaNameFor(slug);
  for (const seq of header.sequences) {
    await tx.query({
      text: 'select setval($1::regclass, $2::bigint, $3)',
      values: [`${quoteIdentifier(schema)}.${quoteIdentifier(seq.name)}`, seq.lastValue, seq.isCalled],
    });
  }
}

export type { VerifiedExport };
