import { AsyncLocalStorage } from 'node:async_hooks';
import type { Statement, QueryResult } from '../drivers/types.js';
import type { Sql } from '../sql/tag.js';
import { processShared } from '../process/shared.js';

/** What the rest of the library needs to know about the tenant scope the current code runs in. */
export interface ActiveScope {
  readonly slug: string;
  /** The database the scope belongs to (compared by identity). */
  readonly owner: object;
  /** The scope's bound tag. */
  readonly sql: Sql;
  run(statement: Statement): Promise<QueryResult>;
}

/**
 * The scope of the current async context; set by withTenant(), read by the sql tag and the cache. One per
 * process (process/shared.ts): a scope opened by one copy of this module is the scope of every copy's `sql`.
 */
export const scopeStorage: AsyncLocalStorage<ActiveScope> = processShared(
  'scope-storage',
  () => new AsyncLocalStorage<ActiveScope>(),
);

/** The tenant scope the calling code runs in, or undefined outside any withTenant(). */
export function currentScope(): ActiveScope | undefined {
  return scopeStorage.getStore();
}

/** The slug of the tenant whose scope the calling code runs in, or undefined outside any withTenant(). */
export function currentTenant(): string | undefined {
  return scopeStorage.getStore()?.slug;
}
