import type { Database } from '../database/database.js';
import { QueryError } from '../errors/index.js';
import type { DoctorCheck } from './types.js';

/**
 * The doctor's `pending pool` check: how many tenants wait to be claimed by tenant:create (tenant:pending).
 * A registry from before pending tenants (public migration 008 not applied) has none, and says what to run.
 */
export async function checkPendingTenants(db: Database): Promise<DoctorCheck> {
  const name = 'pending pool';
  try {
    const { rows } = await db.sql<{ n: number }>`select count(*)::int as n from public.organizations where pending`;
    const n = rows[0]?.n ?? 0;
    return {
      name,
      status: 'ok',
      detail:
        n === 0
          ? 'none: tenant:create builds each tenant (npx @cgk/cli tenant:pending --count N builds some in advance)'
          : `${n} waiting to be claimed by tenant:create`,
    };
  } catch (error) {
    if (!(error instanceof QueryError) || (error.sqlState !== '42703' && error.sqlState !== '42P01')) throw error;
    if (error.sqlState === '42P01') {
      return {
        name,
        status: 'warn',
        detail: 'skipped: the platform tables have not been created',
        hint: 'Run: npx @cgk/cli setup:database',
      };
    }
    return {
      name,
      status: 'warn',
      detail: 'the registry has no pending column yet (public migration 008 not applied)',
      hint: 'Run: npx @cgk/cli migrate (or setup:database)',
    };
  }
}
