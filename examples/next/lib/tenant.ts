import { getDatabase, getTenantFromRequest } from '@cgk/db';
import { headers } from 'next/headers';

/**
 * The tenant of the request being rendered or acted on, from `next/headers` (a Fetch `Headers`): the
 * `x-tenant-slug` header, or the subdomain of ROOT_DOMAIN (`acme.example.com` is tenant `acme`,
 * `my-store.example.com` is `my_store`). Null when the request names none.
 */
export async function currentTenantSlug(): Promise<string | null> {
  const rootDomain = process.env.ROOT_DOMAIN;
  return getTenantFromRequest(await headers(), rootDomain ? { rootDomain } : {});
}

// Kept on the Database object itself: this module too is copied into each chunk, so a map here would not do.
const ID = Symbol.for('cgk-example/database-id');
const LAST_ACTION = Symbol.for('cgk-example/last-action-database');

/**
 * An id of the process's default Database, for the example's test: the page and the server action are bundled
 * in different chunks, each with its own copy of @cgk/db, and must still share one Database (one pool).
 */
export function databaseId(): string {
  const db = getDatabase() as unknown as Record<symbol, string | undefined>;
  db[ID] ??= `${process.pid}:${Math.random().toString(36).slice(2, 10)}`;
  return db[ID];
}

/** Where the last server action ran: the id of its Database (the page shows it next to its own). */
export const lastAction: { databaseId?: string } = ((globalThis as Record<symbol, unknown>)[LAST_ACTION] ??= {}) as {
  databaseId?: string;
};
