import { getDatabase, type Database } from '../database/database.js';
import { needsReencryption, reencryptSecret, shopifyTokenBinding } from './encryption.js';

/** What `reencryptOrganizationSecrets` did. */
export interface ReencryptReport {
  /** Organizations with a stored token. */
  checked: number;
  /** Tokens written again (old key, or not bound to their row). */
  reencrypted: number;
}

/**
 * The migration path of the secrets in the registry: every `organizations.shopify_access_token` for which
 * `needsReencryption()` is true (written with an old key, or a `v1.` value bound to no row) is decrypted and
 * written again with the current key, bound to its organization. Each row is updated only if its value is
 * still the one read (a concurrent write wins); safe to run again at any time. Needs `CGK_ENCRYPTION_KEY` (and
 * `CGK_ENCRYPTION_KEYS_OLD` for values of older keys); a value that does not decrypt throws `EncryptionError`
 * naming nothing secret, and the rows before it stay re-encrypted.
 *
 * @example
 * const { reencrypted } = await reencryptOrganizationSecrets();
 */
export async function reencryptOrganizationSecrets(options: { db?: Database } = {}): Promise<ReencryptReport> {
  const db = options.db ?? getDatabase();
  const { rows } = await db.sql<{ id: string; token: string }>`
    select id::text as id, shopify_access_token as token from public.organizations
    where shopify_access_token is not null order by id`;
  let reencrypted = 0;
  for (const row of rows) {
    if (!needsReencryption(row.token)) continue;
    const fresh = reencryptSecret(row.token, shopifyTokenBinding(row.id));
    const updated = await db.sql`
      update public.organizations set shopify_access_token = ${fresh}
      where id = ${row.id}::uuid and shopify_access_token = ${row.token}`;
    reencrypted += updated.rowCount;
  }
  return { checked: rows.length, reencrypted };
}
