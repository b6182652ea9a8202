import { CgkError, InvalidSlugError } from '../errors/index.js';
import { assertValidSlug } from '../sql/identifier.js';

/** Header names are matched case-insensitively; this is the one read unless told otherwise. */
export const DEFAULT_TENANT_HEADER = 'x-tenant-slug';

/**
 * Subdomains that name no tenant by default: with `rootDomain`, a request to `www.example.com` or
 * `api.example.com` resolves to no tenant (`null`) rather than to tenant `www`. Replace the list with
 * `reservedSubdomains`.
 */
export const DEFAULT_RESERVED_SUBDOMAINS: readonly string[] = Object.freeze([
  'www',
  'api',
  'app',
  'admin',
  'auth',
  'login',
  'mail',
  'static',
  'assets',
  'cdn',
  'status',
  'docs',
  'blog',
  'help',
  'support',
]);

/** Where getTenantFromRequest() looks. */
export interface TenantRequestOptions {
  /** Header carrying the slug; default `x-tenant-slug`. */
  header?: string;
  /**
   * With e.g. `shop.example.com`, a request to `acme.shop.example.com` resolves to `acme` (the header wins if
   * both are present). Without it no subdomain is read. A trailing dot (`example.com.`) is allowed. The
   * subdomain maps to a slug by lowercasing it and turning each `-` into `_` (a DNS label cannot hold `_`, a slug
   * cannot hold `-`): `my-store.example.com` is tenant `my_store`.
   */
  rootDomain?: string;
  /** Subdomains that are not tenants (resolve to `null`); default `DEFAULT_RESERVED_SUBDOMAINS`. */
  reservedSubdomains?: readonly string[];
  /**
   * `true` when a proxy in front of the application sets `X-Forwarded-Host` (Vercel, most load balancers): the
   * host is then read from it (the last value of a list: the one the nearest proxy added). Otherwise that
   * header is ignored, since any client can send it. Default `false`.
   */
  trustProxy?: boolean;
}

/** The headers of a request: a Fetch `Headers` (what Next.js's `headers()` returns) or a plain record. */
export type TenantHeaders = { get(name: string): string | null } | Record<string, string | string[] | undefined>;

/** A Fetch `Request`/`NextRequest`, a Node `IncomingMessage`, a Fetch `Headers`, or a plain headers object. */
export type TenantRequest = { headers: TenantHeaders } | TenantHeaders;

/**
 * The tenant slug a request is for, or `null` when it names none. Reads the configured header, then (with
 * `rootDomain`) the subdomain of the Host header. A value that is present but not a valid slug throws
 * `InvalidSlugError` rather than silently returning null; two different values in one header throw too.
 *
 * @example
 * export async function GET(req: Request) {
 *   const slug = getTenantFromRequest(req);
 *   if (!slug) return new Response('tenant required', { status: 400 });
 *   return withTenant(slug, async () => Response.json((await sql`select * from orders`).rows));
 * }
 */
export function getTenantFromRequest(request: TenantRequest, options: TenantRequestOptions = {}): string | null {
  const read = headerReader(request);
  const fromHeader = read(options.header ?? DEFAULT_TENANT_HEADER);
  if (fromHeader !== null) return assertValidSlug(fromHeader.trim());
  if (options.rootDomain) {
    // X-Forwarded-Host only from a proxy the caller vouches for: a client can send any header.
    const host = (options.trustProxy === true ? read('x-forwarded-host') : null) ?? read('host');
    if (host) return subdomainOf(host, options.rootDomain, options.reservedSubdomains ?? DEFAULT_RESERVED_SUBDOMAINS);
  }
  return null;
}

function subdomainOf(hostHeader: string, rootDomain: string, reserved: readonly string[]): string | null {
  const host = hostHeader.trim().toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
  const root = rootDomain.trim().toLowerCase().replace(/^\./, '').replace(/\.$/, '');
  if (!host.endsWith(`.${root}`)) return null;
  const sub = host.slice(0, -(root.length + 1));
  if (reserved.some((name) => name.toLowerCase() === sub)) return null;
  if (sub.includes('.')) throw new InvalidSlugError(sub, `"${host}" has more than one label before ${root}`);
  // A DNS label cannot hold "_" and a slug cannot hold "-": my-store.example.com is tenant my_store.
  return assertValidSlug(sub.replaceAll('-', '_'));
}

function headerReader(request: TenantRequest): (name: string) => string | null {
  if (request === null || typeof request !== 'object') {
    throw new CgkError('CGK_INVALID_REQUEST', 'getTenantFromRequest() needs a Request, an IncomingMessage or a headers object');
  }
  const headers =
    'headers' in request && typeof request.headers === 'object' && request.headers !== null ? request.headers : request;
  if (typeof (headers as { get?: unknown }).get === 'function') {
    const fetchHeaders = headers as { get(name: string): unknown };
    return (name) => {
      const value = fetchHeaders.get(name);
      return value === null || value === undefined ? null : single(headerValues(value, name).join(','), name);
    };
  }
  const record = headers as Record<string, unknown>;
  return (name) => {
    const wanted = name.toLowerCase();
    // Every key spelled like the header, whatever its case: {'x-tenant-slug': 'a', 'X-Tenant-Slug': 'b'} is
    // one header sent twice, and two different values must be refused, not decided by key order.
    const values: string[] = [];
    for (const [key, value] of Object.entries(record)) {
      if (key.toLowerCase() !== wanted || value === undefined || value === null) continue;
      values.push(...headerValues(value, name));
    }
    return values.length === 0 ? null : single(values.join(','), name);
  };
}

/** A header's value as strings; anything else (a number, an object) is a malformed request, said so with a typed error. */
function headerValues(value: unknown, name: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  for (const item of list) {
    if (typeof item !== 'string') {
      throw new CgkError(
        'CGK_INVALID_REQUEST',
        `Header ${name} must be a string (or an array of strings), not ${item === null ? 'null' : typeof item}`,
        {
          hint: 'Pass the headers as they arrived (a Fetch Headers object, IncomingMessage.headers, a record of strings).',
        },
      );
    }
  }
  return list as string[];
}

/** A header repeated with different values is ambiguous: refuse it rather than pick one. */
function single(value: string | null, name: string): string | null {
  if (value === null) return null;
  const parts = [...new Set(value.split(',').map((part) => part.trim()))].filter((part) => part !== '');
  if (parts.length === 0) return null;
  // A proxy that appends to X-Forwarded-Host puts its value last; what comes before it came from the client.
  if (name.toLowerCase() === 'x-forwarded-host') return parts[parts.length - 1] ?? null;
  if (parts.length > 1) throw new InvalidSlugError(value, `header ${name} carries several different values`);
  return parts[0] ?? null;
}
