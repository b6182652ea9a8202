import type { Pool, NeonConfigGlobalAndClient, PoolConfig, QueryConfig } from '@neondatabase/serverless';
import { ConfigError, ConnectionError, redactSecrets } from '../errors/index.js';
import { loadOptional } from '../optional.js';
import { parsePoolSettings } from './pool-settings.js';
import { normalizeDriverError } from './errors.js';
import { poolError } from './pool-exhausted.js';
import { nodePostgresQuery, toResult } from './results.js';
import { begin, clientSession, RELEASED, type NodePostgresClient } from './session.js';
import type { Driver, QueryResult, Session, Statement } from './types.js';

// Optional peer dependencies, loaded with this module: the driver selection imports it only for the neon and
// vercel drivers. `ws` both need; the other two, each its own flavour (a missing one is reported on use).
const { default: ws } = await loadOptional('ws', () => import(/* webpackIgnore: true */ 'ws'));
const neon = await loadOptional(
  '@neondatabase/serverless',
  () => import(/* webpackIgnore: true */ '@neondatabase/serverless'),
).catch((error: unknown) => error as Error);
const vercel = await loadOptional('@vercel/postgres', () => import(/* webpackIgnore: true */ '@vercel/postgres')).catch(
  (error: unknown) => error as Error,
);

/** Options for the @vercel/postgres / @neondatabase/serverless driver. */
export interface NeonDriverOptions {
  connectionString: string;
  /** `vercel`: `createPool()` from @vercel/postgres; `neon`: the `Pool` of @neondatabase/serverless it wraps. */
  flavour: 'vercel' | 'neon';
  /**
   * A WebSocket→TCP relay to connect through instead of Neon's own proxy: `host:port` (plain `ws://`), or
   * `wss://host:port` for a relay behind TLS. The relay is asked for `/v2?address=<db host>:<db port>`.
   * Default: `CGK_NEON_WS_PROXY`; neither set (production) = Neon's proxy on the database host itself.
   */
  wsProxy?: string;
  /**
   * Neon's `coalesceWrites`: gather a turn's writes into one WebSocket message sent by a 0 ms timer. Default
   * here: false. In Node that timer waits at least 1 ms, on every statement (docs/BENCHMARKS.md has the
   * measurement). Off, each protocol message is its own small WebSocket frame, sent at once.
   */
  coalesceWrites?: boolean;
}

/**
 * The driver that production on Vercel/Neon uses: `@vercel/postgres` (flavour `vercel`), or the
 * `@neondatabase/serverless` Pool under it (flavour `neon`; @vercel/postgres is deprecated upstream in its
 * favour). Both speak the PostgreSQL protocol over a WebSocket, one connection per pooled client, and share
 * everything below. Only `pool.query(text, values)` and `pool.connect()` are used: `pool.sql` and the
 * package-level `sql` of @vercel/postgres go over HTTPS to Neon's SQL-over-HTTP endpoint, which no other
 * PostgreSQL has, and they cannot hold a transaction open across statements.
 *
 * Semantics are the pg driver's: plain statements outside scopes, `begin()` on one client in one
 * transaction, errors normalised to `QueryError` / `ConnectionError`, int8 and numeric as strings.
 *
 * Cost. Neon's client is node-postgres 8.8 over a WebSocket: it sends a statement only after the previous
 * one's ReadyForQuery (no pipelining), so every statement is one wait, one network round trip to Neon's
 * proxy. A tenant scope costs:
 *   - BEGIN + the parameterless prelude (`select set_config('search_path', ..., true), ...`): 1 wait, sent
 *     as one simple-protocol message `BEGIN; select ...`;
 *   - the first statement (Parse/Bind/Describe/Execute/Sync in one flight): 1 wait; each further one: 1;
 *   - COMMIT: 1.
 * So a one-query `withTenant` is 3 waits here: BEGIN, path, query and COMMIT one by one would be 4, and the pg
 * driver, which pipelines the first query behind BEGIN, needs 2 (docs/BENCHMARKS.md has the measurements). A
 * prelude statement that has parameters cannot ride in the simple-protocol message and costs 1 wait of its
 * own: this driver never turns a value into SQL text (the scope builds its prelude without parameters, from
 * identifiers it has validated). Reaching pg's 2 would take writing BEGIN + prelude and the first
 * statement's extended-protocol messages in one flight behind the client's back (a Submittable), which leans
 * on internals of the node-postgres copy bundled in Neon's client: not done.
 * Checking out an idle pooled connection costs nothing; opening one costs the WebSocket handshake and the
 * PostgreSQL startup (on Neon, startup and password go together: `pipelineConnect: 'password'`).
 */
export function createNeonDriver(options: NeonDriverOptions): Driver {
  const settings = parsePoolSettings(options.connectionString);
  const target = settings.redacted;
  const socket = {
    ...socketOptions(options.wsProxy ?? process.env.CGK_NEON_WS_PROXY),
    coalesceWrites: options.coalesceWrites ?? false,
  };
  const config: PoolConfig = {
    connectionString: settings.connectionString,
    max: settings.max,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    idleTimeoutMillis: settings.idleTimeoutMs,
    // An idle pool does not keep the process alive: a script ends after its last query.
    allowExitOnIdle: true,
    ...(settings.statementTimeoutMs === undefined ? {} : { statement_timeout: settings.statementTimeoutMs }),
  };
  const pool = options.flavour === 'vercel' ? vercelPool(config, target) : neonPool(config);
  // node-postgres' type parsers, from Neon's package (the one @vercel/postgres wraps) or, without it, @vercel/postgres.
  const { types } = neon instanceof Error ? loaded(vercel) : neon;
  configureClients(pool, socket);
  // An idle connection that the server drops must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  let ended = false;
  const shape = { target, max: settings.max, connectTimeoutMs: settings.connectTimeoutMs };
  const fail = (error: unknown): never => {
    throw poolError(error, pool, shape) ?? normalizeNeonError(error, target);
  };
  const run = async (client: Pool, statement: Statement): Promise<QueryResult> =>
    toResult(
      await client.query(nodePostgresQuery(statement, types) as string | QueryConfig, statement.values as unknown[] | undefined),
    );
  const normalize = (error: unknown) => normalizeNeonError(error, target);
  const acquire = async (): Promise<Session> => {
    const client = await pool.connect().catch(fail);
    return clientSession(client as unknown as NodePostgresClient, normalize, () => normalize(new Error(RELEASED)), types);
  };

  return {
    name: options.flavour,
    maxConnections: settings.max,
    async query(statement) {
      return run(pool, statement).catch(fail);
    },
    async exec(script) {
      await pool.query(script).catch(fail);
    },
    async begin(prelude) {
      // This client cannot pipeline: BEGIN + a parameterless prelude cost 1 wait, each further statement 1.
      return begin(await acquire(), prelude, { pipelined: false, aborted: (cause) => abortedBy(cause, target) });
    },
    acquire,
    async end() {
      if (ended) return;
      ended = true;
      // Ends every client: each sends Terminate and closes its WebSocket, so nothing keeps the process alive.
      await pool.end();
    },
  };
}

/**
 * The per-connection WebSocket settings for a relay. None (production): Neon's defaults, `wss://<host>/v2`
 * with the startup and password pipelined. With a relay: plain `ws://` to it unless it was given as
 * `wss://`, and no pipelined password (a local server may not ask for one: trust, SCRAM). Either way the
 * `ws` package is the WebSocket (Node 20 has no global one) and writes are not coalesced (see options).
 */
function socketOptions(wsProxy: string | undefined): Partial<NeonConfigGlobalAndClient> {
  const value = wsProxy?.trim();
  if (!value) return {};
  const match = /^(wss?:\/\/)?([^/?#\s@]+?)\/?$/.exec(value);
  if (!match) {
    throw new ConfigError(
      `WebSocket relay address (CGK_NEON_WS_PROXY / wsProxy) ${JSON.stringify(redactSecrets(value))} is not host:port`,
      'Give host:port of a WebSocket→TCP relay, e.g. CGK_NEON_WS_PROXY=localhost:8080 (or wss://relay.example:443), ' +
        "or unset it to use Neon's own proxy.",
    );
  }
  const relay = match[2]!;
  return {
    wsProxy: (host: string, port: number | string) => `${relay}/v2?address=${host}:${port}`,
    useSecureWebSocket: match[1] === 'wss://',
    pipelineConnect: false,
  };
}

/** A Neon client's socket: its per-connection settings, and the EventEmitter the pg connection listens to. */
type NeonSocket = NeonConfigGlobalAndClient & { emit(event: string | symbol, ...args: unknown[]): boolean };
type ClientClass = new (config?: unknown) => { neonConfig: NeonSocket };

/**
 * Applies the WebSocket settings to each client this pool creates (on its own socket, see the
 * `neonConfig` property of a Neon client) rather than to the global `neonConfig`: two drivers in one
 * process (a relay in tests, Neon in production) do not disturb each other, nor other code using Neon.
 *
 * It also turns the socket's WebSocket `ErrorEvent`s into `Error`s. Neon's socket re-emits ws's ErrorEvent
 * as is, and when the pool's connect timeout fires first, pg-pool assigns `err.message` on it, which is a
 * getter on an ErrorEvent: the TypeError is thrown inside an event handler and kills the process (seen
 * with a relay that accepts TCP and never answers the WebSocket handshake).
 */
function configureClients(pool: Pool, settings: Partial<NeonConfigGlobalAndClient>): void {
  const holder = pool as unknown as { Client: ClientClass };
  const Base = holder.Client;
  holder.Client = class extends Base {
    constructor(config?: unknown) {
      super(config);
      const socket = this.neonConfig;
      if (socket.webSocketConstructor === undefined) socket.webSocketConstructor = ws;
      Object.assign(socket, settings);
      const emit = socket.emit.bind(socket);
      socket.emit = (event, ...args) =>
        event === 'error' && !(args[0] instanceof Error)
          ? emit('error', webSocketError(args[0]), ...args.slice(1))
          : emit(event, ...args);
    }
  };
}

/** A WebSocket ErrorEvent (or anything else thrown at us) as a plain Error that keeps its message and cause. */
function webSocketError(event: unknown): Error {
  const { message, error } = (typeof event === 'object' && event !== null ? event : {}) as { message?: unknown; error?: unknown };
  const text =
    typeof message === 'string' && message !== '' ? message : error instanceof Error ? error.message : 'WebSocket error';
  const wrapped = new Error(text, { cause: error ?? event });
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') Object.assign(wrapped, { code });
  return wrapped;
}

/** An optional package this module loaded, or the ConfigError that says it is not installed. */
function loaded<T>(module: T | Error): T {
  if (module instanceof Error) throw module;
  return module;
}

/** The `Pool` of @neondatabase/serverless. */
function neonPool(config: PoolConfig): Pool {
  return new (loaded(neon).Pool)(config);
}

/** `createPool()` of @vercel/postgres, with its refusal of a non-pooled URL turned into a ConfigError. */
function vercelPool(config: PoolConfig, target: string): Pool {
  const { createPool } = loaded(vercel);
  try {
    return createPool(config);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new ConfigError(
      `@vercel/postgres refuses ${target}: ${redactSecrets((error as Error).message)}`,
      code === 'invalid_connection_string'
        ? 'It takes a pooled Neon URL (host with "-pooler.") or a host of exactly "localhost"; ' +
            'use CGK_DB_DRIVER=neon (or pg) for any other URL.'
        : undefined,
    );
  }
}

/** The error for a statement not sent because an earlier one failed: PostgreSQL's own 25P02, or the same connection failure. */
function abortedBy(cause: Error, target: string): Error {
  if (cause instanceof ConnectionError) return cause;
  return normalizeDriverError(
    { code: '25P02', message: 'current transaction is aborted, commands ignored until end of transaction block' },
    target,
  );
}

/**
 * normalizeDriverError, plus the failures only this transport has: the WebSocket could not be opened or was
 * refused by the proxy (ws reports those as an ErrorEvent or an `Unexpected server response`).
 */
function normalizeNeonError(error: unknown, target: string): Error {
  const message = (error as { message?: unknown } | null)?.message;
  const isEvent =
    typeof error === 'object' && error !== null && (error as { type?: unknown }).type === 'error' && 'target' in error;
  if (isEvent || (typeof message === 'string' && /WebSocket|Unexpected server response/i.test(message))) {
    const text = typeof message === 'string' && message !== '' ? message : 'the WebSocket connection failed';
    return new ConnectionError(`Cannot use PostgreSQL at ${target}: ${text}`, {
      cause: error,
      hint:
        'Check the connection string and that the database (or the WebSocket relay named by CGK_NEON_WS_PROXY) ' +
        'is reachable: npx @cgk/cli doctor',
    });
  }
  return normalizeDriverError(error, target);
}
