import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { CgkError, DEFAULT_RESERVED_SUBDOMAINS, InvalidSlugError, getTenantFromRequest } from '../src/index.js';

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
    expect(() => getTenantFromRequest({ host: 'bad!name.shop.example.com' }, options)).toThrow(InvalidSlugError);
  });

  it('maps a hyphenated subdomain to its slug: "-" becomes "_"', () => {
    const options = { rootDomain: 'shop.example.com' };
    expect(getTenantFromRequest({ host: 'my-store.shop.example.com' }, options)).toBe('my_store');
    expect(getTenantFromRequest({ host: 'My-Big-Store.shop.example.com' }, options)).toBe('my_big_store');
    expect(() => getTenantFromRequest({ host: '1-store.shop.example.com' }, options)).toThrow(InvalidSlugError);
  });

  it('takes a Fetch Headers object itself (what next/headers gives a server component)', () => {
    const headers = new Headers({ host: 'acme.shop.example.com', 'x-tenant-slug': 'beta' });
    expect(getTenantFromRequest(headers)).toBe('beta');
    headers.delete('x-tenant-slug');
    expect(getTenantFromRequest(headers, { rootDomain: 'shop.example.com' })).toBe('acme');
  });

  it('resolves reserved subdomains to no tenant: www, api, ... by default, or the list given', () => {
    const options = { rootDomain: 'shop.example.com' };
    for (const name of ['www', 'api', 'admin']) {
      expect(getTenantFromRequest({ host: `${name}.shop.example.com` }, options)).toBeNull();
      expect(DEFAULT_RESERVED_SUBDOMAINS).toContain(name);
    }
    expect(getTenantFromRequest({ host: 'blog.shop.example.com' }, { ...options, reservedSubdomains: ['portal'] })).toBe('blog');
    expect(getTenantFromRequest({ host: 'portal.shop.example.com' }, { ...options, reservedSubdomains: ['portal'] })).toBeNull();
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

  it('ignores x-forwarded-host unless told a proxy sets it (#23 item 6); then reads it before host, its last value', () => {
    const options = { rootDomain: 'shop.example.com' };
    const trusted = { ...options, trustProxy: true };
    // A client sending X-Forwarded-Host picks nothing: the Host header decides.
    expect(getTenantFromRequest({ host: 'other.shop.example.com', 'x-forwarded-host': 'acme.shop.example.com' }, options)).toBe(
      'other',
    );
    expect(getTenantFromRequest({ 'x-forwarded-host': 'acme.shop.example.com' }, options)).toBeNull();
    expect(getTenantFromRequest({ host: 'other.shop.example.com', 'x-forwarded-host': 'acme.shop.example.com' }, trusted)).toBe(
      'acme',
    );
    // A proxy that appends puts its value last: the first came from the client.
    expect(getTenantFromRequest({ 'x-forwarded-host': 'evil.shop.example.com, acme.shop.example.com' }, trusted)).toBe('acme');
    expect(getTenantFromRequest({ 'x-forwarded-host': ['evil.shop.example.com', 'acme.shop.example.com'] }, trusted)).toBe(
      'acme',
    );
    expect(
      getTenantFromRequest(new Request('https://x/', { headers: { 'X-Forwarded-Host': 'b, acme.shop.example.com' } }), trusted),
    ).toBe('acme');
  });

  it('strips a port and a trailing dot, of the host and of the root domain (#23 item 9)', () => {
    const options = { rootDomain: 'shop.example.com' };
    expect(getTenantFromRequest({ host: 'acme.shop.example.com' }, { rootDomain: 'shop.example.com.' })).toBe('acme');
    expect(getTenantFromRequest({ host: 'acme.shop.example.com.' }, { rootDomain: 'shop.example.com.' })).toBe('acme');
    expect(getTenantFromRequest({ host: 'acme.shop.example.com.' }, options)).toBe('acme');
    expect(getTenantFromRequest({ host: 'acme.shop.example.com.:8443' }, options)).toBe('acme');
    expect(getTenantFromRequest({ host: 'acme.shop.example.com' }, { rootDomain: '.Shop.Example.com' })).toBe('acme');
    // A port is stripped only at the end: "acme:1" is not the label "acme".
    expect(() => getTenantFromRequest({ host: 'acme:1.shop.example.com' }, options)).toThrow(InvalidSlugError);
    // The root domain itself, or a host that only ends with the same letters, names no tenant.
    expect(getTenantFromRequest({ host: 'shop.example.com' }, options)).toBeNull();
    expect(getTenantFromRequest({ host: 'acmeshop.example.com' }, options)).toBeNull();
  });

  it('does not read the host without a root domain, and names the extra label when there are several', () => {
    expect(getTenantFromRequest({ host: 'acme.shop.example.com' })).toBeNull();
    expect(getTenantFromRequest({ host: 'acme.shop.example.com' }, { rootDomain: '' })).toBeNull();
    expect(() => getTenantFromRequest({ host: 'a.b.shop.example.com' }, { rootDomain: 'shop.example.com' })).toThrow(
      /"a\.b\.shop\.example\.com" has more than one label before shop\.example\.com/,
    );
  });

  it('takes a header named "headers" in a plain headers object for a header, not for the headers', () => {
    expect(getTenantFromRequest({ headers: 'text/plain', 'x-tenant-slug': 'acme' } as never)).toBe('acme');
    expect(getTenantFromRequest({ headers: null, 'x-tenant-slug': 'acme' } as never)).toBe('acme');
  });

  it('treats an absent value as no header, and joins repeated values before deciding', () => {
    expect(getTenantFromRequest({ 'x-tenant-slug': undefined })).toBeNull();
    expect(getTenantFromRequest({ 'x-tenant-slug': '' })).toBeNull();
    expect(getTenantFromRequest({ 'x-tenant-slug': ' , ' })).toBeNull();
    expect(getTenantFromRequest({ 'x-tenant-slug': ', acme' })).toBe('acme');
    expect(getTenantFromRequest({ 'x-tenant-slug': 'acme, acme' })).toBe('acme');
    expect(getTenantFromRequest({ 'x-tenant-slug': ' acme ' })).toBe('acme');
    expect(getTenantFromRequest({ 'x-tenant-slug': ['acme', ' acme'] })).toBe('acme');
    // A headers object whose get() returns undefined or several values (not a Fetch Headers, but close).
    const headers = (value: unknown) => ({ headers: { get: (name: string) => (name === 'x-tenant-slug' ? value : null) } });
    expect(getTenantFromRequest(headers(undefined) as never)).toBeNull();
    expect(getTenantFromRequest(headers(['acme', 'acme']) as never)).toBe('acme');
    // Two values are refused, not glued into one valid-looking slug.
    expect(() => getTenantFromRequest(headers(['acme', 'evil']) as never)).toThrow(/several different values/);
  });

  it('says which type a header value had, with a hint', () => {
    const error = (value: unknown) => {
      try {
        getTenantFromRequest({ 'x-tenant-slug': value } as never);
      } catch (e) {
        return e as CgkError;
      }
      throw new Error('accepted');
    };
    expect(error(['a', null]).message).toMatch(/must be a string \(or an array of strings\), not null$/);
    expect(error(42).message).toMatch(/, not number$/);
    expect(error(42).hint).toMatch(/Fetch Headers object/);
  });
});
