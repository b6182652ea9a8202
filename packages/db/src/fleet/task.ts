import type { Database } from '../database/database.js';
import type { Driver, Session } from '../drivers/types.js';
import { CgkError } from '../errors/base.js';
import { TenantNotFoundError } from '../errors/index.js';
import { createSql } from '../sql/tag.js';
import { TenantExecError } from './errors.js';
import type { RunRecorder } from './recorder.js';
import { schemaOf, type SelectedTenant } from './select.js';
import type { TenantResult, TenantTask } from './types.js';

/** One tenant's run: its scope (or session), the task, the record of its outcome. Never throws. */

/** What every tenant of a run shares. */
export interface TaskContext<T> {
  db: Database;
  driver: Driver;
  fn: TenantTask<T>;
  transaction: boolean;
  recorder: RunRecorder | undefined;
  /** Record a writing transaction before its COMMIT (see FleetRunInfo.recording). */
  atomic: boolean;
}

/** Runs `fn` for one tenant and records its outcome; a failure is a result, never an exception. */
export async function runTenant<T>(ctx: TaskContext<T>, tenant: SelectedTenant): Promise<TenantResult<T>> {
  const started = performance.now();
  const schema = schemaOf(tenant);
  let result: TenantResult<T>;
  try {
    if (tenant.schema === null) throw new TenantNotFoundError(tenant.slug);
    const value = ctx.transaction ? await inTransaction(ctx, tenant.slug, schema) : await inSession(ctx, tenant.slug, schema);
    result = { slug: tenant.slug, schema, ok: true, value, durationMs: performance.now() - started };
  } catch (error) {
    result = { slug: tenant.slug, schema, ok: false, error: asCgkError(error), durationMs: performance.now() - started };
  }
  ctx.recorder?.settle({
    slug: result.slug,
    ok: result.ok,
    durationMs: result.durationMs,
    ...(result.error ? { errorCode: result.error.code, errorMessage: result.error.message } : {}),
  });
  return result;
}

/**
 * The tenant's scope (withTenant: one transaction, its path and role). After `fn`, when the transaction has
 * written something (it has a transaction id), that id is recorded before the scope commits: see RunRecorder.intend.
 */
async function inTransaction<T>(ctx: TaskContext<T>, slug: string, schema: string): Promise<T> {
  return ctx.db.withTenant(slug, async (sql) => {
    const value = await ctx.fn(sql, { slug, schema });
    if (ctx.atomic && ctx.recorder) {
      const { rows } = await sql<{ xid: string | null }>`select pg_current_xact_id_if_assigned()::text as xid`;
      const xid = rows[0]?.xid;
      if (xid) await ctx.recorder.intend(slug, xid);
    }
    return value;
  });
}

/**
 * A no-transaction run: a connection of its own with the tenant's path and (set-role mode) role for the
 * session, each statement committing on its own; both are reset before the connection goes back. The path
 * is the one a scope's prelude sets (scope/tenant-scope.ts; fleet.test.ts compares them).
 */
async function inSession<T>(ctx: TaskContext<T>, slug: string, schema: string): Promise<T> {
  const role = ctx.db.tenantRoleMode === 'set-role' ? await ctx.db.tenantRoleName(slug) : undefined;
  const session = await ctx.driver.acquire();
  let healthy = false;
  try {
    const { rows } = await session.query({
      text: `select to_regnamespace($1) is not null as found,
             set_config('search_path', $1 || ', extensions, public', false) as path`,
      values: [schema],
    });
    if (rows[0]?.found !== true) throw new TenantNotFoundError(slug);
    if (role !== undefined) await session.query({ text: `select set_config('role', $1, false)`, values: [role] });
    const value = await ctx.fn(
      createSql((statement) => session.query(statement)),
      { slug, schema },
    );
    healthy = await reset(session);
    return value;
  } finally {
    if (!healthy) healthy = await reset(session);
    session.release(!healthy);
  }
}

async function reset(session: Session): Promise<boolean> {
  return session.exec('RESET ALL; SET SESSION AUTHORIZATION DEFAULT').then(
    () => true,
    () => false,
  );
}

/** A platform error as it is; anything else (a module's own throw) as `TenantExecError` with it as the cause. */
function asCgkError(error: unknown): CgkError {
  if (error instanceof CgkError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new TenantExecError(`The tenant's task failed: ${message}`, { cause: error });
}
