import pg from 'pg';
import { parsePoolSettings } from './config.js';
import { normalizeDriverError } from './errors.js';
import { pgSslSettings } from './ssl.js';
import { isStatementError, settle, toResult } from './results.js';
import type { Driver, QueryResult, Settled, Statement, Transaction } from './types.js';

/** Options for the node-postgres driver. */
export interface PgDriverOptions {
  connectionString: string;
}

/**
 * The node-postgres driver, for any `postgres://` server (local, CI, self-hosted, Neon over TCP, PgBouncer).
 * Connections run in pg's pipeline mode: queued statements go out without waiting for the previous answer,
 * so `begin()` sends BEGIN and its prelude in one round trip. Each statement carries its own Sync, so one
 * failing statement does not swallow the answers of the others.
 */
export function createPgDriver(options: PgDriverOptions): Driver {
  const settings = parsePoolSettings(options.connectionString);
  const target = settings.redacted;
  const pool = new pg.Pool({
    ...pgSslSettings(settings.connectionString),
    // An idle pool does not keep the process alive: a script ends after its last query.
    allowExitOnIdle: true,
    max: settings.max,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    idleTimeoutMillis: settings.idleTimeoutMs,
    ...(settings.statementTimeoutMs === undefined ? {} : { statement_timeout: settings.statementTimeoutMs }),
    pipeline: true,
  } as pg.PoolConfig);
  // An idle connection that the server drops must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  let ended = false;
  const fail = (error: unknown): never => {
    throw normalizeDriverError(error, target);
  };

  const run = async (client: pg.Pool | pg.PoolClient, statement: Statement): Promise<QueryResult> => {
    const result = await client.query(statement.text, statement.values as unknown[] | undefined);
    return toResult(result);
  };

  return {
    name: 'pg',
    async query(statement) {
      return run(pool, statement).catch(fail);
    },
    async exec(script) {
      await pool.query(script).catch(fail);
    },
    async begin(prelude) {
      const client = await pool.connect().catch(fail);
      // A parameterless first prelude statement rides in BEGIN's own simple-protocol message: one message
      // and no Parse/Bind round in the first flight. The rest, and the caller's first query, are pipelined.
      const [head, ...rest] = prelude;
      const merged = head !== undefined && !head.values?.length;
      const begun = client.query(merged ? `BEGIN; ${head.text}` : 'BEGIN') as Promise<pg.QueryResult | pg.QueryResult[]>;
      const sent = (merged ? rest : prelude).map((statement) => settle(run(client, statement), (error) => normalizeDriverError(error, target)));
      let headResult: Settled | undefined;
      try {
        const answer = await begun;
        if (merged) headResult = { ok: true, result: toResult(answer) };
      } catch (error) {
        if (!merged || !isStatementError(error)) {
          await Promise.allSettled(sent);
          client.release(true);
          fail(error);
        }
        // The server rejected the prelude: the transaction is open and aborted (or, for a parse error of the
        // whole message, was never opened; the ROLLBACK that follows is then a harmless no-op). Report it like
        // any failed statement and keep the connection: the caller rolls back.
        headResult = { ok: false, error: normalizeDriverError(error, target) };
      }
      const results = await Promise.all(sent);
      return { tx: pgTransaction(client, target), results: headResult ? [headResult, ...results] : results };
    },
    async end() {
      if (ended) return;
      ended = true;
      await pool.end();
    },
  };
}

function pgTransaction(client: pg.PoolClient, target: string): Transaction {
  let done = false;
  const finish = (destroy: boolean) => {
    if (done) return;
    done = true;
    client.release(destroy);
  };
  return {
    async query(statement) {
      try {
        return toResult(await client.query(statement.text, statement.values as unknown[] | undefined));
      } catch (error) {
        throw normalizeDriverError(error, target);
      }
    },
    async exec(script) {
      try {
        await client.query(script);
      } catch (error) {
        throw normalizeDriverError(error, target);
      }
    },
    async commit() {
      try {
        const result = await client.query('COMMIT');
        finish(false);
        return result.command;
      } catch (error) {
        finish(true);
        throw normalizeDriverError(error, target);
      }
    },
    async rollback() {
      try {
        await client.query('ROLLBACK');
        finish(false);
      } catch {
        // The connection's state is unknown: destroy it rather than hand a half-open transaction to the next user.
        finish(true);
      }
    },
  };
}
