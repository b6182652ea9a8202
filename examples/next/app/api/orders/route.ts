import { createTenantCache, sql, withTenant } from '@cgk/db';
import { errorResponse, tenantOf } from '../../../lib/http';

// Every request reads its tenant's rows: never prerendered, always on the Node.js runtime.
export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

interface Order {
  id: string;
  order_number: string;
  total_cents: string;
}

/** The tenant's orders: one transaction in `tenant_{slug}`, as the tenant's own role. */
export async function GET(request: Request): Promise<Response> {
  try {
    const slug = tenantOf(request);
    const { orders, schema } = await withTenant(slug, async () => {
      const { rows } = await sql<Order>`select id, order_number, total_cents from orders order by order_number`;
      const {
        rows: [where],
      } = await sql<{ schema: string }>`select current_schema() as schema`;
      return { orders: rows, schema: where!.schema };
    });
    const cache = createTenantCache(slug);
    const hits = ((await cache.get<number>('order-reads')) ?? 0) + 1;
    await cache.set('order-reads', hits, 60);
    return Response.json({ tenant: slug, schema, orders, reads: hits });
  } catch (error) {
    return errorResponse(error);
  }
}

/** Adds an order to the tenant named by the request. */
export async function POST(request: Request): Promise<Response> {
  try {
    const slug = tenantOf(request);
    const body = (await request.json()) as { orderNumber?: unknown; totalCents?: unknown };
    const order = await withTenant(slug, async () => {
      const { rows } = await sql<Order>`
        insert into orders (order_number, currency, total_cents)
        values (${String(body.orderNumber)}, 'USD', ${Number(body.totalCents ?? 0)})
        returning id, order_number, total_cents`;
      return rows[0];
    });
    return Response.json(order, { status: 201 });
  } catch (error) {
    return errorResponse(error);
  }
}
