import type { Database } from '../database/database.js';
import { loadOptional } from '../optional.js';
import { tenantRoleNameForTag, DATABASE_TAG_EXPRESSION } from '../roles/tenant-role.js';
import { isValidSlug, TENANT_SCHEMA_PREFIX } from '../sql/identifier.js';
import type { DoctorCheck } from './types.js';

/**
 * The doctor's `leftovers` check: what a tenant that is gone (or half made) left behind. A tenant is its
 * registry row, its schema, its role, its migration summary row and its cache keys; any of them without the
 * registry row and schema is a leftover (an interrupted drop, a schema made by hand), and a registry row
 * without its schema is a broken tenant. Read-only.
 */

/** Most cache keys the check looks at (SCAN in batches): the check says when it stopped there. */
const MAX_KEYS_SCANNED = 100_000;

/** Each kind of leftover, by slug. */
export interface Leftovers {
  schemasWithoutRow: string[];
  rowsWithoutSchema: string[];
  roles: string[];
  summaryRows: string[];
  cacheSlugs: string[];
  /** The cache keys were not all looked at (more than MAX_KEYS_SCANNED, or the cache did not answer). */
  cacheNote?: string;
}

/** Finds the leftovers of tenants in `db` (and in Redis at `redisUrl`, when given); undefined before setup:database. */
export async function findLeftovers(db: Database, redisUrl?: string): Promise<Leftovers | undefined> {
  const { rows: tables } = await db.sql.query<{ registry: boolean; summary: boolean }>(
    `select to_regclass('public.organizations') is not null as registry,
            to_regclass('public.tenant_migration_state') is not null as summary`,
  );
  if (!tables[0]?.registry) return undefined;
  const summary = tables[0].summary ? `union all select 'summary', schema_name from public.tenant_migration_state` : '';
  const { rows } = await db.sql.query<{ kind: string; name: string }>(
    `select 'row' as kind, slug as name from public.organizations
     union all select 'schema', nspname::text from pg_namespace where nspname like 'tenant\\_%'
     union all select 'role', rolname::text from pg_roles where rolname like 'ct\\_' || ${DATABASE_TAG_EXPRESSION} || '\\_%'
     union all select 'tag', ${DATABASE_TAG_EXPRESSION} ${summary}`,
  );
  const of = (kind: string) => rows.filter((r) => r.kind === kind).map((r) => r.name);
  const registry = new Set(of('row'));
  const schemas = new Set(of('schema').map((s) => s.slice(TENANT_SCHEMA_PREFIX.length)));
  const known = new Set([...registry, ...schemas].filter(isValidSlug));
  const tag = of('tag')[0] ?? '';
  const expectedRoles = new Set([...known].map((slug) => tenantRoleNameForTag(slug, tag)));
  const cache = redisUrl ? await cacheSlugs(redisUrl) : { slugs: [] as string[] };
  return {
    schemasWithoutRow: [...schemas].filter((s) => !registry.has(s)).sort(),
    rowsWithoutSchema: [...registry].filter((s) => !schemas.has(s)).sort(),
    roles: of('role')
      .filter((r) => !expectedRoles.has(r))
      .sort(),
    summaryRows: of('summary')
      .map((s) => s.slice(TENANT_SCHEMA_PREFIX.length))
      .filter((s) => !schemas.has(s))
      .sort(),
    cacheSlugs: cache.slugs.filter((s) => !registry.has(s)).sort(),
    ...(cache.note ? { cacheNote: cache.note } : {}),
  };
}

/** The slugs that have keys in Redis (`cgk:{slug}:...`), by SCAN (never KEYS), at most MAX_KEYS_SCANNED keys. */
async function cacheSlugs(url: string): Promise<{ slugs: string[]; note?: string }> {
  const { Redis } = await loadOptional('ioredis', () => import(/* webpackIgnore: true */ 'ioredis'));
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  const slugs = new Set<string>();
  try {
    await client.connect();
    let cursor = '0';
    let scanned = 0;
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', 'cgk:*', 'COUNT', 1000);
      cursor = next;
      scanned += keys.length;
      for (const key of keys) {
        const slug = key.slice(4, key.indexOf(':', 4));
        if (isValidSlug(slug)) slugs.add(slug);
      }
      if (scanned >= MAX_KEYS_SCANNED && cursor !== '0')
        return { slugs: [...slugs], note: `stopped after ${scanned} cache keys` };
    } while (cursor !== '0');
    return { slugs: [...slugs] };
  } catch (error) {
    return { slugs: [...slugs], note: `the cache was not checked (${(error as Error).message})` };
  } finally {
    client.disconnect();
  }
}

/** The doctor's line for `findLeftovers`: ok, or a warning naming each leftover and how to remove it. */
export async function checkLeftovers(db: Database, env: NodeJS.ProcessEnv): Promise<DoctorCheck> {
  const name = 'leftovers';
  const found = await findLeftovers(db, env.REDIS_URL?.trim() || undefined);
  if (!found) return { name, status: 'ok', detail: 'skipped: the platform tables have not been created' };
  const parts = [
    ['schemas without a registry row', found.schemasWithoutRow],
    ['registry rows without a schema', found.rowsWithoutSchema],
    ['tenant roles without a tenant', found.roles],
    ['migration summary rows without a schema', found.summaryRows],
    ['cache keys of tenants not in the registry', found.cacheSlugs],
  ] as const;
  const listed = parts.filter(([, items]) => items.length > 0).map(([what, items]) => `${what}: ${items.join(', ')}`);
  const note = found.cacheNote ? ` (${found.cacheNote})` : '';
  if (listed.length === 0) return { name, status: 'ok', detail: `no traces of dropped tenants${note}` };
  return {
    name,
    status: 'warn',
    detail: `${listed.join('; ')}${note}`,
    hint:
      'npx @cgk/cli tenant:drop <slug> --yes removes what is left of a tenant (schema, role, summary row, cache keys); ' +
      'a registry row without its schema is a broken tenant: drop it, or import it again from an export.',
  };
}
