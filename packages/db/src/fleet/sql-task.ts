import { createHash } from 'node:crypto';
import type { Row } from '../sql/tag.js';
import { splitStatements } from '../sql/split.js';
import { NO_TRANSACTION_MARKER } from '../migrations/files.js';
import { FleetRunError } from './errors.js';
import type { TenantTask } from './types.js';

/** SQL text as a fleet task: `cgk tenant:exec --sql` and `--file`. */

/** What an SQL task resolves to for a tenant: its last statement's outcome. */
export interface SqlTaskResult {
  /** The last statement's command tag verb (UPDATE, SELECT, ...). */
  command: string;
  /** The last statement's row count (rows changed, or returned). */
  rowCount: number;
  /** The last statement's rows (empty for statements that return none). */
  rows: Row[];
  /** Statements run. */
  statements: number;
}

/** An SQL script ready to run on every tenant. */
export interface SqlTask {
  task: TenantTask<SqlTaskResult>;
  /** False when the script's first line is `-- cgk:no-transaction`: statements then run one by one, each committing. */
  transaction: boolean;
  statements: number;
  /** SHA-256 of the text, hex: what identifies the work for `resume`. */
  digest: string;
}

/**
 * Splits `text` into statements (where psql would) and makes the task that runs them in a tenant's scope, in
 * order; in a transaction the statements after the first are sent together (pipelined), and the first that
 * fails is the tenant's error. The script's first line `-- cgk:no-transaction` (the migrations' marker)
 * makes it run outside a transaction: one statement at a time, as CREATE INDEX CONCURRENTLY needs. Transaction
 * control (BEGIN, COMMIT, ...) is refused by the scope. Throws `FleetRunError` for a script with no statement.
 */
export function sqlTask(text: string): SqlTask {
  const statements = splitStatements(text).map((s) => s.text);
  if (statements.length === 0) {
    throw new FleetRunError('The SQL to run holds no statement', { hint: 'Give at least one SQL statement.' });
  }
  const transaction = text.split(/\r?\n/, 1)[0]?.trim() !== NO_TRANSACTION_MARKER;
  const digest = createHash('sha256').update(text).digest('hex');
  const task: TenantTask<SqlTaskResult> = async (sql) => {
    const [first, ...rest] = statements;
    let last = await sql.query(first!);
    if (transaction && rest.length > 0) {
      const settled = await Promise.allSettled(rest.map((s) => sql.query(s)));
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
      last = (settled.at(-1) as PromiseFulfilledResult<typeof last>).value;
    } else {
      for (const statement of rest) last = await sql.query(statement);
    }
    return { command: last.command, rowCount: last.rowCount, rows: last.rows, statements: statements.length };
  };
  return { task, transaction, statements: statements.length, digest };
}
