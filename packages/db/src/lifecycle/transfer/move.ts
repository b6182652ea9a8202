import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TenantCacheOptions } from '../../cache/index.js';
import { Database, getDatabase } from '../../database/database.js';
import type { Transaction } from '../../drivers/types.js';
import { TenantExistsError, TenantNotFoundError, TransactionAbortedError } from '../../errors/index.js';
import { assertValidSlug, quoteIdentifier, schemaNameFor } from '../../sql/identifier.js';
import { clearTenantCacheKeys, hasSqlState, removeTenantObjects } from '../removal.js';
import { dropTenant, getTenant, type LifecycleOptions, type TenantRecord, type TenantStatus } from '../tenants.js';
import { PLATFORM_TABLES } from './catalog.js';
import { openTransferConnection, type TransferConnection } from './connection.js';
import { writeExport } from './export.js';
import type { ExportManifest } from './format.js';
import { importTenant } from './import.js';

/** Options of moveTenant(). */
export interface MoveTenantOptions extends LifecycleOptions {
  /** The database to move the tenant to: a connection string or a Database (set up, same or newer migrations). */
  to: string | Database;
  /** Directory for the export file made during the move (removed after); the system's temporary directory by default. */
  workDir?: string;
  /** Directory of tenant migrations on the target; the package's own by default. */
  tenantDir?: string | URL;
  /** Longest wait, per attempt, for the tenant's tables to be free of writers (ms); default 10000, 5 attempts. */
  lockTimeoutMs?: number;
  /** The shared cache to remove the old copy's keys from (as dropTenant); `false` leaves it. */
  cache?: TenantCacheOptions | false;
}

/** What moveTenant() did. */
export interface MoveTenantResult {
  /** The tenant as the target database's registry now holds it. */
  tenant: TenantRecord;
  rows: number;
  manifest: ExportManifest;
  /** How long the tenant's writes were held (from its tables' lock to the old copy's removal), in ms. */
  writesHeldMs: number;
  durationMs: number;
}

const ATTEMPTS = 5;

/**
 * Moves tenant `slug` from this database to `to`: marks it suspended, locks its tables against writes (reads go
 * on; writes wait), exports it from one snapshot taken under that lock, imports and verifies it in the target
 * (its registry row, organization id, platform rows and former status included), then, in the same locked
 * transaction, removes the old copy (registry row, schema, role, summary row) and commits, and clears its cache
 * keys. Writes that waited fail with `TenantNotFoundError` (the tenant is no longer here), so none lands in
 * the old place and none acknowledged before the lock is lost. On any failure before the switch the target is
 * left without the tenant and the source as it was (its status restored). Throws `TenantExistsError` when the
 * target already has the slug (or is the same database), `TenantNotFoundError` for an unknown tenant.
 *
 * @example
 * await moveTenant('acme', { to: 'postgres://app@db2.internal:5432/cgk' });
 */
export async function moveTenant(slug: string, options: MoveTenantOptions): Promise<MoveTenantResult> {
  assertValidSlug(slug);
  const started = performance.now();
  const source = options.db ?? getDatabase();
  const target = typeof options.to === 'string' ? new Database({ url: options.to }) : options.to;
  try {
    const before = await getTenant(slug, { db: source });
    if (!before) throw new TenantNotFoundError(slug);
    if (await getTenant(slug, { db: target })) throw new TenantExistsError(slug);
    await setStatus(source, slug, 'suspended');
    try {
      const moved = await moveLocked(source, target, slug, before.status, options);
      return { ...moved, durationMs: performance.now() - started };
    } catch (error) {
      await setStatus(source, slug, before.status).catch(() => {});
      throw error;
    }
  } finally {
    if (typeof options.to === 'string') await target.end();
  }
}

async function moveLocked(
  source: Database,
  target: Database,
  slug: string,
  status: TenantStatus,
  options: MoveTenantOptions,
): Promise<Omit<MoveTenantResult, 'durationMs'>> {
  const dir = await mkdtemp(join(options.workDir ?? tmpdir(), 'cgk-move-'));
  const conn = await openTransferConnection(source, 'Moving a tenant');
  try {
    const tx = await lockTenant(conn, slug, options.lockTimeoutMs ?? 10_000);
    const locked = performance.now();
    let imported: Awaited<ReturnType<typeof importTenant>>;
    try {
      const { file, manifest } = await writeExport(conn, tx, slug, join(dir, `${slug}.cgk`), 1);
      imported = await importTenant(file, { db: target, status, tenantDir: options.tenantDir, keepId: true });
      if (imported.rows !== manifest.totalRows) throw new TransactionAbortedError(slug, undefined, 'tenant move (row count)');
    } catch (error) {
      await tx.rollback().catch(() => {});
      throw error;
    }
    await switchOver(tx, source, target, slug);
    const writesHeldMs = performance.now() - locked;
    await clearTenantCacheKeys(slug, options.cache);
    return { tenant: imported.tenant, rows: imported.rows, manifest: imported.manifest, writesHeldMs };
  } finally {
    await conn.end();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The switch: the old copy goes in the transaction that holds the locks, so the writes waiting on them find
 * no tenant. If that fails, the target's new copy is dropped again: the source stays the one place.
 */
async function switchOver(tx: Transaction, source: Database, target: Database, slug: string): Promise<void> {
  try {
    await tx.query({ text: 'delete from public.organizations where slug = $1', values: [slug] });
    await removeTenantObjects(tx, slug);
    if ((await tx.commit()) === 'ROLLBACK') throw new TransactionAbortedError(slug, undefined, 'tenant move (old copy)');
  } catch (error) {
    await tx.rollback().catch(() => {});
    await dropTenant(slug, { db: target, confirm: true, cache: false }).catch(() => {});
    throw error;
  }
  if (source.tenantRoleMode === 'login') (await source.driver()).retireRole?.(await source.tenantRoleName(slug));
}

/**
 * A REPEATABLE READ transaction holding the tenant's tables in EXCLUSIVE mode (writes wait, reads go on) and
 * its registry and platform rows FOR UPDATE; its snapshot is taken after the locks, so it holds every write
 * acknowledged before them. A lock not had in `lockTimeoutMs`, a deadlock or a serialization failure is tried
 * again (ATTEMPTS times).
 */
async function lockTenant(conn: TransferConnection, slug: string, lockTimeoutMs: number): Promise<Transaction> {
  const schema = quoteIdentifier(schemaNameFor(slug));
  for (let attempt = 1; ; attempt++) {
    const tables = await tenantTables(conn, slug);
    const tx = await conn.begin('isolation level repeatable read', [
      { text: `set local lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}` },
    ]);
    try {
      if (tables.length > 0)
        await tx.exec(`lock table ${tables.map((t) => `${schema}.${quoteIdentifier(t)}`).join(', ')} in exclusive mode`);
      const { rows } = await tx.query({ text: 'select id from public.organizations where slug = $1 for update', values: [slug] });
      if (!rows[0]) throw new TenantNotFoundError(slug);
      for (const table of PLATFORM_TABLES) {
        await tx.query({
          text: `select count(*) from (select 1 from public.${quoteIdentifier(table)}
                 where organization_id = $1 for update) locked`,
          values: [rows[0].id],
        });
      }
      if ((await tenantTables(tx, slug)).join() !== tables.join())
        throw Object.assign(new Error('tables changed'), { retry: true });
      await tx.exec('set local lock_timeout = 60000');
      return tx;
    } catch (error) {
      await tx.rollback().catch(() => {});
      const retry =
        (error as { retry?: boolean }).retry === true || ['55P03', '40001', '40P01'].some((s) => hasSqlState(error, s));
      if (!retry || attempt >= ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

/** The names of the tenant's tables, from a transaction (or a short one of their own on `conn`). */
async function tenantTables(on: TransferConnection | Transaction, slug: string): Promise<string[]> {
  const statement = {
    text: `select relname::text as name from pg_class where relnamespace = to_regnamespace($1) and relkind in ('r', 'p')
           order by relname`,
    values: [schemaNameFor(slug)],
  };
  if ('query' in on) return (await on.query(statement)).rows.map((r) => String(r.name));
  const tx = await on.begin('read only');
  try {
    return (await tx.query(statement)).rows.map((r) => String(r.name));
  } finally {
    await tx.commit().catch(() => {});
  }
}

async function setStatus(db: Database, slug: string, status: TenantStatus): Promise<void> {
  await db.sql`update public.organizations set status = ${status}::organization_status where slug = ${slug}`;
}
