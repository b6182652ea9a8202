import { createTenantCache, type TenantCacheOptions } from '../cache/index.js';
import type { Transaction } from '../drivers/types.js';
import { CacheError, QueryError } from '../errors/index.js';
import { dropTenantRoleSql, tenantRoleExpression } from '../roles/tenant-role.js';
import { schemaNameFor } from '../sql/identifier.js';

/**
 * What deleting a tenant completely removes, written once for `dropTenant` and for `moveTenant` (which drops
 * the old copy): in the database its schema, its migration summary row and its role (the caller deletes the
 * registry row, whose platform rows go with it by their foreign keys), and outside it the tenant's cache keys.
 */

/** Which traces of the tenant there were. */
export interface TenantTraces {
  schema: boolean;
  role: boolean;
  summary: boolean;
}

/**
 * Inside the caller's transaction: drops the tenant's schema (all its data), its row of the migration summary
 * and its role, each if it exists; resolves to which existed.
 */
export async function removeTenantObjects(tx: Transaction, slug: string): Promise<TenantTraces> {
  const schema = schemaNameFor(slug);
  const { rows } = await tx.query({
    text: `select to_regnamespace($1) is not null as schema,
      exists (select 1 from pg_roles where rolname = ${tenantRoleExpression(slug)}) as role,
      to_regclass('public.tenant_migration_state') is not null as summary_table`,
    values: [schema],
  });
  const found = rows[0] ?? {};
  await tx.exec(`drop schema if exists ${schema} cascade`);
  let summary = false;
  // The migration summary is created by the runner on first use; a database without it has nothing to clean.
  if (found.summary_table === true) {
    const deleted = await tx.query({
      text: 'delete from public.tenant_migration_state where schema_name = $1',
      values: [schema],
    });
    summary = deleted.rowCount > 0;
  }
  await tx.exec(dropTenantRoleSql(slug));
  return { schema: found.schema === true, role: found.role === true, summary };
}

/**
 * Removes every cache key of the tenant (`cgk:{slug}:*`, SCAN + UNLINK) from the shared cache: the one
 * `cache` names, else Redis at `REDIS_URL`. Without either there is no shared cache to clean (an in-process
 * cache dies with its process): resolves to 0. `false` skips it. Resolves to the number of keys removed;
 * Redis unreachable throws `CacheError` saying the database part is done.
 */
export async function clearTenantCacheKeys(slug: string, cache: TenantCacheOptions | false | undefined): Promise<number> {
  if (cache === false) return 0;
  const options = cache ?? {};
  if (!options.client && !options.memory && !(options.url ?? process.env.REDIS_URL)) return 0;
  try {
    return await createTenantCache(slug, options).clear();
  } catch (error) {
    if (!(error instanceof CacheError)) throw error;
    throw new CacheError('unavailable', `Tenant "${slug}" is gone from the database, but its cache keys could not be removed`, {
      hint:
        `Once the cache answers, run npx @cgk/cli tenant:drop ${slug} --yes again: it removes what is left ` +
        '(npx @cgk/cli doctor lists leftovers).',
      cause: error,
    });
  }
}

/** True for a QueryError with this SQLSTATE. */
export function hasSqlState(error: unknown, state: string): boolean {
  return error instanceof QueryError && error.sqlState === state;
}
