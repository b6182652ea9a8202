import { CgkError, ConnectionError, QueryError } from '../errors/index.js';

/** SQLSTATE classes that mean "could not connect or authenticate", not "this statement is wrong". */
const CONNECTION_SQLSTATES = /^(08|28)|^(3D000|57P01|57P02|57P03|53300)$/;
const CONNECTION_ERRNOS = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

const NO_SSL_HINT =
  'The connection string asks for SSL (sslmode=...) but this server has none: for a local or CI server ' +
  'remove sslmode (or use sslmode=disable); a hosted server (Neon) needs SSL, so check the host.';

interface DriverErrorShape {
  code?: unknown;
  message?: unknown;
  detail?: unknown;
  constraint?: unknown;
  table?: unknown;
  schema?: unknown;
  position?: unknown;
  hint?: unknown;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/**
 * Turns whatever a driver threw into this library's typed errors: PostgreSQL's statement errors become
 * `QueryError` (keeping SQLSTATE, detail, constraint, position), failures to reach or log into the server
 * become `ConnectionError` naming `target` (a connection string with its password removed). Typed errors
 * pass through unchanged.
 */
export function normalizeDriverError(error: unknown, target: string): Error {
  if (error instanceof CgkError) return error;
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as DriverErrorShape;
  const message = text(e.message) ?? String(error);
  const code = text(e.code);
  // An errno like EPIPE has the shape of a SQLSTATE (five capitals): it is a broken connection, never a statement's error.
  const isSqlState = code !== undefined && /^[0-9A-Z]{5}$/.test(code) && !CONNECTION_ERRNOS.has(code);
  if (/does not support SSL/i.test(message)) {
    return new ConnectionError(`Cannot use PostgreSQL at ${target}: ${message}`, { cause: error, hint: NO_SSL_HINT });
  }
  if ((isSqlState && CONNECTION_SQLSTATES.test(code)) || (!isSqlState && isConnectionFailure(code, message))) {
    return new ConnectionError(`Cannot use PostgreSQL at ${target}: ${message}`, { cause: error });
  }
  if (isSqlState) {
    const position = typeof e.position === 'string' || typeof e.position === 'number' ? Number(e.position) : undefined;
    return new QueryError(
      message,
      {
        sqlState: code,
        detail: text(e.detail),
        constraint: text(e.constraint),
        table: text(e.table),
        schema: text(e.schema),
        position: Number.isFinite(position) ? position : undefined,
      },
      { cause: error, hint: text(e.hint) },
    );
  }
  return error instanceof Error ? error : new Error(message);
}

/** PostgreSQL's and PgBouncer's refusals of a password (28P01; PgBouncer's SCRAM failure is 08P01). */
export const REFUSED_PASSWORD = /password authentication failed|SASL authentication failed/i;

const CONNECTION_FAILURE_MESSAGE =
  /timeout expired|Connection terminated|connect ECONN|getaddrinfo|ECONNREFUSED|socket hang up|not queryable/i;

function isConnectionFailure(code: string | undefined, message: string): boolean {
  if (code !== undefined && CONNECTION_ERRNOS.has(code)) return true;
  return CONNECTION_FAILURE_MESSAGE.test(message);
}
