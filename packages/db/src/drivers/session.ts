import { QueryError } from '../errors/index.js';
import { nodePostgresQuery, settle, toResult, type NodePostgresResult, type TypeParsers } from './results.js';
import type { EndOptions, Session, Settled, Statement, Transaction } from './types.js';

/**
 * Sessions and transactions over one checked-out connection, written once for every driver: a driver
 * supplies a `Session` (its connection, its error normalisation, its way of releasing), and `begin` and
 * `transactionOn` build the transaction on top of it.
 */

/** What a driver's session says after release(); drivers normalise it as a connection failure ("not queryable"). */
export const RELEASED = 'This connection was released and is not queryable';

/** The part of a node-postgres client (pg's, or the copy inside Neon's serverless driver) a session uses. */
export interface NodePostgresClient {
  query(
    query: string | ReturnType<typeof nodePostgresQuery>,
    values?: unknown[],
  ): Promise<NodePostgresResult | NodePostgresResult[]>;
  release(destroy?: boolean): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: 'error', listener: (error: Error) => void): unknown;
}

/**
 * A `Session` over a checked-out node-postgres client; errors go through `normalize`. After `release()`,
 * statements are refused with what `released()` returns (the client may already serve someone else).
 *
 * While checked out the client has an 'error' listener of ours: pg-pool listens only on idle clients, so a
 * connection the server ends between two statements (pg_terminate_backend, a restart, a failover,
 * idle_in_transaction_session_timeout) would otherwise kill the process with an unhandled 'error' event.
 * Later statements then fail with that error (not pg's "not queryable"), and the connection is destroyed on
 * release, never reused.
 * `parsers` are the client's default type parsers, for statements that ask for some types as text.
 */
export function clientSession(
  client: NodePostgresClient,
  normalize: (error: unknown) => Error,
  released: () => Error,
  parsers: TypeParsers,
): Session {
  let done = false;
  let lost: Error | undefined;
  const onError = (error: Error) => {
    lost ??= error;
  };
  client.on('error', onError);
  const failure = (error: unknown) => normalize(lost ?? error);
  return {
    async query(statement) {
      if (done) throw released();
      try {
        return toResult(await client.query(nodePostgresQuery(statement, parsers), statement.values as unknown[] | undefined));
      } catch (error) {
        throw failure(error);
      }
    },
    async exec(script) {
      if (done) throw released();
      try {
        await client.query(script);
      } catch (error) {
        throw failure(error);
      }
    },
    release(destroy = false) {
      if (done) return;
      done = true;
      // pg-pool puts its own listener back on release.
      client.removeListener('error', onError);
      client.release(destroy || lost !== undefined);
    },
  };
}

/**
 * The one transaction shape: statements on `session`, then exactly one of commit() / rollback(), which end the
 * transaction and release the session. A commit that fails, or a rollback that fails, destroys the connection
 * rather than hand a half-open transaction to the next user. `refusal` set: the transaction is known to be
 * aborted (a driver that did not send the rest of a failed prelude); statements are refused with its error
 * and commit() rolls back, answering `ROLLBACK` as PostgreSQL would. `oneMessage`: the session's query()
 * takes several parameterless statements in one text (node-postgres does, PGlite's does not), so a reset
 * rides with COMMIT / ROLLBACK at no extra round trip.
 */
export function transactionOn(session: Session, refusal?: () => Error, oneMessage = true): Transaction {
  let done = false;
  const ended = () => new QueryError('This transaction has already ended (commit() or rollback() was called)');
  return {
    async query(statement) {
      if (done) throw ended();
      if (refusal) throw refusal();
      return session.query(statement);
    },
    async exec(script) {
      if (done) throw ended();
      if (refusal) throw refusal();
      await session.exec(script);
    },
    async commit(options = {}) {
      if (done) throw ended();
      done = true;
      try {
        let tag = 'ROLLBACK';
        if (refusal) await rollbackWith(session, options.afterRollback, oneMessage);
        else tag = await commitWith(session, options, oneMessage);
        session.release(false);
        return tag;
      } catch (error) {
        session.release(true);
        throw error;
      }
    },
    async rollback(options = {}) {
      if (done) return;
      done = true;
      try {
        await rollbackWith(session, options.reset, oneMessage);
        session.release(false);
      } catch {
        session.release(true);
      }
    },
  };
}

/**
 * COMMIT, with `reset` run just before it: in one message (`reset; COMMIT`, answered by COMMIT's tag) where
 * the driver takes several statements in a query, else as a script then COMMIT. In a failed transaction the
 * reset is refused (25P02) and nothing after it runs: the transaction is then rolled back, as COMMIT would
 * have done, followed by `afterRollback`, and the answer is `ROLLBACK`.
 */
async function commitWith(session: Session, options: EndOptions, oneMessage: boolean): Promise<string> {
  const { reset, afterRollback } = options;
  if (!reset) return (await session.query({ text: 'COMMIT' })).command;
  try {
    if (oneMessage) return (await session.query({ text: `${reset};\nCOMMIT` })).command;
    await session.exec(reset);
  } catch (error) {
    if (!(error instanceof QueryError) || error.sqlState !== '25P02') throw error;
    await rollbackWith(session, afterRollback, oneMessage);
    return 'ROLLBACK';
  }
  return (await session.query({ text: 'COMMIT' })).command;
}

/** ROLLBACK, then `reset`: in the same message where the driver takes several statements in a query. */
async function rollbackWith(session: Session, reset: string | undefined, oneMessage: boolean): Promise<void> {
  if (reset && oneMessage) {
    await session.query({ text: `ROLLBACK;\n${reset}` });
    return;
  }
  await session.query({ text: 'ROLLBACK' });
  if (reset) await session.exec(reset);
}

/** How a driver sends a transaction's prelude. */
export interface BeginMode {
  /** Send every prelude statement without waiting for the previous answer (pg's pipeline mode). */
  pipelined: boolean;
  /** The error for a statement not sent because `cause` (an earlier one's failure) aborted the transaction. */
  aborted(cause: Error): Error;
}

/**
 * Opens a transaction on `session` and runs `prelude` in it. A parameterless first prelude statement rides
 * in BEGIN's own simple-protocol message (one message, no Parse/Bind round in the first flight). Pipelined,
 * the rest goes out at once; otherwise one statement at a time, and after a failure the rest is answered
 * here (PostgreSQL would refuse each with 25P02) instead of spending a wait on each. Rejects, releasing the
 * connection for good, only when the transaction could not be opened.
 */
export async function begin(
  session: Session,
  prelude: readonly Statement[],
  mode: BeginMode,
): Promise<{ tx: Transaction; results: Settled[] }> {
  const [head, ...rest] = prelude;
  const merged = head !== undefined && !head.values?.length;
  const tail = merged ? rest : prelude;
  const begun = session.query({ text: merged ? `BEGIN; ${head.text}` : 'BEGIN' });
  const sent = mode.pipelined ? tail.map((statement) => settle(session.query(statement), asError)) : undefined;
  const results: Settled[] = [];
  try {
    const answer = await begun;
    if (merged) results.push({ ok: true, result: answer });
  } catch (error) {
    if (!merged || !(error instanceof QueryError)) {
      if (sent) await Promise.allSettled(sent);
      session.release(true);
      throw error;
    }
    // The server rejected the prelude: the transaction is open and aborted (or, for a parse error of the
    // whole message, was never opened; the ROLLBACK that follows is then a harmless no-op). Report it like
    // any failed statement and keep the connection: the caller rolls back.
    results.push({ ok: false, error });
  }
  if (sent) return { tx: transactionOn(session), results: [...results, ...(await Promise.all(sent))] };
  for (const statement of tail) {
    const failed = results.find((r) => !r.ok);
    results.push(failed ? { ok: false, error: mode.aborted(failed.error) } : await settle(session.query(statement), asError));
  }
  const aborted = results.some((r) => !r.ok);
  return { tx: transactionOn(session, aborted ? () => mode.aborted(new Error('prelude failed')) : undefined), results };
}

function asError(error: unknown): Error {
  return error as Error;
}
