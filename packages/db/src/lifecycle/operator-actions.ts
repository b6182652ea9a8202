import { getDatabase, type Database } from '../database/database.js';
import { redactSecrets } from '../errors/index.js';
import { registry } from './registry.js';

/** One recorded operator action (see `recordOperatorAction`). */
export interface OperatorAction {
  id: number;
  action: string;
  tenant: string | null;
  actor: string;
  outcome: 'ok' | 'failed';
  /** What happened: a summary, or the error's message (secrets redacted). */
  detail: string | null;
  at: Date;
}

/** What an operator did, to be recorded. */
export interface OperatorActionInput {
  action: string;
  tenant?: string;
  /** Who: the console records `console@<host>` with the operating-system user. */
  actor: string;
  outcome: 'ok' | 'failed';
  detail?: string;
}

/**
 * Appends an operator action to `public.operator_actions` (setup:database creates the table). The detail
 * passes through `redactSecrets()` first, so a connection string in an error message is never stored.
 *
 * @example
 * await recordOperatorAction({ action: 'suspend', tenant: 'acme', actor: 'console@ops1', outcome: 'ok' });
 */
export async function recordOperatorAction(input: OperatorActionInput, options: { db?: Database } = {}): Promise<void> {
  const db = options.db ?? getDatabase();
  await registry(
    db.sql`insert into public.operator_actions (action, tenant_slug, actor, outcome, detail)
      values (${input.action}, ${input.tenant ?? null}, ${input.actor}, ${input.outcome},
              ${input.detail === undefined ? null : redactSecrets(input.detail)})`,
  );
}

/** The most recent operator actions, newest first (at most `limit`, default 50), optionally of one tenant. */
export async function listOperatorActions(
  options: { db?: Database; tenant?: string; limit?: number } = {},
): Promise<OperatorAction[]> {
  const db = options.db ?? getDatabase();
  const limit = Math.min(500, Math.max(1, Math.trunc(options.limit ?? 50)));
  const { rows } = await registry(
    db.sql<{
      id: string | number;
      action: string;
      tenant_slug: string | null;
      actor: string;
      outcome: 'ok' | 'failed';
      detail: string | null;
      created_at: Date | string;
    }>`select id, action, tenant_slug, actor, outcome, detail, created_at from public.operator_actions
       where ${options.tenant ?? null}::text is null or tenant_slug = ${options.tenant ?? null}
       order by id desc limit ${limit}`,
  );
  return rows.map((r) => ({
    id: Number(r.id),
    action: r.action,
    tenant: r.tenant_slug,
    actor: r.actor,
    outcome: r.outcome,
    detail: r.detail,
    at: new Date(r.created_at),
  }));
}
