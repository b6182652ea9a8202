import { sql, withTenant } from '@cgk/db';
import { currentTenantSlug, databaseId, lastAction } from '../../lib/tenant';
import { addOrder } from './actions';

// Every request reads its tenant's rows: never prerendered.
export const dynamic = 'force-dynamic';

interface Order {
  order_number: string;
  total_cents: string;
}

/** A server component: the tenant's orders, read in its scope, and a form posting to the server action. */
export default async function OrdersPage() {
  const slug = await currentTenantSlug();
  if (!slug) return <p>Name a tenant (x-tenant-slug header, or a subdomain).</p>;
  const orders = await withTenant(slug, async () => {
    const { rows } = await sql<Order>`select order_number, total_cents from orders order by order_number`;
    return rows;
  });
  return (
    <main>
      <h1 data-tenant={slug}>Orders of {slug}</h1>
      <ul>
        {orders.map((order) => (
          <li key={order.order_number} data-order={order.order_number}>
            {order.order_number}: {order.total_cents}
          </li>
        ))}
      </ul>
      <form action={addOrder}>
        <input name="orderNumber" required />
        <input name="totalCents" type="number" defaultValue={0} />
        <button type="submit">Add</button>
      </form>
      <p data-page-database={databaseId()} data-action-database={lastAction.databaseId ?? ''} />
    </main>
  );
}
