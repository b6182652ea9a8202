import type { Database } from '../database/database.js';

/**
 * Makes every later transaction of a single-connection database (the embedded PostgreSQL) read-only, for
 * tools that must only look (the operator console). A server database is made read-only at connection start
 * instead (`options=-c default_transaction_read_only=on` in its URL), since a pool's connections each start
 * their own session. Writes then fail with SQLSTATE 25006.
 */
export async function readOnlySession(db: Database): Promise<void> {
  await db.query({ text: 'set default_transaction_read_only = on' });
}
