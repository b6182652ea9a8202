import type { Transaction } from '../drivers/types.js';
import { tenantRoleExpression } from '../roles/tenant-role.js';
import { schemaNameFor } from '../sql/identifier.js';
import { createSql } from '../sql/tag.js';
import type { TenantSeed } from './registry.js';

/**
 * Runs a tenant's seed inside its creation transaction `tx`, as the tenant: `search_path` set to its schema
 * and, with tenant roles on, the tenant's role (both transaction-local), so a seed can do what the tenant's own
 * scopes can do and nothing more (rows, not DDL; not another tenant's schema). Restores the application role
 * and the previous path afterwards, so the creation goes on as before. A seed that throws (or whose script
 * fails) throws here; the caller rolls the whole creation back.
 */
export async function runSeed(tx: Transaction, slug: string, seed: TenantSeed, asTenantRole: boolean): Promise<void> {
  const schema = schemaNameFor(slug);
  const role = asTenantRole ? `, set_config('role', ${tenantRoleExpression(slug)}, true)` : '';
  const { rows } = await tx.query({
    text: `select current_setting('search_path') as previous, set_config('search_path', $1, true)${role}`,
    values: [`${schema}, public`],
  });
  if (typeof seed === 'function') await seed(createSql((statement) => tx.query(statement)));
  else await tx.exec(seed.script);
  await tx.query({
    text: `select set_config('search_path', $1, true)${asTenantRole ? ", set_config('role', 'none', true)" : ''}`,
    values: [String(rows[0]?.previous ?? '')],
  });
}
