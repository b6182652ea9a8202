import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';

/**
 * node:crypto, loaded when the console first needs it: a static import would be hoisted into the CLI's one-file
 * bundle and loaded by every `cgk --help` (tests/packaging.test.ts checks that it is not).
 */
function crypto(): typeof import('node:crypto') {
  return createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
}

/** The cookie that carries the access token after the first visit (HttpOnly, SameSite=Strict). */
export const COOKIE = 'cgk_console';

/** A fresh one-time access token: 32 random bytes, URL-safe. Printed once by `cgk console`, never stored. */
export function newToken(): string {
  return crypto().randomBytes(32).toString('base64url');
}

/** The CSRF token of a console session: derived from the access token, so it needs no storage. */
export function csrfToken(token: string): string {
  return crypto().createHmac('sha256', token).update('cgk-console-csrf').digest('base64url');
}

/** Constant-time comparison of two strings (different lengths are unequal without leaking where). */
export function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && crypto().timingSafeEqual(a, b);
}

/** The token a request presents: `Authorization: Bearer <token>`, the console's cookie, or `?token=` in the URL. */
export function presentedToken(request: IncomingMessage, url: URL): string | undefined {
  const auth = request.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice('Bearer '.length).trim();
  const cookie = (request.headers.cookie ?? '')
    .split(';')
    .map((part) => part.trim())
    .find((part) => part.startsWith(`${COOKIE}=`));
  if (cookie) return decodeURIComponent(cookie.slice(COOKIE.length + 1));
  return url.searchParams.get('token') ?? undefined;
}

/**
 * Whether a state-changing request comes from the console's own pages: its form carries the CSRF token, and the
 * browser's Origin (when sent) is the console's own address.
 */
export function fromOwnPage(request: IncomingMessage, form: URLSearchParams, token: string): boolean {
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `http://${request.headers.host ?? ''}`) return false;
  return sameSecret(form.get('csrf') ?? undefined, csrfToken(token));
}
