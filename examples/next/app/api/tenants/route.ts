import { createTenant, getDatabase, migrationStatus } from '@cgk/db';
import { errorResponse } from '../../../lib/http';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

/**
 * Creates a tenant: its schema and every tenant migration, run from inside the Next.js server bundle (the
 * migration SQL travels in @cgk/db's code, so nothing has to be copied next to the bundle).
 */
export async function POST(request: Request): Promise<Response> {
  try {
    const body = (await request.json()) as { slug?: unknown; name?: unknown };
    const { tenant, migrationsApplied } = await createTenant({ slug: String(body.slug), name: String(body.name ?? body.slug) });
    return Response.json({ slug: tenant.slug, migrationsApplied }, { status: 201 });
  } catch (error) {
    return errorResponse(error);
  }
}

/** Where the migrations stand: the public schema's and the fleet's, against the files shipped in @cgk/db. */
export async function GET(): Promise<Response> {
  try {
    const report = await migrationStatus(getDatabase());
    return Response.json({
      publicUpToDate: report.public.upToDate,
      publicPending: report.public.pending.length,
      tenants: report.tenants.total,
      tenantsPending: report.tenants.pending,
      latestTenantMigration: report.tenants.latest,
    });
  } catch (error) {
    return errorResponse(error);
  }
}
