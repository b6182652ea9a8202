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

/**
 * Throws `InvalidSlugError` unless `slug` is a valid tenant slug: lowercase ASCII letters, digits and `_`,
 * starting with a letter, at most 56 characters (so `tenant_` + slug fits 63 bytes). Returns the slug, narrowed
 * to string. No other name is refused: keywords (`select`, `user`, `table`) and `pg_x` included, because a
 * slug never reaches SQL alone. The schema is `tenant_{slug}` and the role `ct_{tag}_{slug}`, both plain
 * identifiers that are no keyword, start with no `pg_` and collide with nothing of PostgreSQL's or the
 * platform's. Each refusal says which rule would break: a longer name would be truncated by PostgreSQL (two
 * tenants could share a schema), another character or first letter would need quoting everywhere.
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
