import type { QueryResult, Session, Settled, Statement, Transaction } from '../drivers/types.js';
import { asMigrationError, FailedStep, rolledBack } from './failure.js';
import type { Migration } from './files.js';

/** Sending the runner's statements: several at once (pg pipelines them), and with the COMMIT that ends them. */

/** A statement with parameters, or a script run with exec (simple protocol, several statements). */
export type Step = Statement | { exec: string };

/** Sends every step without waiting for the previous answer, and settles each. */
export async function pipeline(on: Pick<Session, 'query' | 'exec'>, steps: readonly Step[]): Promise<Settled[]> {
  return Promise.all(
    steps.map(async (step): Promise<Settled> => {
      try {
        if ('exec' in step) {
          await on.exec(step.exec);
          return { ok: true, result: { rows: [], rowCount: 0, fields: [], command: '' } };
        }
        return { ok: true, result: await on.query(step) };
      } catch (error) {
        return { ok: false, error: error as Error };
      }
    }),
  );
}

/**
 * Sends `steps` and COMMIT in one round trip and waits for all of them. Throws `FailedStep` for the first
 * step that failed (the COMMIT then rolled back); otherwise the commit's own failure, or a `MigrationError`
 * when COMMIT answered anything but COMMIT. Resolves to the steps' results.
 */
export async function commitWith(
  tx: Transaction,
  steps: readonly Step[],
  schema: string,
  migration?: Migration,
): Promise<QueryResult[]> {
  const sent = pipeline(tx, steps);
  const commit = tx.commit().then(
    (tag) => ({ tag }),
    (error: unknown) => ({ error }),
  );
  const settled = await sent;
  const committed = await commit;
  const failed = settled.findIndex((s) => !s.ok);
  if (failed !== -1) throw new FailedStep(failed, (settled[failed] as { error: Error }).error);
  if ('error' in committed) throw asMigrationError(committed.error, schema, migration);
  if (committed.tag !== 'COMMIT') throw rolledBack(schema, committed.tag, migration);
  return settled.map((s) => (s as { result: QueryResult }).result);
}
