import type { Driver, QueryResult, Statement } from '../drivers/types.js';
import type { TenantRoleMode } from '../roles/mode.js';

/**
 * What a tenant scope needs of the database it runs on. `Database` implements it; the scope is written
 * against this interface so that the scope layer never imports the database module that sits above it.
 */
export interface ScopeOwner {
  /** The driver, opened on first use. */
  driver(): Promise<Driver>;
  /** One statement outside any scope. */
  query(statement: Statement): Promise<QueryResult>;
  readonly tenantRoleMode: TenantRoleMode;
  /** The database's tag once learned (see `Database.databaseTag`); the scope's prelude may set it. */
  databaseTag: string | undefined;
  /** Login mode: the secret tenant role passwords derive from. */
  tenantRoleSecret(): string;
  /** The role name of `slug` in this database. */
  tenantRoleName(slug: string): Promise<string>;
}
