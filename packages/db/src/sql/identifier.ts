import { InvalidIdentifierError, InvalidSlugError } from '../errors/index.js';

/**
 * Slug and identifier rules. This is the only place that turns user input into SQL identifiers, so it is
 * strict on purpose: only `[a-z][a-z0-9_]*` passes, which never needs quoting and cannot inject.
 */

/** PostgreSQL truncates identifiers longer than this many bytes (NAMEDATALEN - 1). */
export const MAX_IDENTIFIER_BYTES = 63;
/** Prefix of every tenant schema. */
export const TENANT_SCHEMA_PREFIX = 'tenant_';
/** Longest slug whose schema name still fits PostgreSQL's identifier limit. */
export const MAX_SLUG_LENGTH = MAX_IDENTIFIER_BYTES - TENANT_SCHEMA_PREFIX.length;

const SLUG_PATTERN = /^[a-z][a-z0-9_]*$/;
const IDENTIFIER_PATTERN = /^[a-z_][a-z0-9_]*$/;
/** Names a tenant may not take: they collide with PostgreSQL or platform names, or read as keywords. */
const RESERVED_SLUGS = new Set([
  'public',
  'information_schema',
  'default',
  'postgres',
  'template0',
  'template1',
  'admin',
  'root',
  'system',
  'cgk',
  'platform',
  'api',
  'www',
  'null',
  'true',
  'false',
  'all',
  'none',
  'user',
  'current_user',
  'session_user',
  'select',
  'table',
  'schema',
  'tenant',
  'tenants',
]);

/**
 * Throws `InvalidSlugError` unless `slug` is a valid tenant slug: lowercase ASCII letters, digits and `_`,
 * starting with a letter, at most 56 characters (so `tenant_` + slug fits 63 bytes), not reserved, not `pg_*`.
 * Returns the slug, narrowed to string.
 */
export function assertValidSlug(slug: unknown): string {
  if (typeof slug !== 'string') throw new InvalidSlugError(slug, 'a slug must be a string');
  if (slug.length === 0) throw new InvalidSlugError(slug, 'it is empty');
  if (slug.length > MAX_SLUG_LENGTH) {
    throw new InvalidSlugError(
      slug,
      `it is ${slug.length} characters long; the limit is ${MAX_SLUG_LENGTH} ` +
        `(PostgreSQL identifiers are at most ${MAX_IDENTIFIER_BYTES} bytes, including the "${TENANT_SCHEMA_PREFIX}" prefix)`,
    );
  }
  if (!SLUG_PATTERN.test(slug)) {
    const bad = [...slug].find((c) => !/[a-z0-9_]/.test(c));
    const reason =
      bad !== undefined
        ? `character ${JSON.stringify(bad)} is not allowed (only lowercase letters, digits and "_")`
        : 'it must start with a lowercase letter';
    throw new InvalidSlugError(slug, reason);
  }
  if (slug.startsWith('pg_')) throw new InvalidSlugError(slug, 'names starting with "pg_" are reserved by PostgreSQL');
  if (RESERVED_SLUGS.has(slug)) throw new InvalidSlugError(slug, 'this name is reserved');
  return slug;
}

/** True when `slug` passes `assertValidSlug`. */
export function isValidSlug(slug: unknown): slug is string {
  try {
    assertValidSlug(slug);
    return true;
  } catch {
    return false;
  }
}

/** The schema of a tenant: `tenant_{slug}`. Validates the slug first. */
export function schemaNameFor(slug: string): string {
  return TENANT_SCHEMA_PREFIX + assertValidSlug(slug);
}

/**
 * Throws `InvalidIdentifierError` unless `name` is a plain lowercase identifier of at most 63 bytes, and
 * returns it double-quoted, ready to place in SQL.
 */
export function quoteIdentifier(name: unknown): string {
  if (typeof name !== 'string') throw new InvalidIdentifierError(name, 'an identifier must be a string');
  if (!IDENTIFIER_PATTERN.test(name)) {
    throw new InvalidIdentifierError(name, 'only lowercase letters, digits and "_" are allowed, not starting with a digit');
  }
  if (Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES) {
    throw new InvalidIdentifierError(name, `it is longer than ${MAX_IDENTIFIER_BYTES} bytes`);
  }
  return `"${name}"`;
}

/**
 * The one guard for a value the library writes into SQL text as a literal instead of a parameter (a scope's
 * prelude and the fleet's scripts go as simple-protocol messages, which carry no parameters). Only what the
 * library itself derives from validated names passes: schema and role names, lock keys, migration names and
 * hex checksums, i.e. `[a-z0-9_:, ]`, which can hold no quote or backslash. Anything else throws
 * `InvalidIdentifierError`; nothing is sent.
 */
export function inlineLiteral(value: string): string {
  if (!/^[a-z0-9_:, ]*$/.test(value)) throw new InvalidIdentifierError(value, 'refusing to inline it into SQL as a literal');
  return `'${value}'`;
}
