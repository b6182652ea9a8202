import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { EncryptionError } from '../errors/index.js';

/**
 * Secrets at rest (today: `organizations.shopify_access_token`), encrypted with AES-256-GCM and bound to the
 * row and column they are stored in.
 *
 * A ciphertext is one ASCII string, safe in a `text` column:
 *
 *     v2.<keyId>.<iv>.<tag>.<ciphertext>        (iv, tag, ciphertext: base64url, no padding)
 *
 * `keyId` is the first 8 hex digits of the SHA-256 of the key, so a reader knows which key wrote a value
 * without storing anything about the key itself. The GCM additional data is `v2.<keyId>` and the binding:
 * the column (`organizations.shopify_access_token`) and the row's id (the organization's id). Changing any
 * part of the string makes decryption fail, and so does decrypting it for another row or column: a
 * ciphertext copied from organization A's row into B's is refused (`CGK_ENCRYPTION`), not read as B's.
 *
 * `v1.` values (written before bindings existed) are not bound: they still decrypt, whatever the binding,
 * and `needsReencryption()` is true for them. Migrate them with `reencryptSecret()` (or the
 * `reencryptOrganizationSecrets()` pass over the registry, CLI `secrets:reencrypt`).
 *
 * Keys come from the environment: `CGK_ENCRYPTION_KEY` (32 bytes, as base64 or as 64 hex digits) encrypts and
 * decrypts; `CGK_ENCRYPTION_KEYS_OLD` (comma-separated, same formats) only decrypts, so keys can rotate:
 * put the new key in `CGK_ENCRYPTION_KEY`, move the old one to `CGK_ENCRYPTION_KEYS_OLD`, re-encrypt the
 * values for which `needsReencryption()` is true, then drop the old key.
 *
 * Generate a key with: `openssl rand -base64 32`.
 */

/** Where a secret is stored: what its ciphertext is bound to. */
export interface SecretBinding {
  /** `table.column`, e.g. `organizations.shopify_access_token` (lower-case identifiers). */
  column: string;
  /** The id of the row (e.g. the organization's id). */
  row: string;
}

/** The binding of an organization's Shopify access token: `organizations.shopify_access_token` of that row. */
export function shopifyTokenBinding(organizationId: string): SecretBinding {
  return { column: 'organizations.shopify_access_token', row: organizationId };
}

const VERSION = 'v2';
const UNBOUND_VERSION = 'v1';
const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ENV = 'CGK_ENCRYPTION_KEY';
const OLD_KEYS_ENV = 'CGK_ENCRYPTION_KEYS_OLD';
const GENERATE_HINT =
  `Set ${KEY_ENV} to 32 random bytes as base64 (generate one with: openssl rand -base64 32) in the environment ` +
  'or .env.local; keep it out of the database and of version control.';
const CIPHERTEXT_PATTERN = /^(v[12])\.([0-9a-f]{8})\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$/;

/** One usable key: its bytes and its id (first 8 hex digits of its SHA-256). */
interface Key {
  id: string;
  bytes: Buffer;
}

/**
 * Encrypts `plaintext` with `CGK_ENCRYPTION_KEY`, bound to `binding` (the row and column it is stored in);
 * every call uses a fresh random IV, so the same plaintext encrypts differently each time. Throws
 * `EncryptionError` when the key is missing or malformed, or the binding is not one.
 *
 * @example
 * const stored = encryptSecret('shpat_0123456789abcdef', shopifyTokenBinding(org.id)); // 'v2.3f2a9c1b.…'
 */
export function encryptSecret(plaintext: string, binding: SecretBinding, env: NodeJS.ProcessEnv = process.env): string {
  if (typeof plaintext !== 'string') throw new EncryptionError('Only strings can be encrypted', 'Pass the secret as a string.');
  const bound = additionalData(binding);
  const key = currentKey(env);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key.bytes, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(`${VERSION}.${key.id}${bound}`));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, key.id, b64url(iv), b64url(cipher.getAuthTag()), b64url(body)].join('.');
}

/** The binding as additional data; refuses anything that is not one (an env object passed by old code). */
function additionalData(binding: SecretBinding): string {
  const ok =
    typeof binding === 'object' &&
    binding !== null &&
    typeof binding.column === 'string' &&
    /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/.test(binding.column) &&
    typeof binding.row === 'string' &&
    binding.row !== '';
  if (!ok) {
    throw new EncryptionError(
      'A secret is encrypted and decrypted for the row and column it is stored in: no binding { column, row } was given',
      "Pass e.g. shopifyTokenBinding(organization.id), or { column: 'table.column', row: id }.",
    );
  }
  return `|${binding.column}|${binding.row}`;
}

/**
 * Decrypts a value written by `encryptSecret` for the same `binding`, with `CGK_ENCRYPTION_KEY` or, for values
 * written before a rotation, the key of `CGK_ENCRYPTION_KEYS_OLD` whose id the value names. A `v1.` value
 * (unbound, written before bindings) decrypts whatever the binding. Throws `EncryptionError` when the key is
 * missing or malformed, when no configured key has the value's key id, or when the value is not a
 * ciphertext, was altered, or belongs to another row or column (GCM authentication fails). Messages never
 * contain key material or plaintext.
 *
 * @example
 * const token = decryptSecret(org.shopify_access_token, shopifyTokenBinding(org.id));
 */
export function decryptSecret(ciphertext: string, binding: SecretBinding, env: NodeJS.ProcessEnv = process.env): string {
  const bound = additionalData(binding);
  const current = currentKey(env);
  const match = typeof ciphertext === 'string' ? CIPHERTEXT_PATTERN.exec(ciphertext) : null;
  if (!match) {
    throw new EncryptionError(
      `The value is not an encrypted secret (expected ${VERSION}.<keyId>.<iv>.<tag>.<ciphertext>)`,
      'The stored value was not written by encryptSecret() or was truncated; store the secret again with encryptSecret().',
    );
  }
  const [, version, keyId, ivText, tagText, bodyText] = match as unknown as [string, string, string, string, string, string];
  const key = keyId === current.id ? current : oldKeys(env).find((k) => k.id === keyId);
  if (!key) {
    throw new EncryptionError(
      `The secret was encrypted with key ${keyId}, which is neither ${KEY_ENV} (key ${current.id}) nor one of ${OLD_KEYS_ENV}`,
      `Add the key with id ${keyId} to ${OLD_KEYS_ENV} (comma-separated) so old values can be read, ` +
        'then re-encrypt them with the current key.',
    );
  }
  const iv = Buffer.from(ivText, 'base64url');
  const tag = Buffer.from(tagText, 'base64url');
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw tampered(keyId);
  try {
    const decipher = createDecipheriv(ALGORITHM, key.bytes, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(`${version}.${keyId}${version === UNBOUND_VERSION ? '' : bound}`));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(Buffer.from(bodyText, 'base64url')), decipher.final()]).toString('utf8');
  } catch (error) {
    throw tampered(keyId, error);
  }
}

/**
 * `ciphertext` decrypted for `binding` and encrypted again with the current key and the binding: the
 * migration of a value for which `needsReencryption()` is true (an old key, or a `v1.` value with no binding).
 *
 * @example
 * if (needsReencryption(stored)) stored = reencryptSecret(stored, shopifyTokenBinding(org.id));
 */
export function reencryptSecret(ciphertext: string, binding: SecretBinding, env: NodeJS.ProcessEnv = process.env): string {
  return encryptSecret(decryptSecret(ciphertext, binding, env), binding, env);
}

/** True when `value` looks like the output of `encryptSecret` (it is not decrypted or authenticated). */
export function isEncryptedSecret(value: unknown): value is string {
  return typeof value === 'string' && CIPHERTEXT_PATTERN.test(value);
}

/**
 * True when `ciphertext` should be written again: it was written with a key other than the current
 * `CGK_ENCRYPTION_KEY` (after a rotation), or it is a `v1.` value bound to no row (written before bindings),
 * or it is not a ciphertext at all. False for `null` / `undefined`: no secret stored, nothing to re-encrypt.
 *
 * @example
 * if (needsReencryption(stored)) stored = reencryptSecret(stored, shopifyTokenBinding(org.id));
 */
export function needsReencryption(ciphertext: string | null | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (ciphertext === null || ciphertext === undefined) return false;
  const match = CIPHERTEXT_PATTERN.exec(ciphertext);
  return match?.[1] !== VERSION || match[2] !== currentKey(env).id;
}

/** What `checkEncryptionKeys` found; `status` is for reports (`doctor`), never containing key material. */
export interface EncryptionKeyStatus {
  status: 'ok' | 'missing' | 'malformed';
  /** Id of `CGK_ENCRYPTION_KEY`, when it is well-formed. */
  keyId?: string;
  /** Ids of the well-formed old keys. */
  oldKeyIds: string[];
  /** One sentence, e.g. "set (key 3f2a9c1b), 1 old key for decryption". */
  detail: string;
  hint?: string;
}

/** Checks `CGK_ENCRYPTION_KEY` and `CGK_ENCRYPTION_KEYS_OLD` without throwing (used by `doctor`). */
export function checkEncryptionKeys(env: NodeJS.ProcessEnv = process.env): EncryptionKeyStatus {
  try {
    const key = currentKey(env);
    const old = oldKeys(env);
    const oldText =
      old.length === 0
        ? ''
        : `, ${old.length} old key${old.length === 1 ? '' : 's'} for decryption (${old.map((k) => k.id).join(', ')})`;
    return { status: 'ok', keyId: key.id, oldKeyIds: old.map((k) => k.id), detail: `set (key ${key.id})${oldText}` };
  } catch (error) {
    const e = error as EncryptionError;
    const missing = !env[KEY_ENV]?.trim();
    return { status: missing ? 'missing' : 'malformed', oldKeyIds: [], detail: e.message, hint: e.hint };
  }
}

function currentKey(env: NodeJS.ProcessEnv): Key {
  const raw = env[KEY_ENV];
  if (raw === undefined || raw.trim() === '') {
    throw new EncryptionError(
      `${KEY_ENV} is not set: secrets (Shopify access tokens) cannot be encrypted or decrypted`,
      GENERATE_HINT,
    );
  }
  return parseKey(raw, KEY_ENV);
}

function oldKeys(env: NodeJS.ProcessEnv): Key[] {
  const raw = env[OLD_KEYS_ENV];
  if (!raw?.trim()) return [];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s, i) => parseKey(s, `${OLD_KEYS_ENV} entry ${i + 1}`));
}

/** Accepts exactly 32 bytes as 64 hex digits or as base64 / base64url (padding optional). */
function parseKey(raw: string, name: string): Key {
  const text = raw.trim();
  let bytes: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(text)) {
    bytes = Buffer.from(text, 'hex');
  } else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
    const decoded = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (decoded.length === KEY_BYTES) bytes = decoded;
    else {
      throw new EncryptionError(
        `${name} is malformed: it decodes to ${decoded.length} bytes; AES-256 needs exactly ${KEY_BYTES}`,
        GENERATE_HINT,
      );
    }
  }
  if (!bytes) {
    throw new EncryptionError(
      `${name} is malformed: expected ${KEY_BYTES} bytes as base64 or as 64 hex digits (${text.length} characters given)`,
      GENERATE_HINT,
    );
  }
  return { id: createHash('sha256').update(bytes).digest('hex').slice(0, 8), bytes };
}

function tampered(keyId: string, cause?: unknown): EncryptionError {
  return new EncryptionError(
    `The secret encrypted with key ${keyId} failed authentication: it was altered, truncated, ` +
      'or written with a different key that has the same id',
    'Do not edit stored ciphertext; store the secret again with encryptSecret().',
    cause,
  );
}

function b64url(bytes: Buffer): string {
  return bytes.toString('base64url');
}
