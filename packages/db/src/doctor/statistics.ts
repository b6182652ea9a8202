import type { Database } from '../database/database.js';
import { serverCapabilities } from '../stats/server.js';
import type { DoctorCheck } from './types.js';

/**
 * The `tenant stats` check: whether `tenant:stats` can rank tenants by their statements (pg_stat_statements,
 * grouped by each tenant's role) and, when it cannot, exactly how to enable it. Never a failure or a warning:
 * without the extension the ranking uses the tables' own counters (scans and rows written).
 */
export async function checkTenantStatistics(db: Database): Promise<DoctorCheck> {
  const name = 'tenant stats';
  try {
    const capabilities = await serverCapabilities(db.query.bind(db));
    if (capabilities.statements) {
      const detail = "pg_stat_statements: tenant:stats ranks tenants by their role's statements and time";
      return { name, status: 'ok', detail };
    }
    const how = capabilities.statementsHint;
    return {
      name,
      status: 'ok',
      detail: `from table counters (scans, rows written); for statements and their time per tenant, ${how}`,
    };
  } catch (error) {
    return { name, status: 'ok', detail: `from table counters only (${(error as Error).message})` };
  }
}
