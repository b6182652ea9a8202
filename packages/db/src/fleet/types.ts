import type { Database } from '../database/database.js';
import type { CgkError } from '../errors/base.js';
import type { TenantStatus } from '../lifecycle/tenants.js';
import type { TenantSource } from '../migrations/fleet-source.js';
import type { Sql } from '../sql/tag.js';

/** The types of fleet runs: forEachTenant's options and results. */

/** The tenant a task runs for. */
export interface FleetTenant {
  slug: string;
  /** `tenant_{slug}`. */
  schema: string;
}

/**
 * The work done for each tenant: `sql` runs in the tenant's scope (its transaction, its path, its role; in a
 * no-transaction run, on a session with that path and role). Use the `sql` passed in, not a module-level one.
 */
export type TenantTask<T> = (sql: Sql, tenant: FleetTenant) => Promise<T> | T;

/** Which tenants a run covers. Nothing given: every tenant of the source. */
export interface FleetSelection {
  /**
   * These slugs only (validated first: a bad one throws `InvalidSlugError` before anything runs). A listed
   * slug that is not a tenant (no registry row or no schema) is a failed result (`CGK_TENANT_NOT_FOUND`).
   */
  tenants?: readonly string[];
  /** Only tenants with this status in `public.organizations`. */
  status?: TenantStatus;
  /** Where tenants are listed; default `'organizations'` (as `migrateTenants`). */
  source?: TenantSource;
}

/** Options of `forEachTenant` (and of `fleetTenants`, which uses the selection, `db`, `resume`, `pageSize`). */
export interface ForEachTenantOptions extends FleetSelection {
  /** The database; the process-wide one by default. */
  db?: Database;
  /**
   * Tenants run at once; default 4. Bounded by the pool (`pool_max`): one connection per tenant, plus the
   * run's lock and its records (so at most `pool_max - 2`); 1 on the embedded database.
   */
  concurrency?: number;
  /**
   * Default true: each tenant's work is one transaction (committed when `fn` resolves, rolled back when it
   * throws). False: `fn` gets a session with the tenant's path and role, each statement committing on its
   * own (CREATE INDEX CONCURRENTLY); such a tenant may run twice after a crash, so make the work idempotent.
   */
  transaction?: boolean;
  /** Resume this run: the tenants that succeeded in it are skipped; the selection is the recorded one. */
  resume?: string;
  /** What the run does, for its record (`fleet_runs.label`). */
  label?: string;
  /** What identifies the work (e.g. SHA-256 of the SQL); a resume with another digest is refused. */
  digest?: string;
  /** Default true: the run is recorded in `public.fleet_runs` (and can be resumed). */
  record?: boolean;
  /** Tenants per keyset page; default 500. */
  pageSize?: number;
  /** Called once the tenants are counted and the run recorded, before the first tenant runs. */
  onStart?: (run: FleetRunInfo) => void;
}

/** What a run is, once started. */
export interface FleetRunInfo {
  /** The run's id in `public.fleet_runs` (what `resume` takes); undefined with `record: false`. */
  id: string | undefined;
  resumed: boolean;
  /** Tenants this run will look at (on a resume: those that had not succeeded). */
  total: number;
  /** Tenants run at once, after the pool's bound. */
  concurrency: number;
  /**
   * How a tenant's success is recorded: `'atomic'`: a tenant whose transaction wrote anything is recorded
   * before its COMMIT with its transaction id, so a run killed at any point resumes exactly the rest;
   * `'after-commit'` (the embedded database, pools under 3 connections, no-transaction runs): recorded
   * right after, so a tenant that finished as the process died runs again on resume.
   */
  recording: 'atomic' | 'after-commit' | 'none';
}

/** One tenant's outcome. */
export interface TenantResult<T> {
  slug: string;
  schema: string;
  ok: boolean;
  /** What `fn` returned (ok only). */
  value?: T;
  /** Why it failed (not ok): a `CgkError` (a query's `CGK_QUERY` with its SQLSTATE, `CGK_EXEC_FAILED`, ...). */
  error?: CgkError;
  durationMs: number;
}
