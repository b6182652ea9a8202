import { createTenantCache, type TenantCacheOptions } from '../cache/index.js';
import { getDatabase, type Database } from '../database/database.js';
import { CgkError, TenantExistsError, TenantNotFoundError } from '../errors/index.js';
import { tenantRoleNameForTag } from '../roles/tenant-role.js';
import { assertValidSlug } from '../sql/identifier.js';
import { moveNamesSql } from './names.js';
import {
  commit,
  expectOk,
  isSqlState,
  loginVerifier,
  toRecord,
  TENANT_COLUMNS,
  type LifecycleOptions,
  type OrganizationRow,
  type TenantRecord,
} from './registry.js';

/** Renaming a tenant: registry row, schema, role and cache namespace. */

/** Options of renameTenant(). */
export interface RenameTenantOptions extends LifecycleOptions {
  /**
   * The cache whose namespaces are cleared (`cgk:{old}:` and `cgk:{new}:`): default Redis at `REDIS_URL`, or
   * this process's in-process cache when it is unset; `false` leaves the cache alone.
   */
  cache?: TenantCacheOptions | false;
}

/** What renameTenant() did. */
export interface RenameTenantResult {
  tenant: TenantRecord;
  /** Entries removed from the old slug's cache namespace after the rename (undefined with `cache: false`). */
  cacheEntriesCleared: number | undefined;
  /** What went wrong after the commit and did not undo the rename (the cache could not be cleared). */
  warnings: string[];
  durationMs: number;
}

/**
 * Renames tenant `from` to `to` in ONE transaction: its registry row, its schema (`tenant_{to}`), its role
 * (login mode: with the password of the new name; sessions logged in as the old role are ended) and its
 * migration summary row; its tables, data, grants and id stay. Scopes of `from` afterwards get
 * `TenantNotFoundError`. The cache is CLEARED rather than renamed (entries are rebuilt on demand; Redis cannot
 * rename a prefix atomically): `cgk:{to}:` before the transaction (an unreachable cache refuses the rename
 * there, having changed nothing) and `cgk:{from}:` after it. Throws `TenantNotFoundError` (no tenant `from`),
 * `TenantExistsError` (`to` is taken), `InvalidSlugError` before any SQL, `CacheError`.
 */
export async function renameTenant(from: string, to: string, options: RenameTenantOptions = {}): Promise<RenameTenantResult> {
  assertValidSlug(from);
  assertValidSlug(to);
  if (from === to) throw new TenantExistsError(to);
  const started = performance.now();
  const db = options.db ?? getDatabase();
  const cacheOptions = options.cache === false ? undefined : (options.cache ?? defaultCache());
  if (cacheOptions) await createTenantCache(to, cacheOptions).clear();
  const tenant = await renameInDatabase(db, from, to);
  const warnings: string[] = [];
  let cleared: number | undefined;
  if (cacheOptions) {
    cleared = await createTenantCache(from, cacheOptions)
      .clear()
      .catch((error: unknown) => {
        warnings.push(`the cache namespace cgk:${from}: could not be cleared: ${(error as Error).message}`);
        return undefined;
      });
  }
  return { tenant, cacheEntriesCleared: cleared, warnings, durationMs: performance.now() - started };
}

/** Redis when REDIS_URL names one, else this process's cache (quietly: a rename has nothing to announce). */
function defaultCache(): TenantCacheOptions {
  return process.env.REDIS_URL ? {} : { memory: true };
}

async function renameInDatabase(db: Database, from: string, to: string): Promise<TenantRecord> {
  const driver = await db.driver();
  const verifier = db.tenantRoleMode === 'login' ? await loginVerifier(db, to) : undefined;
  const { tx, results } = await driver.begin([
    {
      text: `update public.organizations set slug = $2 where slug = $1 and not pending returning ${TENANT_COLUMNS}`,
      values: [from, to],
    },
  ]);
  let row: OrganizationRow | undefined;
  try {
    row = expectOk(results[0], to).rows[0] as unknown as OrganizationRow | undefined;
    if (!row) throw new TenantNotFoundError(from);
    await tx.exec(moveNamesSql(from, to, { verifier, endSessions: true })).catch((error: unknown) => {
      if (isSqlState(error, '42P06')) throw new TenantExistsError(to);
      if (isSqlState(error, '3F000')) throw new TenantNotFoundError(from, error as Error);
      if (isSqlState(error, '42710')) throw roleTaken(to, error as Error);
      throw error;
    });
    await commit(tx, from, `renaming tenant ${from} to ${to}`);
  } catch (error) {
    await tx.rollback().catch(() => {});
    throw error;
  }
  // Login mode: this process's pooled connections of the old role go (the server ended them).
  if (db.tenantRoleMode === 'login' && db.databaseTag) driver.retireRole?.(tenantRoleNameForTag(from, db.databaseTag));
  return toRecord(row);
}

/** The new slug's role name is held by a role without a tenant (made by hand, or left by a failed drop). */
function roleTaken(slug: string, cause: Error): CgkError {
  return new CgkError('CGK_ROLE', `The database role of tenant "${slug}" already exists, without a tenant`, {
    hint: `Pick another slug, or drop that role (DROP OWNED BY <role>; DROP ROLE <role>) if nothing needs it.`,
    cause,
  });
}
