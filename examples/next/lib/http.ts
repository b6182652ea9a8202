import { CgkError, getTenantFromRequest } from '@cgk/db';

/** The tenant a request names (header `x-tenant-slug`); a missing one is a 400, like a malformed one. */
export function tenantOf(request: Request): string {
  const slug = getTenantFromRequest(request);
  if (!slug) throw new CgkError('CGK_INVALID_SLUG', 'x-tenant-slug header required');
  return slug;
}

/** HTTP status for the library's stable error codes: the caller's mistakes are 4xx, the rest 500. */
const STATUS: Partial<Record<string, number>> = {
  CGK_INVALID_SLUG: 400,
  CGK_TENANT_NOT_FOUND: 404,
  CGK_TENANT_EXISTS: 409,
};

/** A thrown error as an HTTP answer, with the library's code; anything unexpected is logged and is a 500. */
export function errorResponse(error: unknown): Response {
  const status = error instanceof CgkError ? STATUS[error.code] : undefined;
  if (error instanceof CgkError && status !== undefined) {
    return Response.json({ error: error.code, message: error.message }, { status });
  }
  console.error(error);
  return Response.json({ error: 'internal' }, { status: 500 });
}
