import { describe, expect, it } from 'vitest';
import { InvalidSlugError, MAX_SLUG_LENGTH, assertValidSlug, isValidSlug, quoteIdentifier, schemaNameFor, InvalidIdentifierError } from '../src/index.js';

describe('tenant slugs', () => {
  it('accepts lowercase letters, digits and underscores starting with a letter', () => {
    for (const slug of ['acme', 'a', 'acme_store_2', 'x1', 'a'.repeat(MAX_SLUG_LENGTH), 'select1', 'order', 'user1', '_'.replace('_', 'b_')]) {
      expect(assertValidSlug(slug)).toBe(slug);
      expect(schemaNameFor(slug)).toBe(`tenant_${slug}`);
    }
  });

  it('keeps tenant_ + slug within PostgreSQL\'s 63-byte identifier limit', () => {
    expect(Buffer.byteLength(schemaNameFor('a'.repeat(MAX_SLUG_LENGTH)))).toBe(63);
    expect(() => assertValidSlug('a'.repeat(MAX_SLUG_LENGTH + 1))).toThrow(/limit is 56/);
  });

  it.each([
    ['upper case', 'Acme', /"A" is not allowed/],
    ['a hyphen', 'ac-me', /"-" is not allowed/],
    ['a space', 'ac me', /" " is not allowed/],
    ['a single quote', "ac'me", /"'" is not allowed/],
    ['a double quote', 'ac"me', /not allowed/],
    ['an injection attempt', 'acme;drop schema public', /";" is not allowed/],
    ['empty', '', /empty/],
    ['a leading digit', '1acme', /must start with a lowercase letter/],
    ['a leading underscore', '_acme', /must start with a lowercase letter/],
    ['non-ASCII', 'café', /"é" is not allowed/],
    ['a reserved name', 'public', /reserved/],
    ['a pg_ name', 'pg_catalog', /reserved by PostgreSQL/],
    ['information_schema', 'information_schema', /reserved/],
    ['a trailing newline', 'acme\n', /not allowed/],
  ])('refuses %s with a typed error and a hint', (_label, slug, reason) => {
    const error = (() => {
      try {
        assertValidSlug(slug);
      } catch (e) {
        return e;
      }
      throw new Error('accepted');
    })();
    expect(error).toBeInstanceOf(InvalidSlugError);
    expect(error).toMatchObject({ code: 'CGK_INVALID_SLUG' });
    expect((error as InvalidSlugError).message).toMatch(reason);
    expect((error as InvalidSlugError).hint).toMatch(/lowercase letters/);
    expect(isValidSlug(slug)).toBe(false);
  });

  it('refuses non-strings', () => {
    for (const value of [undefined, null, 42, {}, ['acme']]) expect(() => assertValidSlug(value)).toThrow(InvalidSlugError);
  });
});

describe('quoteIdentifier', () => {
  it('quotes plain identifiers and refuses anything that would need escaping', () => {
    expect(quoteIdentifier('tenant_acme')).toBe('"tenant_acme"');
    for (const bad of ['a"b', 'A', 'a b', '', '1a', 'a'.repeat(64), 'é']) expect(() => quoteIdentifier(bad)).toThrow(InvalidIdentifierError);
  });
});
