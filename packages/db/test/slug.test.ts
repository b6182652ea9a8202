import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_IDENTIFIER_BYTES, inlineLiteral } from '../src/sql/identifier.js';
import {
  InvalidSlugError,
  MAX_SLUG_LENGTH,
  assertValidSlug,
  isValidSlug,
  quoteIdentifier,
  schemaNameFor,
  InvalidIdentifierError,
} from '../src/index.js';
import { tagOfDatabase, tenantRoleName, tenantRoleNameForTag } from '../src/roles/tenant-role.js';

describe('tenant slugs', () => {
  it('accepts lowercase letters, digits and underscores starting with a letter', () => {
    for (const slug of [
      'acme',
      'a',
      'acme_store_2',
      'x1',
      'a'.repeat(MAX_SLUG_LENGTH),
      'select1',
      'order',
      'user1',
      '_'.replace('_', 'b_'),
    ]) {
      expect(assertValidSlug(slug)).toBe(slug);
      expect(schemaNameFor(slug)).toBe(`tenant_${slug}`);
    }
  });

  it('accepts keywords and names PostgreSQL reserves for itself: the schema and role names are prefixed', () => {
    for (const slug of ['select', 'user', 'table', 'pg_x', 'pg_catalog', 'public', 'information_schema', 'null', 'tenant']) {
      expect(assertValidSlug(slug)).toBe(slug);
      expect(schemaNameFor(slug)).toBe(`tenant_${slug}`);
      expect(quoteIdentifier(schemaNameFor(slug))).toBe(`"tenant_${slug}"`);
      expect(tenantRoleName(slug, 'db')).toMatch(new RegExp(`^ct_[0-9a-f]{8}_${slug}$`));
      expect(inlineLiteral(schemaNameFor(slug))).toBe(`'tenant_${slug}'`);
    }
  });

  it("keeps tenant_ + slug within PostgreSQL's 63-byte identifier limit", () => {
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

  it('refuses non-strings, saying so', () => {
    for (const value of [undefined, null, 42, {}, ['acme']]) {
      expect(() => assertValidSlug(value)).toThrow(InvalidSlugError);
      expect(() => assertValidSlug(value)).toThrow(/a slug must be a string/);
      expect(isValidSlug(value)).toBe(false);
    }
  });

  it('isValidSlug() is true exactly for what assertValidSlug() accepts', () => {
    for (const slug of ['acme', 'a', 'a'.repeat(MAX_SLUG_LENGTH)]) expect(isValidSlug(slug)).toBe(true);
    for (const slug of ['', 'Acme', 'a'.repeat(MAX_SLUG_LENGTH + 1), '_x', '9x']) expect(isValidSlug(slug)).toBe(false);
  });
});

describe('quoteIdentifier', () => {
  it('quotes plain identifiers and refuses anything that would need escaping', () => {
    expect(quoteIdentifier('tenant_acme')).toBe('"tenant_acme"');
    for (const bad of ['a"b', 'A', 'a b', '', '1a', 'a'.repeat(64), 'é'])
      expect(() => quoteIdentifier(bad)).toThrow(InvalidIdentifierError);
    expect(quoteIdentifier('_x1')).toBe('"_x1"');
    expect(quoteIdentifier('a'.repeat(63))).toBe(`"${'a'.repeat(63)}"`);
  });

  it('says why: not a string, a character that needs quoting, or too long', () => {
    // null would pass the pattern as the text "null": it must be refused for its type first.
    for (const value of [null, undefined, 42, ['abc']])
      expect(() => quoteIdentifier(value)).toThrow(/an identifier must be a string/);
    expect(() => quoteIdentifier('a-b')).toThrow(/only lowercase letters, digits and "_" are allowed/);
    expect(() => quoteIdentifier('a'.repeat(64))).toThrow(/longer than 63 bytes/);
  });
});

describe('inlineLiteral', () => {
  it('quotes names, lock keys and hex digests the library derives', () => {
    expect(inlineLiteral('tenant_acme')).toBe("'tenant_acme'");
    expect(inlineLiteral('1:ab12, 2:cd34')).toBe("'1:ab12, 2:cd34'");
    expect(inlineLiteral('')).toBe("''");
  });

  it('refuses anything else, wherever the odd character is', () => {
    for (const bad of ["a'b", "'x", "x'", 'x\\', 'Acme', 'a\nb', 'a;b', 'é']) {
      expect(() => inlineLiteral(bad), bad).toThrow(InvalidIdentifierError);
      expect(() => inlineLiteral(bad), bad).toThrow(/refusing to inline it into SQL as a literal/);
    }
  });
});

describe('tenant role names', () => {
  const tag = tagOfDatabase('cgk_app');

  it("fit PostgreSQL's 63-byte identifier limit for every slug length, so the server never truncates one", () => {
    for (let length = 1; length <= MAX_SLUG_LENGTH; length++) {
      const name = tenantRoleNameForTag('a'.repeat(length), tag);
      expect(Buffer.byteLength(name), `slug of ${length}`).toBeLessThanOrEqual(MAX_IDENTIFIER_BYTES);
    }
  });

  it('keep short slugs readable: ct_ + the database tag + _ + the slug itself', () => {
    expect(tenantRoleNameForTag('acme', tag)).toBe(`ct_${tag}_acme`);
    expect(tenantRoleNameForTag('a'.repeat(40), tag)).toBe(`ct_${tag}_${'a'.repeat(40)}`);
    expect(tenantRoleName('acme', 'cgk_app')).toBe(`ct_${tag}_acme`);
  });

  it('stay distinct for long slugs that share a long prefix (their first 40 characters + a hash of the whole slug)', () => {
    const prefix = 'shop_'.repeat(11); // 55 characters
    const slugs = [`${prefix}a`, `${prefix}b`, `${prefix.slice(0, 41)}x`, `${prefix.slice(0, 41)}y`, prefix.slice(0, 41)];
    const names = slugs.map((slug) => tenantRoleNameForTag(slug, tag));
    expect(new Set(names).size).toBe(slugs.length);
    // What the server would keep of each name: 63 bytes. They must stay distinct after that too.
    expect(new Set(names.map((n) => n.slice(0, MAX_IDENTIFIER_BYTES))).size).toBe(slugs.length);
    const hash = createHash('md5').update(`${prefix}a`).digest('hex').slice(0, 8);
    expect(names[0]).toBe(`ct_${tag}_${prefix.slice(0, 40)}_${hash}`);
  });

  it('carry the database tag: the same slug in two databases gets two roles', () => {
    expect(tenantRoleName('acme', 'cgk_dev')).not.toBe(tenantRoleName('acme', 'cgk_test'));
    expect(tagOfDatabase('cgk_dev')).toBe(createHash('md5').update('cgk_dev').digest('hex').slice(0, 8));
    expect(() => tenantRoleNameForTag('acme', 'xyz')).toThrow(/a database tag is 8 lowercase hex digits/);
    expect(() => tenantRoleNameForTag('Acme', tag)).toThrow(InvalidSlugError);
  });
});
