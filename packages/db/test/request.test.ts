import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { CgkError, InvalidSlugError, getTenantFromRequest } from '../src/index.js';

function incoming(headers: Record<string, string>): IncomingMessage {
  const message = new IncomingMessage(new Socket());
  message.headers = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return message;
}

describe('getTenantFromRequest', () => {
  it('reads x-tenant-slug from a Fetch Request', () => {
    expect(getTenantFromRequest(new Request('https://shop.example.com/', { headers: { 'X-Tenant-Slug': 'acme' } }))).toBe('acme');
  });

  it('reads it from a Node IncomingMessage', () => {
    expect(getTenantFromRequest(incoming({ 'X-Tenant-Slug': 'acme' }))).toBe('acme');
  });

  it('reads it from a plain headers object, case-insensitively', () => {
    expect(getTenantFromRequest({ 'X-TENANT-SLUG': 'acme' })).toBe('acme');
    expect(getTenantFromRequest({ headers: { 'x-tenant-slug': 'acme' } })).toBe('acme');
  });

  it('reads a configured header', () => {
    expect(getTenantFromRequest({ 'x-org': 'acme', 'x-tenant-slug': 'other' }, { header: 'x-org' })).toBe('acme');
  });

  it('returns null when no tenant is named', () => {
    expect(getTenantFromRequest(new Request('https://example.com/'))).toBeNull();
    expect(getTenantFromRequest(incoming({}))).toBeNull();
    expect(getTenantFromRequest({})).toBeNull();
    expect(getTenantFromRequest({ host: 'example.com' }, { rootDomain: 'shop.example.com' })).toBeNull();
    expect(getTenantFromRequest({ host: 'www.shop.example.com' }, { rootDomain: 'shop.example.com' })).toBeNull();
  });

  it('throws a typed error for an invalid slug instead of returning null', () => {
    expect(() => getTenantFromRequest({ 'x-tenant-slug': 'Acme' })).toThrow(InvalidSlugError);
    expect(() => getTenantFromRequest(new Request('https://x/', { headers: { 'x-tenant-slug': "a'; drop" } }))).toThrow(
      InvalidSlugError,
    );
    expect(() => getTenantFromRequest({ 'x-tenant-slug': ['acme', 'evil'] })).toThrow(/several different values/);
  });

  it('reads the subdomain of a configured root domain; the header wins', () => {
    const options = { rootDomain: 'shop.example.com' };
    expect(getTenantFromRequest(new Request('https://acme.shop.example.com/'), options)).toBeNull(); // Fetch Request has no Host header
    expect(getTenantFromRequest({ host: 'acme.shop.example.com:3000' }, options)).toBe('acme');
    expect(getTenantFromRequest(incoming({ Host: 'ACME.shop.example.com' }), options)).toBe('acme');
    expect(getTenantFromRequest({ host: 'acme.shop.example.com', 'x-tenant-slug': 'other' }, options)).toBe('other');
    expect(() => getTenantFromRequest({ host: 'a.b.shop.example.com' }, options)).toThrow(InvalidSlugError);
    expect(() => getTenantFromRequest({ host: 'bad-name.shop.example.com' }, options)).toThrow(InvalidSlugError);
  });

  it('refuses something that is not a request with CGK_INVALID_REQUEST, not a TypeError or a null', () => {
    for (const value of [null, undefined, 'x-tenant-slug: acme', 42, true]) {
      const error = (() => {
        try {
          getTenantFromRequest(value as never);
        } catch (e) {
          return e;
        }
        throw new Error(`accepted ${String(value)}`);
      })();
      expect(error).toBeInstanceOf(CgkError);
      expect(error).toMatchObject({ code: 'CGK_INVALID_REQUEST', message: expect.stringMatching(/needs a Request/) });
    }
  });

  it('refuses one header spelled twice with different case and different values', () => {
    expect(() => getTenantFromRequest({ 'x-tenant-slug': 'a', 'X-Tenant-Slug': 'b' })).toThrow(/several different values/);
    expect(() => getTenantFromRequest({ headers: { 'X-Tenant-Slug': 'b', 'x-tenant-slug': 'a' } })).toThrow(InvalidSlugError);
    // The same value twice is not ambiguous.
    expect(getTenantFromRequest({ 'x-tenant-slug': 'a', 'X-TENANT-SLUG': 'a' })).toBe('a');
  });

  it('gives a typed error, not a TypeError, for a header value that is not a string', () => {
    for (const value of [42, { slug: 'a' }, ['a', 7], true]) {
      let caught: unknown;
      try {
        getTenantFromRequest({ 'x-tenant-slug': value } as unknown as Record<string, string>);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(CgkError);
      expect((caught as CgkError).code).toBe('CGK_INVALID_REQUEST');
      expect((caught as CgkError).message).toMatch(/x-tenant-slug must be a string/);
    }
    const odd = { headers: { get: (name: string) => (name === 'x-tenant-slug' ? 42 : null) } };
    expect(() => getTenantFromRequest(odd as unknown as Request)).toThrow(
      expect.objectContaining({ code: 'CGK_INVALID_REQUEST' }),
    );
    expect(getTenantFromRequest({ 'x-tenant-slug': null } as unknown as Record<string, string>)).toBeNull();
  });
});
