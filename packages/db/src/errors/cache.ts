import { CgkError, ERROR_CLASS, type CgkErrorOptions } from './base.js';

/** The tenant cache's and the secrets' errors. Public through errors/index.ts. */

/**
 * Why a cache operation failed: `unavailable` (Redis refused, timed out, closed or answered with an error:
 * callers that can live without the cache catch this one), `value` (a value that JSON cannot carry, or a stored
 * value that is not JSON), `usage` (a key that is not a string, a bad TTL, no tenant scope).
 */
export type CacheErrorReason = 'unavailable' | 'value' | 'usage';

/** A tenant cache operation failed; `reason` says which kind of failure. The message never holds a password. */
export class CacheError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'CacheError';
  constructor(
    readonly reason: CacheErrorReason,
    message: string,
    options: CgkErrorOptions = {},
  ) {
    super('CGK_CACHE', message, {
      hint:
        options.hint ??
        (reason === 'unavailable'
          ? 'Check REDIS_URL and that Redis answers (redis-cli -u "$REDIS_URL" ping); ' +
            'without REDIS_URL an in-process cache is used.'
          : undefined),
      cause: options.cause,
    });
  }
}

/** A secret could not be encrypted or decrypted: missing or malformed key, unknown key id, tampered ciphertext. */
export class EncryptionError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'EncryptionError';
  constructor(message: string, hint: string, cause?: unknown) {
    super('CGK_ENCRYPTION', message, { hint, cause });
  }
}
