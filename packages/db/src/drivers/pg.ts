import pg from 'pg';
import { parsePoolSettings } from './pool-settings.js';
import { normalizeDriverError } from './errors.js';
import { pgSslSettings } from './ssl.js';
import { toResult } from './results.js';
import { begin, clientSession, RELEASED, type NodePostgresClient } from './session.js';
import type { Driver, QueryResult, Session, Statement } from './types.js';

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

  const run = async (client: pg.Pool, statement: Statement): Promise<QueryResult> => {
    const result = await client.query(statement.text, statement.values as unknown[] | undefined);
    return toResult(result);
  };
  const normalize = (error: unknown) => normalizeDriverError(error, target);
  const acquire = async (): Promise<Session> => {
    const client = await pool.connect().catch(fail);
    return clientSession(client as unknown as NodePostgresClient, normalize, () => normalize(new Error(RELEASED)));
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
      return begin(await acquire(), prelude, { pipelined: true, aborted: (cause) => cause });
    },
    acquire,
    async end() {
      if (ended) return;
      ended = true;
      await pool.end();
    },
  };
}
