'use server';

import { sql, withTenant } from '@cgk/db';
import { revalidatePath } from 'next/cache';
import { currentTenantSlug, databaseId, lastAction } from '../../lib/tenant';

/**
 * The server action behind the page's form: adds an order to the tenant the request names. Next.js bundles it
 * in a chunk of its own, with its own copy of @cgk/db; it still runs on the process's one Database.
 */
export async function addOrder(form: FormData): Promise<void> {
  const slug = await currentTenantSlug();
  if (!slug) throw new Error('x-tenant-slug header required');
  const orderNumber = String(form.get('orderNumber') ?? '');
  const totalCents = Number(form.get('totalCents') ?? 0);
  await withTenant(
    slug,
    () => sql`
    insert into orders (order_number, currency, total_cents) values (${orderNumber}, 'USD', ${totalCents})`,
  );
  lastAction.databaseId = databaseId();
  revalidatePath('/orders');
}
