import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Database,
  createTenant,
  decryptSecret,
  encryptSecret,
  needsReencryption,
  reencryptSecret,
  reencryptOrganizationSecrets,
  setupDatabase,
  shopifyTokenBinding,
} from '../src/index.js';
import { type AppDatabase, DROP_TIMEOUT_MS, createAppDatabase } from './helpers/database.js';

/**
 * Issue #23 item 8: a ciphertext is bound to its row and column (AES-GCM additional data), so one copied
 * from organization A's row into B's is refused instead of decrypting as B's. Values written before
 * bindings (`v1.`) still decrypt and are flagged for re-encryption.
 */

const key = randomBytes(32);
const env = { CGK_ENCRYPTION_KEY: key.toString('base64') };
const TOKEN = 'shpat_0123456789abcdef0123456789abcdef';
const A = shopifyTokenBinding('11111111-1111-4111-8111-111111111111');
const B = shopifyTokenBinding('22222222-2222-4222-8222-222222222222');

/** A value as the library wrote it before bindings: `v1.<keyId>...`, additional data `v1.<keyId>` only. */
function legacyV1(plaintext: string): string {
  const id = createHash('sha256').update(key).digest('hex').slice(0, 8);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(`v1.${id}`));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', id, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
}

describe('secrets bound to their row and column', () => {
  it('decrypts for its own row, refuses another row or another column', () => {
    const stored = encryptSecret(TOKEN, A, env);
    expect(stored.startsWith('v2.')).toBe(true);
    expect(decryptSecret(stored, A, env)).toBe(TOKEN);
    expect(() => decryptSecret(stored, B, env)).toThrow(expect.objectContaining({ code: 'CGK_ENCRYPTION' }));
    expect(() => decryptSecret(stored, { column: 'organizations.stripe_account_id', row: A.row }, env)).toThrow(
      expect.objectContaining({ code: 'CGK_ENCRYPTION' }),
    );
    expect(needsReencryption(stored, env)).toBe(false);
  });

  it('refuses to encrypt or decrypt without a binding (old code passing the environment second)', () => {
    const stored = encryptSecret(TOKEN, A, env);
    expect(() => encryptSecret(TOKEN, env as never)).toThrow(expect.objectContaining({ code: 'CGK_ENCRYPTION' }));
    expect(() => decryptSecret(stored, env as never)).toThrow(expect.objectContaining({ code: 'CGK_ENCRYPTION' }));
    expect(() => encryptSecret(TOKEN, { column: 'no dot', row: 'x' }, env)).toThrow(
      expect.objectContaining({ code: 'CGK_ENCRYPTION' }),
    );
  });

  it('still decrypts v1 values (unbound), flags them, and re-encrypts them bound', () => {
    const old = legacyV1(TOKEN);
    expect(decryptSecret(old, A, env)).toBe(TOKEN);
    expect(needsReencryption(old, env)).toBe(true);
    const fresh = reencryptSecret(old, A, env);
    expect(needsReencryption(fresh, env)).toBe(false);
    expect(decryptSecret(fresh, A, env)).toBe(TOKEN);
    expect(() => decryptSecret(fresh, B, env)).toThrow(expect.objectContaining({ code: 'CGK_ENCRYPTION' }));
  });

  it('needsReencryption(null) and (undefined) are false: no secret stored, nothing to do', () => {
    expect(needsReencryption(null, env)).toBe(false);
    expect(needsReencryption(undefined, env)).toBe(false);
  });
});

describe('the registry: a token copied from one organization to another (real PostgreSQL)', () => {
  let app: AppDatabase;
  let db: Database;
  const previous = process.env.CGK_ENCRYPTION_KEY;
  beforeAll(async () => {
    process.env.CGK_ENCRYPTION_KEY = env.CGK_ENCRYPTION_KEY;
    app = await createAppDatabase('cgk_secrets');
    db = new Database({ url: app.url });
    await setupDatabase({ db });
    await createTenant({ slug: 'a', shopifyAccessToken: 'shpat_aaaaaaaaaaaaaaaa' }, { db });
    await createTenant({ slug: 'b', shopifyAccessToken: 'shpat_bbbbbbbbbbbbbbbb' }, { db });
  }, 120_000);
  afterAll(async () => {
    if (previous === undefined) delete process.env.CGK_ENCRYPTION_KEY;
    else process.env.CGK_ENCRYPTION_KEY = previous;
    await db?.end();
    await app?.drop();
  }, DROP_TIMEOUT_MS);

  const row = async (slug: string) =>
    (
      await db.sql<{
        id: string;
        token: string;
      }>`select id, shopify_access_token as token from organizations where slug = ${slug}`
    ).rows[0]!;

  it('createTenant binds the token to the new row; copied into b, it is refused', async () => {
    const a = await row('a');
    expect(decryptSecret(a.token, shopifyTokenBinding(a.id))).toBe('shpat_aaaaaaaaaaaaaaaa');
    await db.sql`update organizations set shopify_access_token = ${a.token} where slug = 'b'`;
    const b = await row('b');
    expect(() => decryptSecret(b.token, shopifyTokenBinding(b.id))).toThrow(expect.objectContaining({ code: 'CGK_ENCRYPTION' }));
  });
});

describe('reencryptOrganizationSecrets: the migration of v1 values (real PostgreSQL)', () => {
  let app: AppDatabase;
  let db: Database;
  const previous = process.env.CGK_ENCRYPTION_KEY;
  beforeAll(async () => {
    process.env.CGK_ENCRYPTION_KEY = env.CGK_ENCRYPTION_KEY;
    app = await createAppDatabase('cgk_reencrypt');
    db = new Database({ url: app.url });
    await setupDatabase({ db });
    await createTenant({ slug: 'old' }, { db });
    await createTenant({ slug: 'new', shopifyAccessToken: 'shpat_nnnnnnnnnnnnnnnn' }, { db });
    await createTenant({ slug: 'notoken' }, { db });
    await db.sql`update organizations set shopify_access_token = ${legacyV1('shpat_oooooooooooooooo')} where slug = 'old'`;
  }, 120_000);
  afterAll(async () => {
    if (previous === undefined) delete process.env.CGK_ENCRYPTION_KEY;
    else process.env.CGK_ENCRYPTION_KEY = previous;
    await db?.end();
    await app?.drop();
  }, DROP_TIMEOUT_MS);

  it('re-encrypts the v1 token bound to its row, leaves the others, and is idempotent', async () => {
    expect(await reencryptOrganizationSecrets({ db })).toEqual({ checked: 2, reencrypted: 1 });
    const { rows } = await db.sql<{ id: string; token: string }>`
      select id, shopify_access_token as token from organizations where slug = 'old'`;
    expect(rows[0]!.token.startsWith('v2.')).toBe(true);
    expect(decryptSecret(rows[0]!.token, shopifyTokenBinding(rows[0]!.id))).toBe('shpat_oooooooooooooooo');
    expect(await reencryptOrganizationSecrets({ db })).toEqual({ checked: 2, reencrypted: 0 });
  });
});
